#pragma once
// Face fluxes shared by the finite-volume PDE solvers. Header-only, no MPI.
#include <algorithm>
#include <cmath>

namespace twinflow {

/// Monotonised-central limited slope from the two one-sided differences.
inline double mc_slope(double left, double right) {
  if (left * right <= 0) return 0;
  const double m = std::min({2 * std::abs(left), 2 * std::abs(right), 0.5 * std::abs(left + right)});
  return left > 0 ? m : -m;
}

/// Upwind MUSCL flux v·p̂ through the face between cells 0 and 1 of a line,
/// with p̂ the MC-limited linear reconstruction from the upwind side;
/// `at(o)` is the value of cell o for o in {−1, 0, 1, 2}.
template <class At>
double muscl_flux(double v, const At& at) {
  if (v > 0) return v * (at(0) + 0.5 * mc_slope(at(0) - at(-1), at(1) - at(0)));
  return v * (at(1) - 0.5 * mc_slope(at(1) - at(0), at(2) - at(1)));
}

/// B(z) = z / (e^z − 1), the Bernoulli function of the Scharfetter–Gummel flux.
inline double bernoulli(double z) {
  if (std::abs(z) < 1e-8) return 1.0 - 0.5 * z;
  return z / std::expm1(z);
}

/// Scharfetter–Gummel flux of ∂_t p = ∂_y(κ (∂_y p + β p)) through a face of
/// spacing h with β frozen at the face: the flux into the left cell is
/// from_right·p_R − from_left·p_L. It vanishes exactly on the discrete
/// equilibrium p_R/p_L = e^{−βh}, and is an M-matrix flux for any β h.
struct ScharfetterGummel {
  double from_right, from_left;
  ScharfetterGummel(double kappa, double beta, double h)
      : from_right(kappa * bernoulli(-beta * h) / h), from_left(kappa * bernoulli(beta * h) / h) {}
};

}  // namespace twinflow
