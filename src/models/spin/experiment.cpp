// The `spin` family: discrete diffusion of lattice spins by independent
// flips, exact with matrix product states (docs/spin.md (S1)–(S11)).
// spin.mode=twin (this file) runs the twins below; spin.mode=monte_carlo
// runs Markov chains of P_0 with a learned diffusion proposal
// (monte_carlo.hpp).
//   pde          the master equation on all 2^L states (forward, PETSc TS);
//   reverse_pde  the reverse master equation from P_T, rates from the MPS;
//   exact        exact autoregressive samples of P_t at every output (the
//                direct samples of P_0 at t = 0, and the noise floor);
//   forward      exact flips from X_0 ~ P_0;
//   exact_reverse, reverse  the same beside the generative side: exact
//                samples of P_{T−s}, and the reverse jump process or the
//                one-step Bayes denoiser from Y_0 ~ P_T.
// Twins on the state space (L small enough) and on the histogrammed
// observable (magnetisation or area), and tables of observables against
// their exact values from the MPS for any L.
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include "master_equation.hpp"
#include "model.hpp"
#include "monte_carlo.hpp"
#include "samplers.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"
#include "twinflow/run/stages.hpp"

namespace twinflow::spin {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
/// Full state space: by default up to this many sites, and never beyond the
/// second (2^24 states: 128 MiB a copy, split over the ranks).
constexpr int kFullSpaceDefault = 20, kFullSpaceLimit = 24;
/// fredkin's t_min when `auto`: P_0 vanishes off Dyck paths, where the
/// reverse rates diverge as t → 0.
constexpr double kFredkinTMinFraction = 1e-3;

void declare(OptionSet& o) {
  o.add("spin.mode", "twin", "twin (the diffusion's master equation against its samplers) or monte_carlo (Markov "
        "chains of P_0 with a learned diffusion model as the proposal, against Metropolis and Wolff)",
        Accept::choice({"twin", "monte_carlo"}));
  declare_monte_carlo(o);
  o.add("spin.model", "ising1d", "lattice model of the data law P_0: ising1d (open chain), fredkin (Dyck paths, "
        "π ∝ y^area) or ising2d (W × L cylinder)", Accept::choice({"ising1d", "fredkin", "ising2d"}));
  o.add("spin.L", "16", "sites (ising1d: 2..4096; fredkin: even, 2..256); ising2d: rings of the cylinder",
        Accept::integer(2, kMaxSites));
  o.add("spin.width", "4", "ising2d: W, sites around each (periodic) ring, 3..8 (MPS bond 2^W)",
        Accept::integer(3, kMaxWidth));
  o.add("spin.beta", "0.5", "inverse temperature β of the Ising models", Accept::real(0));
  o.add("spin.J", "1", "coupling J of the Ising models", Accept::real(-std::numeric_limits<double>::infinity()));
  o.add("spin.h", "0", "field h of the Ising models (favours x_i = 1, s_i = +1)",
        Accept::real(-std::numeric_limits<double>::infinity()));
  o.add("spin.c", "0.5", "fredkin: c in (0, 1), y = √(c/(1−c)) (0.5: uniform over Dyck paths)", Accept::real(0, 1, true));
  o.add("spin.gamma", "1", "flip rate γ of the noise", Accept::positive_real());
  o.add("spin.reverse", "jump", "generative sampler: jump (the exact reverse jump process) or denoise (exact "
        "one-step Bayes denoising of X_T)", Accept::choice({"jump", "denoise"}));
  o.add("spin.full_space", "auto", "solve the master equations and compare on all 2^L states: auto (when L <= 20), "
        "true (L <= 24) or false", Accept::choice({"auto", "true", "false"}));
  o.add("spin.t_min", "auto", "where the reverse stops (s = T − t_min): auto is 0 for the Ising models and "
        "1e-3·T for fredkin (P_0 vanishes off Dyck paths, where the reverse rates diverge)",
        Accept::any_text("auto, or a real 0 <= t_min < time.end (> 0 for fredkin)"));
}

/// Outputs at evenly spaced clocks 0 .. end inclusive.
std::vector<double> even(double end, std::int64_t n) {
  std::vector<double> t;
  for (std::int64_t j = 0; j < n; ++j) t.push_back(end * static_cast<double>(j) / static_cast<double>(n - 1));
  return t;
}

double sum_l1(MPI_Comm comm, const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += std::abs(a[i] - b[i]);
  sum_over_ranks(comm, &s, 1);
  return s;
}

/// Collective. The largest peak resident size of the ranks, MiB.
double peak_resident_mib(MPI_Comm comm) {
  rusage use{};
  getrusage(RUSAGE_SELF, &use);
  return max_over_ranks(comm, static_cast<double>(use.ru_maxrss) / 1024.0);
}

/// Observables of a sampler stage's configurations at each output: sample
/// mean and its standard error, and the exact value.
struct ObservableSeries {
  std::vector<std::vector<double>> sample, stderr_, exact;  ///< [observable][output]
  void resize(std::size_t observables, std::size_t outputs) {
    for (auto* v : {&sample, &stderr_, &exact}) v->assign(observables, std::vector<double>(outputs, kNaN));
  }
};

class SpinExperiment : public Experiment {
 public:
  SpinExperiment(const Config& c, MPI_Comm comm)
      : comm_(comm),
        model_(model_of(c)),
        law_(data_law(model_), c.real("spin.gamma")),
        observables_(model_),
        horizon_(c.real("time.end")),
        pde_steps_(c.integer("pde.steps")),
        particles_(c.integer("particles.count")),
        seed_(static_cast<std::uint64_t>(c.integer("seed"))),
        jump_(c.choice("spin.reverse") == "jump"),
        pde_on_(c.boolean("pde.enabled")),
        particles_on_(c.boolean("particles.enabled")) {
    for (const std::string& key : monte_carlo_keys())
      if (c.given(key))
        throw UsageError(key, "is set, but only spin.mode=monte_carlo reads it; accepted: spin.mode=monte_carlo");
    for (const char* key : {"grid.dim", "grid.cells", "grid.lower", "grid.upper"})
      if (c.given(key))
        throw UsageError(key, "is set, but the spin family's states are configurations of spins, not a grid; "
                              "accepted: spin.L (and spin.width for ising2d)");
    const int sites = model_.sites();
    const std::string full = c.choice("spin.full_space");
    full_space_ = full == "true" || (full == "auto" && sites <= kFullSpaceDefault);
    if (full_space_ && sites > kFullSpaceLimit)
      throw UsageError("spin.full_space", "is true, but the model has " + std::to_string(sites) +
                                              " sites; accepted: true for at most " + std::to_string(kFullSpaceLimit) +
                                              " sites (2^" + std::to_string(kFullSpaceLimit) +
                                              " states), or false (observables only)");
    const std::string t_min = c.text("spin.t_min");
    if (t_min == "auto") {
      t_min_ = model_.kind == ModelKind::kFredkin ? kFredkinTMinFraction * horizon_ : 0.0;
    } else {
      char* end = nullptr;
      t_min_ = std::strtod(t_min.c_str(), &end);
      if (end == t_min.c_str() || *end != '\0' || !(t_min_ >= 0) || !(t_min_ < horizon_))
        throw UsageError("spin.t_min", "is '" + t_min + "'; accepted: auto, or a real 0 <= t_min < time.end");
      if (model_.kind == ModelKind::kFredkin && t_min_ == 0)
        throw UsageError("spin.t_min", "is 0, but fredkin's P_0 vanishes off Dyck paths, where the reverse rates "
                                       "diverge as s → T; accepted: 0 < t_min < time.end for fredkin (or auto)");
    }
    times_ = even(horizon_, c.integer("time.snapshots"));
    reverse_clocks_ = even(horizon_ - t_min_, c.integer("time.snapshots"));
    law_on_ = observables_.histogrammed_cost(law_.data().max_bond()) <= ModelObservables::kLawBudget;
    const std::size_t n = times_.size(), k = observables_.list().size();
    for (auto* v : {&pde_to_kernel_, &pde_to_mps_, &kernel_to_mps_, &reverse_pde_to_exact_}) v->assign(n, kNaN);
    for (const char* s : {"exact", "forward", "exact_reverse", "reverse"}) series_[s].resize(k, n);
  }

  std::vector<std::unique_ptr<StateSpace>> spaces(MPI_Comm comm) override {
    std::vector<std::unique_ptr<StateSpace>> s;
    if (full_space_) {
      auto states = std::make_unique<StateVectorSpace>(comm, "states", model_.sites());
      states_ = states.get();
      s.push_back(std::move(states));
    }
    const auto& h = observables_.histogrammed();
    const ModelObservables* obs = &observables_;
    auto value = [obs](const Ensemble& e, std::int64_t u) {
      std::vector<std::uint8_t> x(static_cast<std::size_t>(e.sites));
      unpack(e, u, x.data());
      return obs->histogrammed_value(x.data());
    };
    auto bins = std::make_unique<BinSpace>(comm, "observable", h.label, static_cast<double>(h.lowest()) - 1,
                                           static_cast<double>(h.highest()) + 1, (h.highest() - h.lowest()) / 2 + 1,
                                           value);
    bins_ = bins.get();
    s.push_back(std::move(bins));
    return s;
  }

  std::vector<std::string> stages() const override {
    std::vector<std::string> s;
    if (full_space_ && pde_on_) s.insert(s.end(), {"pde", "reverse_pde"});
    if (particles_on_) s.insert(s.end(), {"exact", "forward", "exact_reverse", "reverse"});
    return s;
  }

  std::unique_ptr<Stage> make_stage(const std::string& name, RunSetup& /*setup*/) override {
    if (name == "pde") return forward_pde_stage();
    if (name == "reverse_pde") return reverse_pde_stage();
    const bool reverse = name == "reverse" || name == "exact_reverse";
    SamplerStage::Plan plan;
    plan.clock = reverse ? "s" : "t";
    plan.clocks = reverse ? reverse_clocks_ : times_;
    plan.units = particles_;
    plan.sites = model_.sites();
    plan.space = states_;
    if (name == "forward") plan.histogram_series = states_ ? "/particles/histogram" : "";
    if (name == "reverse") plan.histogram_series = states_ ? "/reverse/histogram" : "";
    if (reverse) plan.axis = "/reverse/s";
    SamplerStage::Factory factory = [this, name](Ensemble units) -> std::unique_ptr<ParticleSampler> {
      if (name == "exact") return std::make_unique<ExactSampler>(std::move(units), law_, seed_);
      if (name == "exact_reverse") return std::make_unique<ExactSampler>(std::move(units), law_, seed_, true, horizon_);
      if (name == "forward") return std::make_unique<ForwardFlips>(std::move(units), law_, seed_);
      if (jump_) return std::make_unique<ReverseJumps>(std::move(units), law_, horizon_, seed_);
      return std::make_unique<BayesDenoiser>(std::move(units), law_, horizon_, seed_);
    };
    auto observer = [this, name, reverse](std::size_t j, double clock, const ParticleSampler& s,
                                          const std::vector<double>*) {
      observe(series_[name], j, reverse ? horizon_ - clock : clock, s.ensemble());
      if (name == "reverse" && jump_) {
        const auto& r = dynamic_cast<const ReverseJumps&>(s);
        double counts[2] = {static_cast<double>(r.candidates()), static_cast<double>(r.flips())};
        sum_over_ranks(comm_, counts, 2);
        candidates_ = counts[0], flips_ = counts[1];
      }
    };
    return std::make_unique<SamplerStage>(comm_, factory, plan, observer);
  }

  std::vector<Twin> twins(RunSetup& setup) override {
    store_ = &setup.store;
    std::vector<Twin> t;
    const std::string n = std::to_string(particles_);
    const bool pde = full_space_ && pde_on_;
    if (states_) {
      auto on_states = [&](const std::string& name, const std::string& stage, bool reverse, const std::string& title,
                           const std::string& floor_twin) {
        Twin w;
        w.name = name;
        w.top_level = name == "forward";
        w.stage = stage;
        w.space = "states";
        w.title = title;
        w.clock = reverse ? "s" : "t";
        w.axis = reverse ? "/reverse/s" : "/time";
        w.reference_name = pde ? "pde" : "exact";
        w.reference = [this, reverse, pde](std::size_t, double clock, std::vector<double>& owned) {
          if (pde) {
            owned = store_->owned(reverse ? "reverse_probability" : "probability", clock);
            return true;
          }
          exact_block(reverse ? horizon_ - clock : clock, owned);
          return true;
        };
        if (!floor_twin.empty()) {
          w.columns = {{"tv", "TV"}, {"kl", "KL"}, {"hellinger", "Hellinger"}};
          w.columns.insert(w.columns.end(), {{"/compare/" + floor_twin + "/tv", "TV exact"},
                                             {"/compare/" + floor_twin + "/kl", "KL exact"}});
        }
        t.push_back(w);
      };
      const std::string ref = pde ? "the master equation" : "the exact law (MPS)";
      on_states("forward", "forward", false,
                "Forward: " + n + " configurations under independent flips vs " + ref +
                    " on all 2^" + std::to_string(model_.sites()) + " states\n(TV exact, KL exact: the same for " + n +
                    " exact autoregressive samples of P_t, the noise floor)",
                "exact");
      on_states("exact", "exact", false, "Exact autoregressive samples of P_t (the MPS) vs " + ref, "");
      on_states("reverse", "reverse", true,
                std::string("Reverse: ") + (jump_ ? "the exact reverse jump process" : "one-step Bayes denoising") +
                    " from X_T ~ P_T vs " + (pde ? "the reverse master equation" : "the exact law") +
                    " at T − s\n(TV exact, KL exact: as many exact samples of P_{T−s})",
                "exact_reverse");
      on_states("exact_reverse", "exact_reverse", true, "Exact samples of P_{T−s} vs the same reference", "");
    }
    if (law_on_) {
      const auto& h = observables_.histogrammed();
      for (bool reverse : {false, true}) {
        Twin w;
        w.name = std::string(reverse ? "reverse_" : "forward_") + h.name;
        w.top_level = !states_ && !reverse;
        w.stage = reverse ? "reverse" : "forward";
        w.space = "observable";
        w.clock = reverse ? "s" : "t";
        w.axis = reverse ? "/reverse/s" : "/time";
        w.reference_name = "exact";
        w.title = std::string(reverse ? "Reverse" : "Forward") + ": the law of the " + h.label +
                  " of the samples vs its exact law from the MPS (floor: expected L1 of " + n + " exact samples)";
        w.reference = [this, reverse](std::size_t, double clock, std::vector<double>& owned) {
          const std::vector<double> p = observables_.histogrammed_law(law_.at(reverse ? horizon_ - clock : clock));
          const Slab& slab = bins_->slab();
          owned.resize(static_cast<std::size_t>(slab.count[0]));
          for (std::int64_t k = 0; k < slab.count[0]; ++k)
            owned[static_cast<std::size_t>(k)] = p[static_cast<std::size_t>(slab.start[0] + k)] / bins_->cell_measure();
          return true;
        };
        w.columns = {{"l1", "L1"}, {"noise_floor_l1", "floor"}, {"w1", "W1"}};
        t.push_back(w);
      }
    }
    return t;
  }

  void prepare_output(OutputFile& out) override {
    out.write_vector("/time", times_);
    out.write_vector("/reverse/s", reverse_clocks_);
    out.attribute("/reverse/s", "t_min", t_min_);
    out.attribute("/time", "model", model_.name());
  }

  void checkpoint(CheckpointArchive& a) override {
    for (auto& [name, v] : diagnostics()) a.replicated(name, *v);
    for (auto& [stage, s] : series_)
      for (std::size_t k = 0; k < observables_.list().size(); ++k) {
        const std::string p = stage + "_" + observables_.list()[k].name;
        a.replicated(p + "_sample", s.sample[k]);
        a.replicated(p + "_stderr", s.stderr_[k]);
        a.replicated(p + "_exact", s.exact[k]);
      }
    a.value("reverse_candidates", candidates_);
    a.value("reverse_flips", flips_);
    // Set by the master equations' stages and reported at the end: kept
    // here, with the diagnostics, not in those stages' state, which a
    // checkpoint taken in a later stage does not hold.
    a.value("reverse_pde_l1_to_data", reverse_pde_to_data_);
    a.value("forward_pde_steps", forward_steps_);
    a.value("reverse_pde_steps", reverse_steps_);
  }

  std::string report(OutputFile& out) override {
    std::ostringstream os;
    char line[512];
    const std::string d = "/diagnostics/spin/";
    os << "\nSpin model " << model_.name() << ": " << model_.sites() << " sites, MPS bond " << law_.data().max_bond()
       << ", γ = " << law_.gamma() << ", T = " << horizon_ << ", reverse to s = " << horizon_ - t_min_ << "\n";
    os << closed_forms(out);
    if (full_space_ && pde_on_) {
      for (auto& [name, v] : diagnostics()) out.write_vector(d + name, *v);
      out.attribute(d + "pde_l1_to_kernel", "axis", std::string("/time"));
      out.attribute(d + "reverse_pde_l1_to_exact", "axis", std::string("/reverse/s"));
      out.attribute(d + "reverse_pde_l1_to_exact", "l1_to_data_at_end", reverse_pde_to_data_);
      char memory[160];
      std::snprintf(memory, sizeof memory, "%.1f MiB of forward ghosts, %.0f MiB peak resident per rank, max", ghost_mib_,
                    peak_resident_mib(comm_));
      os << "\nMaster equation on all " << (std::int64_t{1} << model_.sites()) << " states (RK4, " << forward_steps_
         << " steps forward, " << reverse_steps_ << " reverse; " << memory << "):\n";
      std::snprintf(line, sizeof line, "%7s | %12s %12s %12s | %7s | %12s\n", "t", "ME − kernel", "ME − MPS",
                    "kernel − MPS", "s", "reverse−exact");
      os << line;
      for (std::size_t j = 0; j < times_.size(); ++j) {
        std::snprintf(line, sizeof line, "%7.4f | %12.3e %12.3e %12.3e | %7.4f | %12.3e\n", times_[j],
                      pde_to_kernel_[j], pde_to_mps_[j], kernel_to_mps_[j], reverse_clocks_[j],
                      reverse_pde_to_exact_[j]);
        os << line;
      }
      std::snprintf(line, sizeof line, "(L1 norms; the reverse master equation at s = %g against P_0: %.3e)\n",
                    horizon_ - t_min_, reverse_pde_to_data_);
      os << line;
    }
    if (particles_on_) {
      for (const char* stage : {"exact", "forward", "exact_reverse", "reverse"}) {
        const ObservableSeries& s = series_.at(stage);
        for (std::size_t k = 0; k < observables_.list().size(); ++k) {
          const std::string p = d + stage + "/" + observables_.list()[k].name + "/";
          out.write_vector(p + "sample", s.sample[k]);
          out.write_vector(p + "stderr", s.stderr_[k]);
          out.write_vector(p + "exact", s.exact[k]);
          out.attribute(p + "sample", "axis", std::string(std::string(stage).find("reverse") != std::string::npos
                                                              ? "/reverse/s"
                                                              : "/time"));
          out.attribute(p + "sample", "definition", observables_.list()[k].description);
        }
      }
      os << observable_table("Forward", "forward", "t", times_);
      os << observable_table(jump_ ? "Reverse jump process" : "Bayes denoising", "reverse", "s", reverse_clocks_);
      if (jump_) {
        out.attribute(d + "reverse/" + observables_.list()[0].name + "/sample", "thinning_candidates", candidates_);
        out.attribute(d + "reverse/" + observables_.list()[0].name + "/sample", "thinning_flips", flips_);
        std::snprintf(line, sizeof line,
                      "Reverse jump process: %.0f flips from %.0f thinning candidates (%.1f%% accepted), %.2f flips "
                      "per configuration\n",
                      flips_, candidates_, candidates_ > 0 ? 100 * flips_ / candidates_ : 0.0,
                      flips_ / static_cast<double>(particles_));
        os << line;
      }
    }
    return os.str();
  }

 private:
  // This rank's block of the exact P_t on all states (MPS).
  void exact_block(double t, std::vector<double>& owned) const {
    const Slab& slab = states_->slab();
    owned.resize(static_cast<std::size_t>(slab.count[0]));
    law_.at(t).probabilities(slab.start[0], slab.count[0], owned.data());
  }

  double pde_step() const { return horizon_ / static_cast<double>(pde_steps_); }

  std::unique_ptr<Stage> forward_pde_stage() {
    std::vector<double> p0;
    exact_block(0, p0);
    auto me = std::make_unique<ForwardMasterEquation>(*states_, law_.gamma(), states_->create_vector(p0), pde_step());
    kernel_flips_ = std::make_unique<SiteFlips>(*states_, 1);
    ghost_mib_ = static_cast<double>(me->flips().ghost_doubles()) * 8.0 / 1048576.0;
    ghost_mib_ = max_over_ranks(comm_, ghost_mib_);
    PdeStage::Hooks hooks;
    hooks.prepare_output = [this](OutputFile& out) {
      out.create_series("/pde/probability", "/time", static_cast<std::int64_t>(times_.size()), states_->slab());
    };
    hooks.at_stop = [this](std::size_t j, double t, const DensitySolver& pde, StageContext& ctx) {
      std::vector<double> block = StateVectorSpace::owned_values(pde.density()), exact, kernel;
      ctx.out().write_entry("/pde/probability", static_cast<std::int64_t>(j), states_->slab(), block);
      ctx.out().flush();
      exact_block(t, exact);
      exact_block(0, kernel);
      Vec v = states_->create_vector(kernel);
      try {
        apply_flip_kernel(*kernel_flips_, v, law_.gamma(), t);
        kernel = StateVectorSpace::owned_values(v);
      } catch (...) {
        VecDestroy(&v);
        throw;
      }
      VecDestroy(&v);
      pde_to_kernel_[j] = sum_l1(comm_, block, kernel);
      pde_to_mps_[j] = sum_l1(comm_, block, exact);
      kernel_to_mps_[j] = sum_l1(comm_, kernel, exact);
      ctx.store().put("probability", t, *states_, std::move(block), 1,
                      FieldStore::Backing{"/pde/probability", static_cast<std::int64_t>(j)});
    };
    hooks.finish = [this](const DensitySolver& pde, StageContext&) { forward_steps_ = pde.steps(); };
    return std::make_unique<PdeStage>(std::move(me), times_, hooks);
  }

  std::unique_ptr<Stage> reverse_pde_stage() {
    std::vector<double> q0;
    exact_block(horizon_, q0);
    auto law = [this](double tau, std::vector<double>& owned) { exact_block(tau, owned); };
    const double dt = (horizon_ - t_min_) / static_cast<double>(pde_steps_);
    auto me = std::make_unique<ReverseMasterEquation>(*states_, law_.gamma(), horizon_, states_->create_vector(q0), dt,
                                                      law);
    PdeStage::Hooks hooks;
    hooks.prepare_output = [this](OutputFile& out) {
      out.create_series("/reverse/pde/probability", "/reverse/s", static_cast<std::int64_t>(times_.size()),
                        states_->slab());
    };
    hooks.at_stop = [this](std::size_t j, double s, const DensitySolver& pde, StageContext& ctx) {
      std::vector<double> block = StateVectorSpace::owned_values(pde.density()), exact;
      ctx.out().write_entry("/reverse/pde/probability", static_cast<std::int64_t>(j), states_->slab(), block);
      ctx.out().flush();
      exact_block(horizon_ - s, exact);
      reverse_pde_to_exact_[j] = sum_l1(comm_, block, exact);
      if (j + 1 == reverse_clocks_.size()) {
        exact_block(0, exact);
        reverse_pde_to_data_ = sum_l1(comm_, block, exact);
      }
      ctx.store().put("reverse_probability", s, *states_, std::move(block), 1,
                      FieldStore::Backing{"/reverse/pde/probability", static_cast<std::int64_t>(j)});
    };
    hooks.finish = [this](const DensitySolver& pde, StageContext&) { reverse_steps_ = pde.steps(); };
    return std::make_unique<PdeStage>(std::move(me), reverse_clocks_, hooks);
  }

  // Collective. Sample means and standard errors of the observables at
  // output j, and their exact values under P_t.
  void observe(ObservableSeries& s, std::size_t j, double t, const Ensemble& e) {
    const std::size_t k = observables_.list().size();
    std::vector<double> sums(2 * k, 0.0), v(k);
    std::vector<std::uint8_t> x(static_cast<std::size_t>(e.sites));
    for (std::int64_t u = 0; u < e.count; ++u) {
      unpack(e, u, x.data());
      observables_.values(x.data(), v.data());
      for (std::size_t a = 0; a < k; ++a) sums[a] += v[a], sums[k + a] += v[a] * v[a];
    }
    sum_over_ranks(comm_, sums.data(), static_cast<int>(sums.size()));
    // exact and forward share their times, as do exact_reverse and reverse.
    auto cached = exact_observables_.find(t);
    if (cached == exact_observables_.end()) cached = exact_observables_.emplace(t, observables_.exact(law_.at(t))).first;
    const std::vector<double>& exact = cached->second;
    const auto n = static_cast<double>(e.total);
    for (std::size_t a = 0; a < k; ++a) {
      const double mean = sums[a] / n;
      s.sample[a][j] = mean;
      s.stderr_[a][j] = std::sqrt(std::max(sums[k + a] / n - mean * mean, 0.0) / std::max(n - 1, 1.0));
      s.exact[a][j] = exact[a];
    }
  }

  std::string observable_table(const std::string& title, const std::string& stage, const std::string& clock,
                               const std::vector<double>& clocks) const {
    const ObservableSeries& s = series_.at(stage);
    std::ostringstream os;
    char cell[128];
    os << "\n" << title << ": observables of " << particles_ << " configurations against their exact values (MPS);"
       << " z = (sample − exact)/s.e.\n";
    std::snprintf(cell, sizeof cell, "%7s", clock.c_str());
    os << cell;
    for (const auto& o : observables_.list()) {
      std::snprintf(cell, sizeof cell, " | %-29s", o.name.c_str());
      os << cell;
    }
    os << "\n" << std::string(7, ' ');
    for (std::size_t a = 0; a < observables_.list().size(); ++a) {
      std::snprintf(cell, sizeof cell, " | %10s %10s %6s", "exact", "sample", "z");
      os << cell;
    }
    os << "\n";
    for (std::size_t j = 0; j < clocks.size(); ++j) {
      std::snprintf(cell, sizeof cell, "%7.4f", clocks[j]);
      os << cell;
      for (std::size_t a = 0; a < observables_.list().size(); ++a) {
        const double z = s.stderr_[a][j] > 0 ? (s.sample[a][j] - s.exact[a][j]) / s.stderr_[a][j] : 0.0;
        std::snprintf(cell, sizeof cell, " | %10.5f %10.5f %6.2f", s.exact[a][j], s.sample[a][j], z);
        os << cell;
      }
      os << "\n";
    }
    return os.str();
  }

  // The model's closed forms against the MPS (docs/spin.md (S9)–(S11)).
  std::string closed_forms(OutputFile& out) const {
    std::ostringstream os;
    char line[300];
    const std::string d = "/diagnostics/spin/closed_form/";
    const Mps& p0 = law_.data();
    if (model_.kind == ModelKind::kIsing1d && model_.h == 0) {
      const double exact = ising1d_log_z_free(model_.length, model_.beta, model_.J);
      // ⟨s_i s_{i+1}⟩_t = e^{−4γt} tanh(βJ), against the MPS of P_t.
      std::vector<double> mps, closed;
      for (double t : times_) {
        const Mps pt = law_.at(t);
        mps.push_back(pt.correlation(0, 1));
        closed.push_back(std::exp(-4 * law_.gamma() * t) * std::tanh(model_.beta * model_.J));
      }
      double worst = 0;
      for (std::size_t j = 0; j < mps.size(); ++j) worst = std::max(worst, std::abs(mps[j] - closed[j]));
      out.write_vector(d + "correlation_1_mps", mps);
      out.write_vector(d + "correlation_1_exact", closed);
      out.attribute(d + "correlation_1_mps", "log_z_mps", p0.log_z());
      out.attribute(d + "correlation_1_mps", "log_z_exact", exact);
      std::snprintf(line, sizeof line,
                    "Closed forms: log Z = %.12f (MPS) vs %.12f (2 (2 cosh βJ)^(L−1)); ⟨s_1 s_2⟩_t = e^(−4γt) "
                    "tanh βJ: largest error over t %.2e\n",
                    p0.log_z(), exact, worst);
      os << line;
    } else if (model_.kind == ModelKind::kFredkin) {
      const double y = std::sqrt(model_.c / (1 - model_.c));
      const double exact = fredkin_log_partition(model_.length / 2, y);
      out.write_vector(d + "log_z", {p0.log_z(), exact});
      std::snprintf(line, sizeof line, "Closed forms: log Z = %.12g (MPS) vs %.12g (first-return recursion, y = %.4f)\n",
                    p0.log_z(), exact, y);
      os << line;
    } else if (model_.kind == ModelKind::kIsing2d && model_.J == 1 && model_.h == 0 && model_.beta > 0) {
      const double u = observables_.exact(p0)[0], onsager = onsager_energy(model_.beta);
      out.write_vector(d + "energy_per_site", {u, onsager});
      std::snprintf(line, sizeof line,
                    "Energy per site at t = 0: %.6f on the %d × %d cylinder (MPS) vs Onsager's %.6f for the infinite "
                    "lattice (difference %.2e, finite size)\n",
                    u, model_.width, model_.length, onsager, u - onsager);
      os << line;
    }
    return os.str();
  }

  std::vector<std::pair<std::string, std::vector<double>*>> diagnostics() {
    return {{"pde_l1_to_kernel", &pde_to_kernel_},
            {"pde_l1_to_mps", &pde_to_mps_},
            {"kernel_l1_to_mps", &kernel_to_mps_},
            {"reverse_pde_l1_to_exact", &reverse_pde_to_exact_}};
  }

  MPI_Comm comm_;
  ModelSpec model_;
  NoisedLaw law_;
  ModelObservables observables_;
  double horizon_;
  std::int64_t pde_steps_, particles_;
  std::uint64_t seed_;
  bool jump_, pde_on_, particles_on_, full_space_ = false, law_on_ = false;
  double t_min_ = 0;
  std::vector<double> times_, reverse_clocks_;
  const StateVectorSpace* states_ = nullptr;
  const BinSpace* bins_ = nullptr;
  FieldStore* store_ = nullptr;
  std::unique_ptr<SiteFlips> kernel_flips_;
  std::vector<double> pde_to_kernel_, pde_to_mps_, kernel_to_mps_, reverse_pde_to_exact_;
  double reverse_pde_to_data_ = kNaN, ghost_mib_ = 0, candidates_ = 0, flips_ = 0;
  std::int64_t forward_steps_ = 0, reverse_steps_ = 0;
  std::map<std::string, ObservableSeries> series_;
  std::map<double, std::vector<double>> exact_observables_;  ///< exact values of the observables under P_t, by t
};

}  // namespace

Family family() {
  return {"spin",
          "discrete diffusion of lattice spins by independent flips, exact with tensor networks (docs/spin.md)",
          declare,
          [](const Config& c, MPI_Comm comm) -> std::unique_ptr<Experiment> {
            if (c.choice("spin.mode") == "monte_carlo") return make_monte_carlo(c, comm);
            return std::make_unique<SpinExperiment>(c, comm);
          },
          false,
          {{"time.end", "1.5"}, {"particles.count", "10000"}}};
}

}  // namespace twinflow::spin
