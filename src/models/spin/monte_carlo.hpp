#pragma once
// spin.mode = monte_carlo: Monte Carlo of the model's Boltzmann law π with a
// learned tensor-network diffusion model as the proposal, against the
// Monte Carlo a physicist would otherwise run (docs/spin.md
// (S12)–(S15)). The stages, in order:
//   metropolis  local Metropolis sweeps;
//   wolff       Wolff cluster updates (ising2d with J > 0, h = 0);
//   learn       rounds of sampling (a Metropolis sweep and a direct
//               proposal of the current P_θ per step) and training P_θ on
//               every sample so far (learned_mps.hpp);
//   direct      Metropolis–Hastings with x′ ~ P_θ;
//   connected   Metropolis–Hastings with the noise-and-denoise proposal,
//               once per noise time T of spin.connected.times.
// Every sampler runs the same chains, burn-in and recorded steps; its
// estimates (blocking), acceptance and effective samples per second go to
// /monte_carlo/<sampler>, beside the exact values from the model's MPS.
#include <mpi.h>

#include <memory>

#include "twinflow/models/experiment.hpp"

namespace twinflow::spin {

/// The keys of the monte_carlo mode.
void declare_monte_carlo(OptionSet& options);
/// Validates the keys of the mode (UsageError naming the key) and builds
/// its experiment. Collective.
std::unique_ptr<Experiment> make_monte_carlo(const Config& c, MPI_Comm comm);
/// The keys only the monte_carlo mode reads (refused by the twin mode).
const std::vector<std::string>& monte_carlo_keys();

}  // namespace twinflow::spin
