#pragma once
// PDE side of the `ou` family: ∂_t p = ∇·(x p) + Δp (docs/ou.md (O2)) on the grid
// with zero-flux walls, in flux form.
#include <petscmat.h>

#include "twinflow/grid/grid.hpp"

namespace twinflow::ou {

/// Collective. The drift-diffusion operator of pde/flux_operator.hpp with
/// drift β = x: the Scharfetter–Gummel flux through a face at x_f is
///   J_f = [B(x_f h) p_left − B(−x_f h) p_right] / h,   B(z) = z / (e^z − 1),
/// exact for the equilibrium e^{−x²/2} profile across a face.
Mat assemble_fokker_planck(const Grid& grid);

}  // namespace twinflow::ou
