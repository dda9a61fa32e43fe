#pragma once
// Particle side of the mfg family, for a terminal law H (the data law for
// the exact score, the training points' point masses for the empirical
// one). With τ = T − t the Cole–Hopf potential is η(·, t) = H * N(0, 2βτ I)
// (docs/mfg.md (M2), (M5)):
//   HeatForwardSampler  the heat process X_τ = X_0 + √(2βτ) Z from X_0 ~ H,
//                       whose law is η at τ (the density twin's clock);
//   BridgeSampler       the generative SDE dX = 2β ∇log η dt + √(2β) dW
//                       from X ~ η(·, 0) = H * N(0, 2βT I), N steps of T/N
//                       with the exact transition of heat_bridge.hpp.
// Local computation; a particle's path is a function of (seed, id) alone.
#include <cstdint>

#include "heat_bridge.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/models/experiment.hpp"
#include "twinflow/rng/counter_rng.hpp"

namespace twinflow::mfg {

/// H * N(0, variance I): every covariance plus variance times I.
GaussianMixture heat_marginal(const GaussianMixture& h, double variance);

class HeatForwardSampler : public ParticleSampler {
 public:
  HeatForwardSampler(Ensemble ensemble, const GaussianMixture& terminal, double beta, std::uint64_t seed);
  void advance_to(std::int64_t index, double tau) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;

 private:
  Ensemble ens_;
  double beta_;
  CounterRng rng_;
  double time_ = 0;
};

class BridgeSampler : public ParticleSampler {
 public:
  BridgeSampler(Ensemble ensemble, const GaussianMixture& terminal, double beta, double horizon, std::int64_t steps,
                std::uint64_t seed);
  void advance_to(std::int64_t step, double s) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;

 private:
  Ensemble ens_;
  HeatBridge bridge_;
  double horizon_;
  std::int64_t steps_, done_ = 0;
  CounterRng rng_;
};

}  // namespace twinflow::mfg
