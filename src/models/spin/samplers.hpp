#pragma once
// The particle side of the spin family (docs/spin.md (S6)–(S8)):
// configurations of L sites, one unit each, drawn and moved exactly.
//   ExactSampler   fresh autoregressive samples of P_t at every output (at
//                  t = 0 the direct samples of P_0);
//   ForwardFlips   X_0 ~ P_0, then every site flips with probability
//                  (1 − e^{−2γΔt})/2 over each output interval (the exact
//                  transition of independent flips at rate γ);
//   ReverseJumps   Y_0 ~ P_T, then the reverse jump process with the rates
//                  of S6, simulated exactly by thinning (S7);
//   BayesDenoiser  Y_0 ~ P_T, and at output s the exact posterior sample of
//                  X_{T−s} given X_T = Y_0 (S8).
// Randomness is keyed by (seed, stream, configuration id, output or event),
// so a configuration's history does not depend on the rank that owns it.
// Only checkpoint() is collective.
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "mps.hpp"
#include "twinflow/models/experiment.hpp"
#include "twinflow/rng/counter_rng.hpp"

namespace twinflow::spin {

/// The noised law P_t = e^{t𝕎}P_0 as an MPS (S2). Not collective.
class NoisedLaw {
 public:
  NoisedLaw(Mps data, double gamma) : data_(std::move(data)), gamma_(gamma) {}
  const Mps& data() const { return data_; }
  double gamma() const { return gamma_; }
  /// P_t (t = 0: the data law itself).
  Mps at(double t) const { return t == 0 ? data_ : data_.channel(flip_kernel(gamma_, t)); }

 private:
  Mps data_;
  double gamma_;
};

/// n uniforms in (0, 1] for (id, step), four from each Philox block. Not collective.
void uniforms(const CounterRng& rng, std::uint64_t id, std::uint64_t step, int n, double* out);
/// Configuration u of an ensemble as one byte per site, and back.
void unpack(const Ensemble& e, std::int64_t u, std::uint8_t* x);
void pack(Ensemble& e, std::int64_t u, const std::uint8_t* x);

class ExactSampler : public ParticleSampler {
 public:
  /// Outputs at noise times t = clock, or t = horizon − clock when
  /// `reverse_clock` (beside a reverse sampler).
  ExactSampler(Ensemble units, const NoisedLaw& law, std::uint64_t seed, bool reverse_clock = false,
               double horizon = 0);
  void advance_to(std::int64_t index, double t) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;

 private:
  Ensemble ens_;
  const NoisedLaw& law_;
  CounterRng rng_;
  bool reverse_clock_;
  double horizon_;
};

class ForwardFlips : public ParticleSampler {
 public:
  ForwardFlips(Ensemble units, const NoisedLaw& law, std::uint64_t seed);
  void advance_to(std::int64_t index, double t) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;

 private:
  Ensemble ens_;
  double gamma_;
  CounterRng rng_;
  double time_ = 0;
};

/// The reverse jump process in s ∈ [0, S], S = T − t_min: site i of Y flips
/// at rate γ P_{T−s}(Y^{(i)})/P_{T−s}(Y).
class ReverseJumps : public ParticleSampler {
 public:
  ReverseJumps(Ensemble units, const NoisedLaw& law, double horizon, std::uint64_t seed);
  void advance_to(std::int64_t index, double s) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;
  /// Candidate events drawn and flips accepted on this rank so far.
  std::int64_t candidates() const { return candidates_; }
  std::int64_t flips() const { return flips_; }

  /// Expected candidates per window of the thinning: a window is halved
  /// until its bound times its remaining length is at most this.
  static constexpr double kCandidatesPerWindow = 4;
  /// Halvings of an output interval before the bound is declared unusable.
  static constexpr int kDeepestWindow = 48;

 private:
  // Moves configuration y from s to b in the window [a, b] ∋ s (dyadic
  // halves of the output interval, so their bounds are shared).
  void run(std::uint64_t id, std::uint8_t* y, std::int64_t& events, double s, double a, double b, int depth);
  // γ Σ_i of an upper bound on the rate of site i over [a, b], through the
  // kernels of S7 (+inf when P may vanish at y in the window).
  double rate_bound(const std::uint8_t* y, double a, double b);
  Ensemble ens_;
  const NoisedLaw& law_;
  double horizon_;
  CounterRng rng_;
  std::vector<std::int64_t> events_;
  /// The bounding laws (upper, lower) of the windows of the current interval.
  std::map<std::pair<double, double>, std::pair<Mps, Mps>> bounds_;
  double s_ = 0;
  std::int64_t candidates_ = 0, flips_ = 0;
};

class BayesDenoiser : public ParticleSampler {
 public:
  BayesDenoiser(Ensemble units, const NoisedLaw& law, double horizon, std::uint64_t seed);
  void advance_to(std::int64_t index, double s) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;

 private:
  Ensemble ens_;
  const NoisedLaw& law_;
  double horizon_;
  CounterRng rng_;
  std::vector<std::uint64_t> noised_;  ///< X_T of every configuration, packed like ens_.bits
};

/// Draws the start of a reverse sampler, Y_0 ~ P_T, into e.
void draw_noised(Ensemble& e, const NoisedLaw& law, double horizon, std::uint64_t seed);

}  // namespace twinflow::spin
