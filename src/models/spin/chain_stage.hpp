#pragma once
// Markov chains on the spin lattices as a stage of a run (docs/spin.md
// (S12)–(S15)). C chains, each a configuration of L sites, are split
// over the ranks by chain id; chain c at step n draws its uniforms from the
// stream keyed by (seed, stream, c, n), so every chain is the same at any
// rank count. A stage runs its chains once per setting (the noise times T
// of the connected proposal; one setting for the other samplers): from the
// model's start state, `burn_in` steps unrecorded, then `steps` steps whose
// observables form each chain's series. At the end of a setting the series
// of all chains are gathered in chain order and estimated by blocking
// (chain_statistics.hpp), identically on every rank. Every step is a step
// boundary; a checkpoint holds the chains, their series and the counts.
// All member functions of ChainStage are collective.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chain_statistics.hpp"
#include "lattice_moves.hpp"
#include "model.hpp"
#include "twinflow/run/stage.hpp"

namespace twinflow::spin {

/// One kind of Markov chain step. A move may keep kCache values per chain
/// that depend only on the chain's state (log π(x), log P_θ(x)); prime()
/// computes them from the state, so a restored chain continues with the
/// same bits. Not collective.
class ChainMove {
 public:
  static constexpr int kCache = 2;
  virtual ~ChainMove() = default;
  virtual void prime(const std::uint8_t* /*x*/, double* /*cache*/) const {}
  /// Where a chain starts: x holds the model's start state, which a move
  /// may replace (from the uniforms of u).
  virtual void start(std::uint8_t* /*x*/, UniformStream& /*u*/) const {}
  /// One step of the chain at x; returns the moves accepted (Wolff: the
  /// sites flipped).
  virtual std::int64_t step(std::uint8_t* x, double* cache, UniformStream& u) = 0;
  /// Moves attempted per step (Wolff: the sites, so that accepted/attempted
  /// is the fraction of the lattice a cluster flips).
  virtual std::int64_t attempts_per_step() const = 0;
};

/// L Metropolis moves (a sweep) per step.
class MetropolisMove : public ChainMove {
 public:
  explicit MetropolisMove(const LatticeMoves& moves) : moves_(moves) {}
  std::int64_t step(std::uint8_t* x, double*, UniformStream& u) override { return moves_.metropolis_sweep(x, u); }
  std::int64_t attempts_per_step() const override { return moves_.moves_per_sweep(); }

 private:
  const LatticeMoves& moves_;
};

/// One Wolff cluster update per step.
class WolffMove : public ChainMove {
 public:
  explicit WolffMove(const LatticeMoves& moves) : moves_(moves) {}
  std::int64_t step(std::uint8_t* x, double*, UniformStream& u) override { return moves_.wolff_update(x, u); }
  std::int64_t attempts_per_step() const override { return moves_.sites(); }

 private:
  const LatticeMoves& moves_;
};

/// The estimates of one setting of a chain stage.
struct ChainResult {
  std::vector<ChainEstimate> observables;  ///< per observable
  std::vector<double> profile;             ///< the mean profile (empty without one)
  double acceptance = 0, seconds = 0;
};

class ChainStage : public Stage {
 public:
  struct Plan {
    std::string name;                      ///< the sampler: output under /monte_carlo/<name>
    std::string setting_name;              ///< what a setting is ("noise_time"; "" for one setting)
    std::vector<double> settings = {0.0};  ///< the value of each setting (connected: T)
    std::int64_t chains = 0, burn_in = 0, steps = 0;
    std::uint64_t seed = 0;
    Stream stream = Stream::kFamily;
    const LatticeMoves* lattice = nullptr;
    const ModelObservables* observables = nullptr;
    /// Values per state averaged into the profile (Fredkin: the heights
    /// h_1 .. h_{L−1}); 0 for none. Integer values, so their sums are
    /// exact in any order.
    int profile_size = 0;
    std::function<void(const std::uint8_t* x, double* profile)> profile;
    /// The exact expectation of each observable under π (NaN: not known).
    std::vector<double> exact;
    /// The observable whose effective samples per second rank the samplers.
    std::size_t primary = 0;
  };
  /// Builds the move of setting k (at the start of the setting, and when a
  /// restored stage continues it).
  using MoveFactory = std::function<std::unique_ptr<ChainMove>(std::size_t setting)>;
  ChainStage(MPI_Comm comm, Plan plan, MoveFactory make);

  std::string clock() const override { return "step"; }
  double clock_end() const override { return static_cast<double>(total_steps()); }
  double clock_now() const override { return static_cast<double>(done_); }
  void begin(StageContext& ctx) override;
  bool run(StageContext& ctx) override;
  void checkpoint(CheckpointArchive& archive) override;
  /// Writes /monte_carlo/<name>: per observable the estimates of every
  /// setting and the series of every chain, the acceptance and the seconds.
  void finish(StageContext& ctx) override;

  const Plan& plan() const { return plan_; }
  /// The results of the settings completed so far.
  const std::vector<ChainResult>& results() const { return results_; }

 private:
  std::int64_t per_setting() const { return plan_.burn_in + plan_.steps; }
  std::int64_t total_steps() const { return static_cast<std::int64_t>(plan_.settings.size()) * per_setting(); }
  std::size_t observables() const { return plan_.observables->list().size(); }
  void start_setting(std::size_t k);
  void complete_setting();

  MPI_Comm comm_;
  Plan plan_;
  MoveFactory make_;
  CounterRng rng_;
  Ensemble chains_;  ///< this rank's chain ids (no coordinates)
  int sites_;
  std::unique_ptr<ChainMove> move_;
  std::size_t move_setting_ = 0;
  std::int64_t done_ = 0;             ///< steps taken over all settings
  std::vector<std::uint8_t> states_;  ///< [local chain][site]
  std::vector<double> cache_;         ///< [local chain][ChainMove::kCache]
  std::vector<double> series_;        ///< [local chain][observable][step] of the current setting
  std::vector<double> profile_sums_;  ///< [local chain][profile_size] over the recorded steps
  std::int64_t counts_[2] = {0, 0};   ///< this rank's accepted and attempted moves in the setting
  double seconds_ = 0;                ///< this rank's sampling time in the setting
  std::vector<ChainResult> results_;
  /// The series of all chains of the completed settings, on every rank:
  /// [setting][observable][chain][step].
  std::vector<double> completed_series_;
};

/// Collective. Accepted over attempted moves, counts[0] over counts[1],
/// summed over the ranks (0 when nothing was attempted).
double acceptance_over_ranks(MPI_Comm comm, const std::int64_t counts[2]);

/// Collective. The estimate of each observable over all ranks' chains, from
/// this rank's series local[(chain · observables + a) · steps + t] (its
/// chains of `chains` one after another), the same on every rank; with
/// `series`, every chain's series appended to it in [observable][chain id]
/// [step] order.
std::vector<ChainEstimate> estimate_all_chains(MPI_Comm comm, const Ensemble& chains, const std::vector<double>& local,
                                               std::size_t observables, std::int64_t steps,
                                               std::vector<double>* series = nullptr);

}  // namespace twinflow::spin
