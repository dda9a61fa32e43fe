#pragma once
// The mfg family's potential on the grid: its Hamilton–Jacobi–Bellman
// residual and the game's running cost (docs/mfg.md (M1)–(M3)): Φ = 2β log η with η the PDE's
// solution of the heat equation ∂_τ η = β Δ_h η (τ = T − t), and
//   R = ∂_t Φ + ½|∇Φ|² + β ΔΦ,   ∂_t Φ = −2β ∂_τ η / η = −2β² Δ_h η / η,
// ∇Φ and ΔΦ by central differences of Φ. Cole–Hopf makes R vanish for the
// exact η; on the grid the chain rule holds only to O(h²), so R is a
// second-order quantity that measures how well the discrete η carries the
// game's potential.
#include <vector>

#include "twinflow/grid/grid.hpp"

namespace twinflow::mfg {

struct PotentialMeasures {
  double residual = 0;  ///< the η-weighted mean of |R|, Σ |R| η / Σ η (NaN when no cell qualifies)
  double kinetic = 0;   ///< ∫ ½|∇Φ|² η dx, the game's running cost at this time (ρ = η, docs/mfg.md (M3))
};

/// Collective over the grid's communicator. Both measures over the cells
/// whose neighbours all lie inside the box and where η is positive in the
/// cell and its neighbours; `owned` is η on this rank's block (C order,
/// Grid::owned_values), a probability density.
PotentialMeasures measure_potential(const Grid& grid, const std::vector<double>& owned, double beta);

}  // namespace twinflow::mfg
