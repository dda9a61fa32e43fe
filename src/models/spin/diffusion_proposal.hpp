#pragma once
// Metropolis–Hastings with a diffusion model as the proposal (docs/spin.md
// (S14)). The model P_θ (any Mps) proposes x′ from the current
// state x in one of two ways:
//   direct     (T = 0) x′ ~ P_θ, independent of x;
//   connected  (T > 0) y ~ K_T(· | x) by independent flips for time T, then
//              x′ ~ P_θ(x′ | y) ∝ P_θ(x′) K_T(y | x′), the exact one-step
//              posterior of the noise under P_θ (an Mps of the same bonds).
// Both proposals have q(x′ | x) / q(x | x′) = P_θ(x′) / P_θ(x), so the
// acceptance min{1, π(x′) P_θ(x) / (π(x) P_θ(x′))} makes π reversible.
// Not collective.
#include <cstdint>
#include <vector>

#include "lattice_moves.hpp"
#include "mps.hpp"

namespace twinflow::spin {

class DiffusionProposal {
 public:
  /// noise_time T ≥ 0 (0: direct) of flips at rate gamma.
  DiffusionProposal(Mps model, double gamma, double noise_time);
  const Mps& model() const { return model_; }
  double noise_time() const { return noise_time_; }
  /// Draws x′ from x (uniforms from u: L for direct, 2L for connected) into
  /// proposal and returns log P_θ(x′).
  double propose(const std::uint8_t* x, UniformStream& u, std::uint8_t* proposal) const;
  /// The proposal law q(· | x) on all 2^L states (index of site 0 the most
  /// significant bit), for checks on small L (L ≤ 16).
  std::vector<double> proposal_law(const std::uint8_t* x) const;

 private:
  Mps model_;
  double noise_time_, flip_probability_;
};

/// One Metropolis–Hastings step of a chain at x (log π(x) = log_target, log
/// P_θ(x) = log_model, both updated): proposes, accepts with
/// min{1, π(x′) P_θ(x) / (π(x) P_θ(x′))} from one more uniform, returns
/// whether it moved.
bool diffusion_step(const DiffusionProposal& q, const LatticeMoves& target, std::uint8_t* x, double& log_target,
                    double& log_model, UniformStream& u, std::vector<std::uint8_t>& scratch);

}  // namespace twinflow::spin
