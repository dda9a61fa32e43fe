#pragma once
// The finite-volume operator of a drift-diffusion equation in flux form,
//   ∂_t p = ∇·(∇p + β p),   zero-flux walls,
// with the drift β_a a function of the face coordinate along axis a: the
// Scharfetter–Gummel (exponentially fitted) flux through a face at x_f,
//   J_f = [B(β h) p_left − B(−β h) p_right] / h,   B(z) = z / (e^z − 1)
// (finite_volume.hpp). It is exact for the equilibrium profile across a
// face, second order in h, conservative (the columns sum to zero) and an
// M-matrix, so implicit Euler keeps p positive. β = x is the OU
// Fokker–Planck operator (README, (O2)), β = 0 the heat equation.
#include <petscmat.h>

#include <functional>

#include "twinflow/grid/grid.hpp"

namespace twinflow {

/// Collective. L with (L p)_c = −Σ_faces ±J_f / h on the grid's DMDA.
Mat assemble_drift_diffusion(const Grid& grid, const std::function<double(int axis, double face)>& drift);

}  // namespace twinflow
