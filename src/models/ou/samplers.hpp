#pragma once
// Particle side of the `ou` family (MATH.md §1): forward particles with the
// exact OU transition, and the fixed-step reverse samplers. Local
// computation only; a particle's trajectory depends on (seed, id) alone.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "twinflow/grid/grid_score.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/models/experiment.hpp"
#include "twinflow/rng/counter_rng.hpp"

namespace twinflow::ou {

enum class Scheme { kRelEi, kAbsEi, kEm, kPfOde };
Scheme parse_scheme(const std::string& name);

/// Source of ∇log p_σ for the reverse samplers.
class ScoreModel {
 public:
  virtual ~ScoreModel() = default;
  /// ∇log p_σ at MixtureScore::kBlock points stored by coordinate.
  virtual void score_block(double sigma, const double* x, double* s) = 0;
};

/// The closed-form score of the OU-evolved data mixture.
class ExactScore : public ScoreModel {
 public:
  explicit ExactScore(GaussianMixture data) : data_(std::move(data)) {}
  void score_block(double sigma, const double* x, double* s) override;

 private:
  GaussianMixture data_;
  double cached_sigma_ = -1;
  std::unique_ptr<MixtureScore> cached_;
};

/// ∇log p from PDE snapshots stored at the exact times the sampler asks for.
class PdeScore : public ScoreModel {
 public:
  void add(double t, const Box& box, const std::vector<double>& density);
  void score_block(double sigma, const double* x, double* s) override;

 private:
  std::map<double, GridScore> fields_;
  int dim_ = 1;
};

/// Forward OU particles: X_0 from the data law, then the exact transition
/// X_t = e^{−Δ} X_s + √(1 − e^{−2Δ}) Z between output times.
class ForwardSampler : public ParticleSampler {
 public:
  ForwardSampler(Ensemble ensemble, const GaussianMixture& data, std::uint64_t seed);
  void advance_to(std::int64_t index, double t) override;
  const Ensemble& ensemble() const override { return ens_; }

 private:
  Ensemble ens_;
  CounterRng rng_;
  double time_ = 0;
};

/// Reverse sampler Y_0 ~ γ^d, N steps of h = T/N, score at σ_k = T − k h.
/// REL-EI, ABS-EI and EM are all Y' = a Y + b s(σ_k, Y) + c Z (MATH.md §1);
/// the probability-flow ODE dY/ds = Y + s uses the explicit midpoint rule
/// (second order; scores at σ_k and σ_k − h/2, never at 0).
class ReverseSampler : public ParticleSampler {
 public:
  ReverseSampler(Ensemble ensemble, Scheme scheme, double horizon, std::int64_t steps,
                 std::shared_ptr<ScoreModel> score, std::uint64_t seed);
  void advance_to(std::int64_t step, double t) override;
  const Ensemble& ensemble() const override { return ens_; }
  /// Coefficients (a, b, c) of the SDE schemes for step h.
  static void coefficients(Scheme scheme, double h, double& a, double& b, double& c);

 private:
  void step_block(std::int64_t first, int n, std::int64_t k);
  Ensemble ens_;
  Scheme scheme_;
  double horizon_, h_;
  std::int64_t steps_, done_ = 0;
  std::shared_ptr<ScoreModel> score_;
  CounterRng rng_;
};

}  // namespace twinflow::ou
