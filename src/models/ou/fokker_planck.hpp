#pragma once
// PDE side of the `ou` family: ∂_t p = ∇·(x p) + Δp (MATH.md §1) on the grid
// with zero-flux walls, in flux form.
#include <petscmat.h>

#include "twinflow/grid/grid.hpp"

namespace twinflow::ou {

/// Collective. Assembles L with (L p)_c = −Σ_faces ±J_f / h, where the
/// Scharfetter–Gummel (exponentially fitted) flux through the face at x_f is
///   J_f = [B(x_f h) p_left − B(−x_f h) p_right] / h,   B(z) = z / (e^z − 1)
/// (pde/finite_volume.hpp). It is exact for the equilibrium e^{−x²/2} profile across a face, second
/// order in h, conservative (columns of L sum to zero) and L is an M-matrix,
/// so implicit Euler keeps p positive.
Mat assemble_fokker_planck(const Grid& grid);

}  // namespace twinflow::ou
