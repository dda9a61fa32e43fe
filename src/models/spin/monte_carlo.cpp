#include "monte_carlo.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

#include "chain_stage.hpp"
#include "diffusion_proposal.hpp"
#include "learned_mps.hpp"
#include "model.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/exact_sum.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"

namespace twinflow::spin {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
/// The streams of the samplers (kFamily and kFamily + 1 are the twin mode's
/// exact samplers, kFamily + 7 the initial θ).
Stream stream(int k) { return static_cast<Stream>(static_cast<std::uint64_t>(Stream::kFamily) + k); }
const Stream kMetropolisStream = stream(2), kWolffStream = stream(3), kLearnStream = stream(4),
             kDirectStream = stream(5), kConnectedStream = stream(6);
/// The exact ⟨|m|⟩ of ising2d from the law of Σ s_i is computed up to this
/// many multiply-adds (8 × 32 at bond 256 needs 4.3e9).
constexpr double kExactBudget = 2e10;
/// Per-sample log-probabilities are summed in fixed point at 2^−40.
constexpr int kFractionBits = 40;

/// Metropolis–Hastings with a diffusion proposal; caches log π(x) and log
/// P_θ(x) of each chain's state.
class DiffusionMove : public ChainMove {
 public:
  DiffusionMove(const LatticeMoves& lattice, Mps model, double gamma, double noise_time)
      : lattice_(lattice), proposal_(std::move(model), gamma, noise_time) {}
  void prime(const std::uint8_t* x, double* cache) const override {
    cache[0] = lattice_.log_weight(x);
    cache[1] = proposal_.model().log_prob(x);
  }
  /// A draw of P_θ: an independence sampler started where P_θ ≪ π (the
  /// Fredkin zigzag at c > ½) would refuse every proposal for a long time.
  void start(std::uint8_t* x, UniformStream& u) const override {
    std::vector<double> draws(static_cast<std::size_t>(lattice_.sites()));
    for (double& v : draws) v = u.next();
    proposal_.model().sample(draws.data(), x);
  }
  std::int64_t step(std::uint8_t* x, double* cache, UniformStream& u) override {
    return diffusion_step(proposal_, lattice_, x, cache[0], cache[1], u, scratch_) ? 1 : 0;
  }
  std::int64_t attempts_per_step() const override { return 1; }

 private:
  const LatticeMoves& lattice_;
  DiffusionProposal proposal_;
  std::vector<std::uint8_t> scratch_;
};

/// The key values of the mode.
struct Settings {
  std::int64_t chains = 0, burn_in = 0, steps = 0, rounds = 0, round_steps = 0, iterations = 0;
  int bond = 0;
  double gamma = 1;
  std::vector<double> noise_times;
  std::uint64_t seed = 0;
};

/// The learning loop (docs/spin.md (S13)): from the model's start state, burn-in
/// Metropolis sweeps, then `rounds` rounds of `round_steps` steps, each step
/// a Metropolis sweep and a direct proposal of the current P_θ per chain,
/// every state after a step a sample; after each round P_θ is trained on
/// all samples so far. Per round: the direct acceptance, the NLL before and
/// after training, the samples' NLL under the exact law (the NLL gap is an
/// estimate of KL(π‖P_θ)), TAO's iterations and reason, the observables of
/// the round's samples and the seconds of sampling and training.
class LearnStage : public Stage {
 public:
  LearnStage(MPI_Comm comm, const Settings& s, const LatticeMoves& lattice, const ModelObservables& observables,
             const Mps& exact, LearnedMps& model)
      : comm_(comm),
        s_(s),
        lattice_(lattice),
        observables_(observables),
        exact_(exact),
        model_(model),
        rng_(s.seed, kLearnStream),
        chains_(Ensemble::partition(comm, s.chains, 1)),
        sites_(lattice.sites()) {}
  std::string clock() const override { return "step"; }
  double clock_end() const override { return static_cast<double>(total_steps()); }
  double clock_now() const override { return static_cast<double>(done_); }

  void begin(StageContext&) override {
    const std::vector<std::uint8_t> start = lattice_.start();
    states_.clear();
    for (std::int64_t c = 0; c < chains_.count; ++c) states_.insert(states_.end(), start.begin(), start.end());
    data_.assign(static_cast<std::size_t>(chains_.count * capacity() * sites_), 0);
  }

  bool run(StageContext& ctx) override {
    double cache[ChainMove::kCache];
    while (done_ < total_steps()) {
      if (!move_) move_.emplace(lattice_, model_.law(), s_.gamma, 0.0);
      const double start = MPI_Wtime();
      const std::int64_t recorded = done_ - s_.burn_in;
      for (std::int64_t c = 0; c < chains_.count; ++c) {
        std::uint8_t* x = &states_[static_cast<std::size_t>(c * sites_)];
        UniformStream u(rng_, static_cast<std::uint64_t>(chains_.first_id + c), static_cast<std::uint64_t>(done_));
        lattice_.metropolis_sweep(x, u);
        if (recorded < 0) continue;
        move_->prime(x, cache);
        counts_[0] += move_->step(x, cache, u);
        ++counts_[1];
        std::copy_n(x, sites_, &data_[static_cast<std::size_t>((c * capacity() + recorded) * sites_)]);
      }
      if (recorded >= 0) sampling_seconds_ += MPI_Wtime() - start;
      ++done_;
      if (recorded >= 0 && (recorded + 1) % s_.round_steps == 0) train_round();
      if (ctx.boundary(static_cast<double>(done_))) return false;
    }
    return true;
  }

  void checkpoint(CheckpointArchive& a) override {
    a.value("steps_done", done_);
    a.particles("states", chains_, states_, sites_);
    a.particles("samples", chains_, data_, static_cast<int>(capacity() * sites_));
    a.rank_counts("direct_moves", counts_, 2);
    if (a.saving()) sampling_seconds_ = max_over_ranks(comm_, sampling_seconds_);
    a.value("sampling_seconds", sampling_seconds_);
    for (auto& [name, v] : records()) a.replicated(name, *v);
    a.replicated("observable_mean", observable_mean_);
    a.replicated("observable_stderr", observable_stderr_);
    a.names("reasons", reasons_);
    if (!a.saving()) move_.reset();  // rebuilt from the restored θ
  }

  void finish(StageContext& ctx) override {
    OutputFile& out = ctx.out();
    const std::string d = "/monte_carlo/learn/";
    for (auto& [name, v] : records()) out.write_vector(d + name, *v);
    const auto rounds = static_cast<std::int64_t>(acceptance_.size());
    const auto k = static_cast<std::int64_t>(observables_.list().size());
    out.write_array(d + "observable_mean", {rounds, k}, observable_mean_);
    out.write_array(d + "observable_stderr", {rounds, k}, observable_stderr_);
    std::string names, reasons;
    for (const Observable& o : observables_.list()) names += (names.empty() ? "" : ",") + o.name;
    for (const std::string& r : reasons_) reasons += (reasons.empty() ? "" : ",") + r;
    out.attribute(d + "observable_mean", "observables", names);
    out.attribute(d + "tao_iterations", "converged_reasons", reasons);
    out.attribute(d + "nll_after", "bond", static_cast<std::int64_t>(model_.bond()));
    out.attribute(d + "nll_after", "parameters", static_cast<std::int64_t>(model_.parameters()));
    out.write_vector(d + "theta", model_.theta());
  }

  std::size_t rounds_done() const { return acceptance_.size(); }
  const std::vector<double>& acceptance() const { return acceptance_; }
  const std::vector<double>& nll_after() const { return nll_after_; }
  const std::vector<double>& nll_before() const { return nll_before_; }
  const std::vector<double>& nll_exact() const { return nll_exact_; }
  const std::vector<double>& tao_iterations() const { return tao_iterations_; }
  const std::vector<double>& training_seconds() const { return training_seconds_; }
  const std::vector<std::string>& reasons() const { return reasons_; }

 private:
  std::int64_t capacity() const { return s_.rounds * s_.round_steps; }
  std::int64_t total_steps() const { return s_.burn_in + capacity(); }

  std::vector<std::pair<std::string, std::vector<double>*>> records() {
    return {{"acceptance", &acceptance_},
            {"nll_before", &nll_before_},
            {"nll_after", &nll_after_},
            {"nll_exact", &nll_exact_},
            {"tao_iterations", &tao_iterations_},
            {"tao_evaluations", &tao_evaluations_},
            {"sampling_seconds", &round_sampling_},
            {"training_seconds", &training_seconds_}};
  }

  // Collective. Trains P_θ on every sample so far and records the round.
  void train_round() {
    const std::int64_t recorded = done_ - s_.burn_in;
    const std::size_t round_start = static_cast<std::size_t>(recorded - s_.round_steps);
    std::vector<std::uint8_t> samples;
    samples.reserve(static_cast<std::size_t>(chains_.count * recorded * sites_));
    for (std::int64_t c = 0; c < chains_.count; ++c) {
      const auto from = data_.begin() + static_cast<std::ptrdiff_t>(c * capacity() * sites_);
      samples.insert(samples.end(), from, from + static_cast<std::ptrdiff_t>(recorded * sites_));
    }
    const std::int64_t count = chains_.count * recorded;
    // The round's direct acceptance and sampling time.
    acceptance_.push_back(acceptance_over_ranks(comm_, counts_));
    counts_[0] = counts_[1] = 0;
    round_sampling_.push_back(max_over_ranks(comm_, sampling_seconds_));
    sampling_seconds_ = 0;
    // Observables of the round's samples, blocked per chain.
    const std::size_t k = observables_.list().size();
    std::vector<double> local(static_cast<std::size_t>(chains_.count) * k * static_cast<std::size_t>(s_.round_steps));
    std::vector<double> values(k);
    for (std::int64_t c = 0; c < chains_.count; ++c)
      for (std::int64_t t = 0; t < s_.round_steps; ++t) {
        observables_.values(
            &data_[static_cast<std::size_t>((c * capacity() + static_cast<std::int64_t>(round_start) + t) * sites_)],
            values.data());
        for (std::size_t a = 0; a < k; ++a)
          local[(static_cast<std::size_t>(c) * k + a) * static_cast<std::size_t>(s_.round_steps) +
                static_cast<std::size_t>(t)] = values[a];
      }
    for (const ChainEstimate& e : estimate_all_chains(comm_, chains_, local, k, s_.round_steps)) {
      observable_mean_.push_back(e.mean);
      observable_stderr_.push_back(e.standard_error);
    }
    // The samples' NLL under the exact law, summed exactly.
    FixedPointSum exact(1, kFractionBits);
    for (std::int64_t n = 0; n < count; ++n)
      exact.add(0, -exact_.log_prob(&samples[static_cast<std::size_t>(n * sites_)]));
    nll_exact_.push_back(exact.reduce(comm_)[0] / static_cast<double>(s_.chains * recorded));
    nll_before_.push_back(model_.nll(comm_, samples.data(), count, nullptr));
    const double start = MPI_Wtime();
    const LearnedMps::Training t = model_.train(comm_, samples.data(), count, static_cast<int>(s_.iterations));
    training_seconds_.push_back(max_over_ranks(comm_, MPI_Wtime() - start));
    nll_after_.push_back(t.nll);
    tao_iterations_.push_back(static_cast<double>(t.iterations));
    tao_evaluations_.push_back(static_cast<double>(t.evaluations));
    reasons_.push_back(t.reason);
    move_.reset();
  }

  MPI_Comm comm_;
  Settings s_;
  const LatticeMoves& lattice_;
  const ModelObservables& observables_;
  const Mps& exact_;
  LearnedMps& model_;
  CounterRng rng_;
  Ensemble chains_;  ///< this rank's chain ids (no coordinates)
  int sites_;
  std::optional<DiffusionMove> move_;
  std::int64_t done_ = 0;
  std::vector<std::uint8_t> states_;  ///< [local chain][site]
  std::vector<std::uint8_t> data_;    ///< [local chain][recorded step][site]
  std::int64_t counts_[2] = {0, 0};   ///< this rank's accepted and attempted direct proposals in the round
  double sampling_seconds_ = 0;
  std::vector<double> acceptance_, nll_before_, nll_after_, nll_exact_, tao_iterations_, tao_evaluations_,
      round_sampling_, training_seconds_, observable_mean_, observable_stderr_;
  std::vector<std::string> reasons_;
};

/// Keys of the twin mode that the monte_carlo mode does not read.
const std::vector<std::string> kTwinKeys = {"spin.reverse",      "spin.t_min",      "spin.full_space", "time.end",
                                            "time.snapshots",    "particles.count", "pde.steps",       "pde.enabled",
                                            "particles.enabled", "grid.dim",        "grid.cells",      "grid.lower",
                                            "grid.upper"};

class MonteCarloExperiment : public Experiment {
 public:
  MonteCarloExperiment(const Config& c, MPI_Comm comm)
      : comm_(comm),
        model_(model_of(c)),
        settings_(settings_of(c)),
        lattice_(model_),
        observables_(model_),
        exact_law_(data_law(model_)),
        exact_(observables_.exact(exact_law_, kExactBudget)),
        learned_(model_.sites(), settings_.bond, settings_.seed) {
    if (model_.kind != ModelKind::kFredkin && model_.beta == 0)
      throw UsageError("spin.beta", "is 0, where π is uniform and a Metropolis sweep in order flips every spin (a "
                                    "deterministic map that never mixes); accepted for spin.mode=monte_carlo: β > 0");
    for (const std::string& key : kTwinKeys)
      if (c.given(key))
        throw UsageError(key,
                         "is set, but spin.mode=monte_carlo does not read it (it samples π with Markov chains); "
                         "accepted: the spin.mc.*, spin.learn.*, spin.bond and spin.connected.times keys, or "
                         "spin.mode=twin");
    // Fredkin: ⟨h_k⟩ = Σ_{j<k} ⟨s_j⟩ for k = 1 .. L − 1.
    if (model_.kind == ModelKind::kFredkin) {
      double h = 0;
      for (int k = 0; k + 1 < model_.sites(); ++k) exact_profile_.push_back(h += exact_law_.spin(k));
    }
  }

  std::vector<std::unique_ptr<StateSpace>> spaces(MPI_Comm) override { return {}; }

  std::vector<std::string> stages() const override {
    std::vector<std::string> s = {"metropolis"};
    if (lattice_.has_wolff()) s.push_back("wolff");
    s.insert(s.end(), {"learn", "direct", "connected"});
    return s;
  }

  std::unique_ptr<Stage> make_stage(const std::string& name, RunSetup&) override {
    if (name == "learn") {
      auto stage = std::make_unique<LearnStage>(comm_, settings_, lattice_, observables_, exact_law_, learned_);
      learn_ = stage.get();
      return stage;
    }
    ChainStage::Plan plan;
    plan.name = name;
    plan.chains = settings_.chains;
    plan.burn_in = settings_.burn_in;
    plan.steps = settings_.steps;
    plan.seed = settings_.seed;
    plan.lattice = &lattice_;
    plan.observables = &observables_;
    plan.exact = exact_;
    plan.primary = primary();
    if (model_.kind == ModelKind::kFredkin) {
      plan.profile_size = model_.sites() - 1;
      const int n = model_.sites();
      plan.profile = [n](const std::uint8_t* x, double* h) {
        double height = 0;
        for (int k = 0; k + 1 < n; ++k) h[k] = height += x[k] ? 1 : -1;
      };
    }
    ChainStage::MoveFactory make;
    if (name == "metropolis") {
      plan.stream = kMetropolisStream;
      make = [this](std::size_t) { return std::make_unique<MetropolisMove>(lattice_); };
    } else if (name == "wolff") {
      plan.stream = kWolffStream;
      make = [this](std::size_t) { return std::make_unique<WolffMove>(lattice_); };
    } else {
      const bool direct = name == "direct";
      plan.stream = direct ? kDirectStream : kConnectedStream;
      if (!direct) {
        plan.setting_name = "noise_time";
        plan.settings = settings_.noise_times;
      }
      const std::vector<double> times = plan.settings;
      make = [this, direct, times](std::size_t k) {
        return std::make_unique<DiffusionMove>(lattice_, learned_.law(), settings_.gamma, direct ? 0.0 : times[k]);
      };
    }
    auto stage = std::make_unique<ChainStage>(comm_, plan, make);
    chain_stages_.push_back(stage.get());
    return stage;
  }

  std::vector<Twin> twins(RunSetup&) override { return {}; }

  void prepare_output(OutputFile& out) override {
    const std::string d = "/monte_carlo/exact/";
    for (std::size_t a = 0; a < exact_.size(); ++a) out.write_vector(d + observables_.list()[a].name, {exact_[a]});
    out.attribute("/monte_carlo/exact/" + observables_.list()[0].name, "model", model_.name());
    out.attribute("/monte_carlo/exact/" + observables_.list()[0].name, "log_z", exact_law_.log_z());
    if (!exact_profile_.empty()) out.write_vector(d + "profile", exact_profile_);
    if (onsager()) {
      out.write_vector("/monte_carlo/onsager/energy", {onsager_energy(model_.beta)});
      out.write_vector("/monte_carlo/onsager/abs_magnetisation", {onsager_magnetisation(model_.beta)});
    }
  }

  void checkpoint(CheckpointArchive& a) override { a.replicated("theta", learned_.theta()); }

  std::string report(OutputFile&) override {
    std::ostringstream os;
    char line[512];
    os << "\nMonte Carlo of " << model_.name() << " (" << model_.sites() << " sites";
    if (model_.kind == ModelKind::kFredkin)
      os << ", c = " << model_.c;
    else
      os << ", β = " << model_.beta;
    os << "): " << settings_.chains << " chains, " << settings_.burn_in << " burn-in and " << settings_.steps
       << " recorded steps each; errors from blocking, z = (mean − exact)/s.e.\n";
    // The primary observable and the other one shown (|m|; m or h_{L/2}).
    const std::size_t a0 = primary(), a1 = model_.kind == ModelKind::kIsing2d ? 1 : 0;
    const std::string n0 = observables_.list()[a0].name, n1 = observables_.list()[a1].name;
    std::snprintf(line, sizeof line, "%-18s | %9s | %-33s | %-33s | %8s | %10s\n", "sampler", "accept", n0.c_str(),
                  n1.c_str(), "τ", "ESS/s");
    os << line;
    std::snprintf(line, sizeof line, "%-18s | %9s | %14.6g %18s | %14.6g %18s | %8s | %10s\n", "exact", "", exact_[a0],
                  "", exact_[a1], "", "", "");
    os << line;
    if (onsager()) {
      std::snprintf(line, sizeof line, "%-18s | %9s | %14.6g %18s | %14.6g %18s | %8s | %10s\n", "Onsager (∞)", "",
                    onsager_energy(model_.beta), "", onsager_magnetisation(model_.beta), "", "", "");
      os << line;
    }
    auto cell = [&](const ChainEstimate& e, double exact) {
      char c[64];
      const double z = e.standard_error > 0 ? (e.mean - exact) / e.standard_error : 0.0;
      std::snprintf(c, sizeof c, "%14.6g ± %8.2g %6.2f", e.mean, e.standard_error, std::isnan(exact) ? kNaN : z);
      return std::string(c);
    };
    for (const ChainStage* stage : chain_stages_) {
      const ChainStage::Plan& p = stage->plan();
      for (std::size_t k = 0; k < stage->results().size(); ++k) {
        const ChainResult& r = stage->results()[k];
        std::string label = p.name;
        if (!p.setting_name.empty()) {
          char t[32];
          std::snprintf(t, sizeof t, " T=%g", p.settings[k]);
          label += t;
        }
        std::snprintf(line, sizeof line, "%-18s | %9.4f | %s | %s | %8.3g | %10.4g\n", label.c_str(), r.acceptance,
                      cell(r.observables[a0], exact_[a0]).c_str(), cell(r.observables[a1], exact_[a1]).c_str(),
                      r.observables[p.primary].tau, r.observables[p.primary].effective_samples / r.seconds);
        os << line;
      }
    }
    os << "(accept: accepted moves per attempt; for wolff the mean fraction of the sites a cluster flips. τ and "
          "ESS/s of "
       << observables_.list()[primary()].name << ")\n";
    if (learn_) {
      os << "\nLearning P_θ (bond " << learned_.bond() << ", " << learned_.parameters()
         << " parameters, TAO): per round the direct acceptance, the NLL per sample before and after training, the "
            "samples' NLL under the exact law, and the gap (an estimate of KL(π‖P_θ))\n";
      std::snprintf(line, sizeof line, "%5s | %9s | %12s %12s %12s %10s | %6s %8s | %s\n", "round", "accept",
                    "NLL before", "NLL after", "NLL exact", "gap", "TAO it", "train s", "reason");
      os << line;
      for (std::size_t r = 0; r < learn_->rounds_done(); ++r) {
        std::snprintf(line, sizeof line, "%5zu | %9.4f | %12.6g %12.6g %12.6g %10.3g | %6.0f %8.2f | %s\n", r + 1,
                      learn_->acceptance()[r], learn_->nll_before()[r], learn_->nll_after()[r], learn_->nll_exact()[r],
                      learn_->nll_after()[r] - learn_->nll_exact()[r], learn_->tao_iterations()[r],
                      learn_->training_seconds()[r], learn_->reasons()[r].c_str());
        os << line;
      }
    }
    return os.str();
  }

 private:
  static Settings settings_of(const Config& c) {
    Settings s;
    s.chains = c.integer("spin.mc.chains");
    s.burn_in = c.integer("spin.mc.burn_in");
    s.steps = c.integer("spin.mc.steps");
    s.rounds = c.integer("spin.learn.rounds");
    s.iterations = c.integer("spin.learn.iterations");
    s.bond = static_cast<int>(c.integer("spin.bond"));
    s.gamma = c.real("spin.gamma");
    s.seed = static_cast<std::uint64_t>(c.integer("seed"));
    const std::int64_t samples = c.integer("spin.learn.samples");
    s.round_steps = samples / s.chains;  // every chain gives as many samples
    if (s.round_steps < 2)
      throw UsageError("spin.learn.samples", "is " + c.text("spin.learn.samples") +
                                                 " with spin.mc.chains = " + c.text("spin.mc.chains") +
                                                 "; accepted: at least 2 samples per "
                                                 "chain (spin.learn.samples >= 2 · spin.mc.chains)");
    s.noise_times = c.real_list("spin.connected.times");
    for (double t : s.noise_times)
      if (!(t > 0) || !std::isfinite(t))
        throw UsageError("spin.connected.times",
                         "is '" + c.text("spin.connected.times") + "'; accepted: a comma list of noise times T > 0");
    return s;
  }

  bool onsager() const {
    return model_.kind == ModelKind::kIsing2d && model_.J == 1 && model_.h == 0 && model_.beta > 0;
  }
  /// The observable that ranks the samplers: the energy (Ising), the area (Fredkin).
  std::size_t primary() const { return model_.kind == ModelKind::kIsing2d ? 0 : 1; }

  MPI_Comm comm_;
  ModelSpec model_;
  Settings settings_;
  LatticeMoves lattice_;
  ModelObservables observables_;
  Mps exact_law_;
  std::vector<double> exact_, exact_profile_;
  LearnedMps learned_;
  LearnStage* learn_ = nullptr;
  std::vector<const ChainStage*> chain_stages_;
};

}  // namespace

const std::vector<std::string>& monte_carlo_keys() {
  static const std::vector<std::string> keys = {
      "spin.bond",      "spin.learn.rounds", "spin.learn.samples", "spin.learn.iterations",
      "spin.mc.chains", "spin.mc.steps",     "spin.mc.burn_in",    "spin.connected.times"};
  return keys;
}

void declare_monte_carlo(OptionSet& o) {
  o.add("spin.bond", "4", "monte_carlo: bond dimension D of the learned MPS P_θ, 1..64", Accept::integer(1, 64));
  o.add("spin.learn.rounds", "3", "monte_carlo: rounds of sampling and training P_θ", Accept::integer(1, 1000));
  o.add("spin.learn.samples", "2000",
        "monte_carlo: samples per round, rounded down to a multiple of spin.mc.chains (at least 2 per chain)",
        Accept::integer(2, 1e8));
  o.add("spin.learn.iterations", "200",
        "monte_carlo: most TAO iterations per round (-spin_learn_tao_* options "
        "reach the solver)",
        Accept::integer(1, 1e6));
  o.add("spin.mc.chains", "32", "monte_carlo: independent chains of every sampler (split over the ranks)",
        Accept::integer(1, 1e6));
  o.add("spin.mc.steps", "2000", "monte_carlo: recorded steps per chain (at least 2 · 32, for blocking)",
        Accept::integer(2 * kMinBlocks, 1e9));
  o.add("spin.mc.burn_in", "200", "monte_carlo: unrecorded steps per chain before the recorded ones",
        Accept::integer(0, 1e9));
  o.add("spin.connected.times", "0.05,0.2,1",
        "monte_carlo: noise times T of the connected proposal (comma list, "
        "T > 0)",
        Accept::real_list());
}

std::unique_ptr<Experiment> make_monte_carlo(const Config& c, MPI_Comm comm) {
  return std::make_unique<MonteCarloExperiment>(c, comm);
}

}  // namespace twinflow::spin
