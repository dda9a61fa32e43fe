#pragma once
// The forward equation of the mean-field game's optimality system
// (docs/mfg.md (M1), (M3)) on the grid, in the game's clock t:
//   ∂_t ρ + ∇·(ρ ∇Φ) = β Δρ,   Φ = 2β log η(·, t),   ρ_0 = η(·, 0),
// with the Cole–Hopf potential η(·, t) = H * N(0, 2β(T − t) I) of a score's
// terminal law H in closed form. In the flux form of flux_operator.hpp it is
// ∂_t ρ = β ∇·(∇ρ + b ρ) with b = −∇Φ/β = −2∇log η, a drift that changes in
// time, refilled at every stage time of the shared linear evolution (ARKIMEX
// L2). Its exact solution is ρ_t = η(·, t) for every β (M3), so the
// generated density ρ_T is H: the data law π for the exact score at β = ½.
#include <memory>

#include "twinflow/grid/grid.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/pde/linear_evolution.hpp"

namespace twinflow::mfg {

/// The terminal law as the grid carries it: H with every zero variance
/// (a point mass, or a component flat along an axis) replaced by a cell's
/// h_a²/12 (the variance of the uniform law on the cell), so that η stays
/// finite at t = T. Not collective.
GaussianMixture grid_terminal(const GaussianMixture& terminal, const Box& box);

/// The PETSc options of the controlled solver: -controlled_ts_type,
/// -controlled_ksp_rtol, -controlled_pc_type, ... (the heat PDE's are
/// unprefixed).
inline constexpr const char* kControlledOptionsPrefix = "controlled_";

/// Collective. The controlled Fokker–Planck solver from the cell averages
/// of ρ_0 = η(·, 0) = H * N(0, 2βT I), with steps no longer than dt; H =
/// `terminal` must have no zero variance (pass it through grid_terminal).
/// `grid` must outlive it, and no other TS may use its DM (a TS keeps its
/// callbacks on its DM).
std::unique_ptr<LinearEvolution> controlled_fokker_planck(const Grid& grid, const GaussianMixture& terminal,
                                                          double beta, double horizon, double dt);

}  // namespace twinflow::mfg
