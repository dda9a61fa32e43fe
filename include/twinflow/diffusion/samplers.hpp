#pragma once
// Particle side of a linear diffusion (linear_diffusion.hpp): forward
// particles with the exact transition, the score fields, and the fixed-step
// reverse sampler. Local computation, but for the preparation of a score
// taken from the field store (collective); a particle's trajectory depends
// on (seed, id) alone, never on the rank that owns it.
#include <map>
#include <memory>
#include <vector>

#include "twinflow/diffusion/fixed_step.hpp"
#include "twinflow/grid/grid_score.hpp"
#include "twinflow/models/experiment.hpp"
#include "twinflow/run/field_store.hpp"
#include "twinflow/rng/counter_rng.hpp"

namespace twinflow {

/// The closed-form score of the forward marginal of mixture data.
class MixtureMarginalScore : public ScoreField {
 public:
  MixtureMarginalScore(LinearDiffusion diffusion, GaussianMixture data)
      : diffusion_(std::move(diffusion)), data_(std::move(data)) {}
  void score_block(double sigma, const double* x, double* s) override;

 private:
  LinearDiffusion diffusion_;
  GaussianMixture data_;
  double cached_sigma_ = -1;
  std::unique_ptr<MixtureScore> cached_;
};

/// ∇log p of the PDE density the field store holds (as "density") at the
/// exact times the sampler asks for: prepare(σ) gathers the density at σ
/// and builds its GridScore; only the fields of the current step are kept.
class PdeScore : public ScoreField {
 public:
  PdeScore(const FieldStore& store, const GridSpace& grid) : store_(store), grid_(grid) {}
  void prepare(double sigma) override;
  void score_block(double sigma, const double* x, double* s) override;

 private:
  /// Keeps log p well above the round-off of the solver.
  static constexpr double kRelativeFloor = 1e-10;
  const FieldStore& store_;
  const GridSpace& grid_;
  std::map<double, GridScore> fields_;  ///< the prepared times (at most two: pf-ode's midpoint)
};

/// Forward particles: Z_0 from diffusion.initial_law(data) (X_0 from the data
/// law, the other coordinates from γ), then the exact transition
/// Z_t = e^{ΔA} Z_s + L ξ, L Lᵀ = I − e^{ΔA} e^{ΔAᵀ}, between output times.
class LinearForwardSampler : public ParticleSampler {
 public:
  LinearForwardSampler(Ensemble ensemble, LinearDiffusion diffusion, const GaussianMixture& data,
                       std::uint64_t seed);
  void advance_to(std::int64_t index, double t) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;

 private:
  Ensemble ens_;
  LinearDiffusion diffusion_;
  CounterRng rng_;
  double time_ = 0;
};

/// Y_0 ~ γ^n, then N steps Y' = map(Y) + L Z of a FixedStepScheme.
class FixedStepSampler : public ParticleSampler {
 public:
  FixedStepSampler(Ensemble ensemble, FixedStepScheme scheme, std::shared_ptr<ScoreField> score,
                   std::uint64_t seed);
  void advance_to(std::int64_t step, double t) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;

 private:
  void step_block(std::int64_t first, int n, std::int64_t k);
  Ensemble ens_;
  FixedStepScheme scheme_;
  std::shared_ptr<ScoreField> score_;
  CounterRng rng_;
  std::int64_t done_ = 0;
};

}  // namespace twinflow
