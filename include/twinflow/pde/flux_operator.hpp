#pragma once
// The finite-volume operator of a drift-diffusion equation in flux form,
//   ∂_t p = ∇·(∇p + b p),   zero-flux walls,
// with the drift b_a evaluated at the centre of each face normal to axis a:
// the Scharfetter–Gummel (exponentially fitted) flux through a face,
//   J_f = [B(b h) p_left − B(−b h) p_right] / h,   B(z) = z / (e^z − 1)
// (finite_volume.hpp). It is exact for the equilibrium profile across a
// face, second order in h, conservative (the columns sum to zero) and an
// M-matrix for any b h, so implicit Euler keeps p positive. b = x is the
// OU Fokker–Planck operator (docs/ou.md (O2)), b = 0 the heat equation, and
// b = −2∇log η the mean-field game's controlled Fokker–Planck operator
// (docs/mfg.md (M1), (M3)).
#include <petscmat.h>

#include <functional>

#include "twinflow/grid/grid.hpp"

namespace twinflow {

/// b_a at a face normal to `axis` whose centre is `face` (the grid's
/// dimension of coordinates).
using FaceDrift = std::function<double(int axis, const double* face)>;

/// Collective. L with (L p)_c = −Σ_faces ±J_f / h on the grid's DMDA.
Mat assemble_drift_diffusion(const Grid& grid, const FaceDrift& drift);

/// Collective. Overwrites the entries of L, made by assemble_drift_diffusion
/// on this grid, with those of another drift (a drift that changes in time).
void refill_drift_diffusion(const Grid& grid, const FaceDrift& drift, Mat L);

}  // namespace twinflow
