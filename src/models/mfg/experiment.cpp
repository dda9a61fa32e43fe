// The `mfg` family: score-based generation as a Wasserstein proximal
// operator whose optimality system is a mean-field game, linearised by
// Cole–Hopf into a heat equation (docs/mfg.md (M1)–(M7)). On
// the density-twin layout, in the heat clock τ = T − t of the game:
//   pde      η(·, τ) = H * N(0, 2βτ I) by the finite-volume heat equation
//            ∂_τ η = β Δη from the terminal law H of the score (η_T up to
//            normalisation: the data law π^{1/(2β)} for the exact score,
//            the training points for the empirical one);
//   forward  the heat process from H, against η;
//   reverse  the generative SDE with the chosen score (exact transitions,
//            samplers.hpp), against η at T − s;
// the stage `controlled`, the game's forward controlled Fokker–Planck
// equation driven by the chosen score's Φ (controlled_fokker_planck.hpp),
// against η; and a stage `reverse_<score>` for each other score available (exact,
// empirical, kernel), side by side, with the memorisation of every score
// against the data's baseline. The kernel score is trained when the run is
// set up (kernel_fit.hpp), before the PDE takes its η_T; a restarted run
// takes it from the checkpoint.
#include <petscmat.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "controlled_fokker_planck.hpp"
#include "data.hpp"
#include "kernel_fit.hpp"
#include "potential_measures.hpp"
#include "memorisation.hpp"
#include "samplers.hpp"
#include "twinflow/compare/metrics.hpp"
#include "twinflow/compare/sample_metrics.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/exact_sum.hpp"
#include "twinflow/core/petsc_error.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"
#include "twinflow/pde/flux_operator.hpp"
#include "twinflow/pde/ts_evolution.hpp"
#include "twinflow/run/density_twin.hpp"

namespace twinflow::mfg {
namespace {

/// Data points of the memorisation baseline (at most).
constexpr std::int64_t kBaselinePoints = 20000;

void declare(OptionSet& o) {
  o.add("mfg.data", kDefaultData,
        "data law π: a Gaussian mixture in the ou.target syntax, toy:NAME (a 2-D toy set; on a plane in 4 or more "
        "dimensions), or file:PATH (one "
        "point per line)",
        Accept::any_text("'weight:mean:variance' joined by ';', toy:NAME (8gaussians, checkerboard, 2spirals, "
                         "swissroll, moons, pinwheel, circles, rings) or file:PATH"));
  o.add("mfg.train", "500", "training points drawn from the data with the seed (the empirical score's point masses)",
        Accept::integer(1, 1e7));
  o.add("mfg.beta", "0.5", "diffusion β of the mean-field game; the score targets η_T = π^{1/(2β)}",
        Accept::positive_real());
  o.add("mfg.score", "exact",
        "score of the generative SDE: exact (the closed form, mixture data), empirical (the training points) or "
        "kernel (trained, mfg.kernel.*); the others run beside it when available",
        Accept::choice({"exact", "empirical", "kernel"}));
  o.add("mfg.steps", "50", "steps N of the generative sampler over [0, T] (exact transitions: N places the outputs)",
        Accept::integer(1, 1e9));
  declare_kernel_options(o);
}

/// A score of the generative SDE, given by its terminal law H (η_T ∝ H).
struct ScoreRun {
  std::string name;
  GaussianMixture terminal;
};

// The exact score's H = π^{1/(2β)} / Z, or the reason it has none and what
// is accepted instead.
std::optional<GaussianMixture> exact_terminal(const DataSource& data, double beta, std::string& why) {
  if (!data.mixture()) {
    why = "needs mfg.data to be a Gaussian mixture (a toy set or a file of points has no closed-form score); "
          "accepted: empirical";
    return std::nullopt;
  }
  const GaussianMixture& pi = *data.mixture();
  if (beta == 0.5) return pi;
  if (pi.components().size() != 1) {
    why = "with mfg.beta other than 0.5 needs a one-component mixture (π^{1/(2β)} of a mixture is not a mixture); "
          "accepted: empirical, or exact with mfg.beta=0.5";
    return std::nullopt;
  }
  // N(m, Σ)^{1/(2β)} ∝ N(m, 2β Σ).
  GaussianComponent c = pi.components().front();
  for (double& v : c.covariance) v *= 2 * beta;
  return GaussianMixture("mfg.data", pi.dim(), {c});
}

class MfgExperiment : public DensityTwinExperiment {
 public:
  MfgExperiment(const Config& c, MPI_Comm comm)
      : DensityTwinExperiment(c, Layout{static_cast<int>(c.integer("grid.dim")), c.integer("mfg.steps")}),
        comm_(comm),
        data_(c.text("mfg.data"), dim(), c.integer("mfg.train"), seed()),
        beta_(c.real("mfg.beta")),
        steps_(c.integer("mfg.steps")) {
    std::string why;
    main_score_ = c.choice("mfg.score");
    exact_ = exact_terminal(data_, beta_, why);
    if (main_score_ == "exact" && !exact_) throw UsageError("mfg.score", "'exact' " + why);
    // Beside another score the kernel is a particle-side comparison only.
    if (main_score_ == "kernel" || particles_on()) kernel_ = plan_kernel_score(c, data_, beta_, main_score_ == "kernel");
  }

  // Trains the kernel score (unless restored), then lines the scores up.
  void prepare(bool restored) override {
    if (kernel_ && !restored) kernel_->train(comm_, data_);
    // The chosen score first, then the others in a fixed order.
    std::vector<ScoreRun> available;
    if (exact_) available.push_back({"exact", *exact_});
    available.push_back({"empirical", data_.training_law()});
    if (kernel_) available.push_back({"kernel", kernel_->terminal});
    for (ScoreRun& r : available)
      if (r.name == main_score_) scores_.push_back(r);
    for (ScoreRun& r : available)
      if (r.name != main_score_) scores_.push_back(std::move(r));
    memorisation_.assign(4 * scores_.size(), NAN);
    generalisation_.assign(kGeneralisationColumns * scores_.size(), NAN);
    plane_distance_.assign(scores_.size(), NAN);
    hjb_residual_.assign(snapshot_times().size(), NAN);
    running_cost_.assign(kCostStops + 1, NAN);
    if (has_grid() && pde_on()) controlled_.assign(3 * snapshot_times().size(), NAN);
  }

  std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid) override {
    Mat heat = assemble_drift_diffusion(grid, [](int, const double*) { return 0.0; });
    TF_CHECK_PETSC(MatScale(heat, beta_));
    return linear_density_solver(grid, heat);
  }

  std::string describe_solver(const DensitySolver& pde) const override {
    char line[200];
    std::snprintf(line, sizeof line,
                  "[pde      ] heat equation d_tau eta = beta Lap eta (tau = T - t, beta = %g) from the %s score's H, "
                  "step %.3g",
                  beta_, scores_.front().name.c_str(), dynamic_cast<const TsEvolution&>(pde).nominal_step());
    return line;
  }

  bool exact_density(double tau, const Grid& grid, std::vector<double>& owned) const override {
    cell_averages(law_at(0, tau), grid, owned);
    return true;
  }

  void checkpoint(CheckpointArchive& a) override {
    a.replicated("memorisation", memorisation_);
    a.replicated("generalisation", generalisation_);
    a.replicated("plane_distance", plane_distance_);
    a.replicated("hjb_residual", hjb_residual_);
    a.replicated("running_cost", running_cost_);
    a.replicated("controlled", controlled_);
    a.replicated("controlled_data_l1", controlled_data_l1_);
  }

  void checkpoint_prepared(CheckpointArchive& a) override {
    if (!kernel_) return;
    CheckpointArchive k = a.scope("kernel");
    kernel_->checkpoint(k);
  }

  void observe_snapshot(std::size_t j, double, const GridSpace& grid, const std::vector<double>& eta) override {
    hjb_residual_[j] = measure_potential(grid.grid(), eta, beta_).residual;
  }

  // The game's running cost on the PDE's η at the heat times τ_k = T (k/K)²,
  // K = kCostStops (clustered at τ = 0, where η is narrowest and the cost
  // changes fastest).
  double cost_time(int k) const { return horizon() * (static_cast<double>(k) / kCostStops) * k / kCostStops; }

  std::vector<double> extra_stops() const override {
    std::vector<double> stops;
    for (int k = 0; k <= kCostStops; ++k) stops.push_back(cost_time(k));
    return stops;
  }

  void observe_stop(double tau, const GridSpace& grid, const std::vector<double>& eta) override {
    const int k = static_cast<int>(std::lround(std::sqrt(tau / horizon()) * kCostStops));
    if (k > kCostStops || std::abs(tau - cost_time(k)) > 1e-12 * horizon()) return;
    running_cost_[static_cast<std::size_t>(k)] = measure_potential(grid.grid(), eta, beta_).kinetic;
  }

  std::string report(OutputFile& out) override {
    const std::string hjb = has_grid() && pde_on() ? hjb_report(out) + controlled_report() : std::string();
    if (!particles_on()) return hjb;
    const Memorisation base = baseline();
    std::vector<std::vector<double>> columns(4);
    for (std::size_t r = 0; r < scores_.size(); ++r)
      for (int k = 0; k < 4; ++k) columns[k].push_back(memorisation_[4 * r + k]);
    for (int k = 0; k < 4; ++k)
      columns[k].push_back(std::array{base.fraction, base.fraction_stderr, base.nn_training, base.nn_fresh}[k]);
    const char* names[4] = {"fraction", "fraction_stderr", "nn_distance_training", "nn_distance_fresh"};
    for (int k = 0; k < 4; ++k) out.write_vector(std::string("/mfg/memorisation/") + names[k], columns[k]);
    out.attribute("/mfg/memorisation", "rows", score_rows() + ",data baseline");
    out.attribute("/mfg/memorisation", "criterion", "|x - NN1| < |x - NN2| / 3 over the training points, at s = T");
    const std::int64_t n = data_.train_count(), d = dim();
    out.write_array("/mfg/training_points", {n, d}, data_.training());
    out.write_array("/mfg/fresh_points", {static_cast<std::int64_t>(data_.fresh().size()) / d, d}, data_.fresh());
    out.attribute("/mfg", "beta", beta_);
    out.attribute("/mfg", "data", data_.kind());
    if (kernel_) write_kernel(out);
    // Collective writes in one order on every rank.
    const std::string memorisation = table(columns), generalisation = generalisation_table(out),
                      manifold = manifold_table(out);
    return hjb + memorisation + generalisation + manifold + kernel_line();
  }

 protected:
  std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble units) override {
    return std::make_unique<HeatForwardSampler>(std::move(units), scores_.front().terminal, beta_, seed());
  }

  std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble units, FieldStore&) override {
    return bridge_sampler(0, std::move(units));
  }

  void observe_samples(std::size_t j, double, bool reverse, const ParticleSampler& s,
                       const std::vector<double>*) override {
    if (reverse && j + 1 == reverse_output_steps().size()) measure(0, s.ensemble());
  }

  std::unique_ptr<ReferenceLaw> forward_law(double tau) const override {
    return std::make_unique<MixtureLaw>(law_at(0, tau));
  }

  std::unique_ptr<ReferenceLaw> reverse_law(std::int64_t, double s) const override {
    return std::make_unique<MixtureLaw>(law_at(0, std::max(horizon() - s, 0.0)));
  }

  void customise_twins(Twin&, Twin& reverse, std::vector<Twin>& more, RunSetup&) override {
    reverse.title += "\n(" + scores_.front().name + " score, " + std::to_string(steps_) +
                     " exact heat-bridge steps)";
    for (std::size_t r = 1; r < scores_.size(); ++r) {
      Twin t = reverse;
      t.name = t.stage = "reverse_" + scores_[r].name;
      t.title = "Generative, side by side: the " + scores_[r].name +
                " score from its own prior, against its closed-form eta at T - s";
      t.reference_name = has_grid() ? "exact" : "law";
      if (has_grid())
        t.reference = [this, r](std::size_t, double s, std::vector<double>& owned) {
          cell_averages(law_at(r, std::max(horizon() - s, 0.0)), grid()->grid(), owned);
          return true;
        };
      else
        t.law = [this, r](std::size_t, double s) {
          return std::make_unique<MixtureLaw>(law_at(r, std::max(horizon() - s, 0.0)));
        };
      more.push_back(std::move(t));
    }
  }

  std::vector<std::string> family_stages() const override {
    std::vector<std::string> names;
    if (has_grid() && pde_on()) names.push_back("controlled");
    if (particles_on())
      for (std::size_t r = 1; r < scores_.size(); ++r) names.push_back("reverse_" + scores_[r].name);
    return names;
  }

  std::unique_ptr<Stage> make_family_stage(const std::string& name, RunSetup& setup) override {
    if (name == "controlled") return controlled_stage(setup);
    for (std::size_t r = 1; r < scores_.size(); ++r) {
      if (name != "reverse_" + scores_[r].name) continue;
      SamplerStage::Plan plan;
      plan.clock = "s";
      plan.clocks = reverse_output_times();
      plan.steps = reverse_output_steps();
      plan.step_clock = reverse_step();
      plan.units = particle_count();
      plan.dim = dim();
      plan.space = grid();
      if (has_grid()) plan.histogram_series = "/" + name + "/histogram";
      plan.axis = "/reverse/time";
      auto observe = [this, r](std::size_t j, double, const ParticleSampler& s, const std::vector<double>*) {
        if (j + 1 == reverse_output_steps().size()) measure(r, s.ensemble());
      };
      return std::make_unique<SamplerStage>(
          setup.comm, [this, r](Ensemble units) { return bridge_sampler(r, std::move(units)); }, plan, observe);
    }
    return DensityTwinExperiment::make_family_stage(name, setup);
  }

 private:
  // Collective. The stage `controlled`: the game's forward equation in its
  // own clock t, driven by the main score's Φ = 2β log η, through the
  // snapshot times; at each, ρ_t against the closed form η_t (heat time
  // τ = T − t) of the terminal law it carries and against the heat PDE's η
  // at τ = T − t, and at t = T against the data law.
  std::unique_ptr<Stage> controlled_stage(RunSetup& setup) {
    const GridSpace& g = *grid();
    const GaussianMixture terminal = grid_terminal(scores_.front().terminal, g.box());  // what ρ carries
    controlled_grid_ = std::make_unique<Grid>(g.grid(), 1, 1);
    auto solver = controlled_fokker_planck(*controlled_grid_, terminal, beta_, horizon(), pde_step());
    const LinearEvolution* fp = solver.get();
    char line[200];
    std::snprintf(line, sizeof line,
                  "[controlled] d_t rho + div(rho grad Phi) = beta Lap rho, Phi = 2 beta log eta of the %s score, "
                  "step %.3g",
                  scores_.front().name.c_str(), solver->nominal_step());
    setup.progress.note(line);
    const std::size_t n = snapshot_times().size();
    PdeStage::Hooks hooks;
    hooks.prepare_output = [this, &g, n](OutputFile& out) {
      out.create_series("/controlled/density", "/controlled/time", static_cast<std::int64_t>(n), g.slab());
      out.write_vector("/controlled/time", snapshot_times());
    };
    hooks.at_stop = [this, &g, terminal, n, fp](std::size_t i, double t, const DensitySolver&, StageContext& ctx) {
      std::vector<double> rho, reference;
      controlled_grid_->owned_values(fp->density(), rho);
      {
        auto io = ctx.timer().scope("io");
        ctx.out().write_entry("/controlled/density", static_cast<std::int64_t>(i), g.slab(), rho);
        ctx.out().flush();
      }
      auto c = ctx.timer().scope("compare");
      controlled_[i] = fp->mass();
      cell_averages(heat_marginal(terminal, 2 * beta_ * std::max(horizon() - t, 0.0)), g.grid(), reference);
      controlled_[n + i] = compare(comm_, g.box(), reference, rho, 0).l1;
      const std::vector<double>& heat_pde = ctx.store().owned("density", snapshot_times()[n - 1 - i]);
      controlled_[2 * n + i] = compare(comm_, g.box(), heat_pde, rho, 0).l1;
      if (i + 1 == n && data_.mixture()) {
        cell_averages(*data_.mixture(), g.grid(), reference);
        controlled_data_l1_[0] = compare(comm_, g.box(), reference, rho, 0).l1;
      }
    };
    hooks.finish = [this, n](const DensitySolver& pde, StageContext& ctx) {
      auto io = ctx.timer().scope("io");
      OutputFile& out = ctx.out();
      const char* names[3] = {"mass", "eta_exact_l1", "eta_pde_l1"};
      for (std::size_t k = 0; k < 3; ++k)
        out.write_vector(std::string("/compare/controlled/") + names[k],
                         std::vector<double>(controlled_.begin() + static_cast<std::ptrdiff_t>(k * n),
                                             controlled_.begin() + static_cast<std::ptrdiff_t>((k + 1) * n)));
      out.attribute("/compare/controlled", "definition",
                    "L1 of the controlled Fokker-Planck density rho at game time t (/controlled/time) against the "
                    "closed-form eta at heat time tau = T - t of the terminal law it carries (eta_exact_l1) and "
                    "against the heat PDE's eta at tau = T - t (eta_pde_l1; for point masses this also holds the "
                    "cell variance h^2/12 the controlled equation gives them, which the heat PDE does not); "
                    "data_l1: rho_T against the data law's cell averages");
      out.attribute("/compare/controlled", "data_l1", controlled_data_l1_[0]);
      out.attribute("/controlled/density", "steps", pde.steps());
      out.attribute("/controlled/density", "max_relative_mass_drift", pde.max_mass_drift());
      out.attribute("/controlled/density", "score", scores_.front().name);
      out.flush();
    };
    // What at_stop accumulates is kept with the experiment's results (checkpoint()).
    return std::make_unique<PdeStage>(std::move(solver), snapshot_times(), std::move(hooks));
  }

  // The printed table of the stage `controlled`.
  std::string controlled_report() const {
    if (controlled_.empty()) return {};
    const std::size_t n = snapshot_times().size();
    std::ostringstream os;
    char line[200];
    os << "\nControlled Fokker-Planck d_t rho + div(rho grad Phi) = beta Lap rho (game time t, the "
       << scores_.front().name << " score's Phi;\nits solution is eta at heat time tau = T - t, docs/mfg.md (M3)):\n";
    std::snprintf(line, sizeof line, "%8s | %14s | %14s %14s\n", "t", "mass", "L1 eta exact", "L1 eta PDE");
    os << line;
    for (std::size_t i = 0; i < n; ++i) {
      std::snprintf(line, sizeof line, "%8.4f | %14.10f | %14.4e %14.4e\n", snapshot_times()[i], controlled_[i],
                    controlled_[n + i], controlled_[2 * n + i]);
      os << line;
    }
    if (data_.mixture()) {
      std::snprintf(line, sizeof line, "rho_T against the data law pi: L1 %.4e\n", controlled_data_l1_[0]);
      os << line;
    }
    return os.str();
  }

  // η of score r at heat time τ, normalised: H_r * N(0, 2βτ I).
  GaussianMixture law_at(std::size_t r, double tau) const { return heat_marginal(scores_[r].terminal, 2 * beta_ * tau); }

  std::unique_ptr<ParticleSampler> bridge_sampler(std::size_t r, Ensemble units) const {
    return std::make_unique<BridgeSampler>(std::move(units), scores_[r].terminal, beta_, horizon(),
                                           steps_, seed());
  }

  // Collective. The memorisation of score r's generated samples, and their
  // distance to the data law: the mean log π (mixture data) and the sliced
  // W1 to as many points of the law, ids beyond the memorisation
  // baseline's (NaN for a point file, which has no law to draw from).
  void measure(std::size_t r, const Ensemble& e) {
    if (data_.embedded()) plane_distance_[r] = mean_plane_distance(e.x.data(), e.count, e.total);
    if (data_.has_law()) {
      double* g = generalisation_.data() + kGeneralisationColumns * r;
      const std::vector<double> reference = data_.baseline(kBaselinePoints + e.first_id, e.count);
      if (data_.mixture()) {
        const MixtureLaw law(*data_.mixture());
        if (law.has_density()) {  // not with a point-mass component
          const LogLikelihood l = mean_log_likelihood(comm_, e, reference, law);
          g[0] = l.mean, g[1] = l.reference, g[2] = l.standard_error;
        }
      }
      const SlicedDistance w = sliced_w1(comm_, e, reference);
      g[3] = w.w1, g[4] = w.noise;
    }
    const Memorisation m =
        measure_memorisation(comm_, e.x.data(), e.count, e.total, dim(), data_.training(), data_.fresh());
    const double values[4] = {m.fraction, m.fraction_stderr, m.nn_training, m.nn_fresh};
    std::copy(values, values + 4, memorisation_.begin() + static_cast<std::ptrdiff_t>(4 * r));
  }

  // Collective. Fresh data against the training points: new points of the
  // law, or a file's held-out points (which are then the fresh set too, so
  // their distance to it is not reported).
  Memorisation baseline() const {
    if (!data_.has_law()) {
      const auto count = static_cast<std::int64_t>(data_.fresh().size()) / dim();
      int rank = 0;
      MPI_Comm_rank(comm_, &rank);
      return measure_memorisation(comm_, data_.fresh().data(), rank == 0 ? count : 0, count, dim(), data_.training(),
                                  {});
    }
    const Ensemble e = Ensemble::partition(comm_, std::min(kBaselinePoints, particle_count()), dim());
    const std::vector<double> x = data_.baseline(e.first_id, e.count);
    return measure_memorisation(comm_, x.data(), e.count, e.total, dim(), data_.training(), data_.fresh());
  }

  // Collective. /mfg/kernel: the centres, the precisions (one block when
  // shared) and the training's figures.
  void write_kernel(OutputFile& out) const {
    const KernelFit& k = *kernel_;
    const std::int64_t d = dim();
    out.write_array("/mfg/kernel/centres", {k.centres, d},
                    std::vector<double>(data_.training().begin(), data_.training().begin() + k.centres * d));
    out.write_array("/mfg/kernel/precision", {static_cast<std::int64_t>(k.precisions.size()) / (d * d), d, d},
                    k.precisions);
    out.attribute("/mfg/kernel", "covariance", k.covariance);
    out.attribute("/mfg/kernel", "samples", k.samples);
    out.attribute("/mfg/kernel", "delta", k.delta);
    out.attribute("/mfg/kernel", "starting_bandwidth", k.bandwidth);
    out.attribute("/mfg/kernel", "loss", k.training.value);
    out.attribute("/mfg/kernel", "iterations", k.training.iterations);
    out.attribute("/mfg/kernel", "tao_reason", k.training.reason);
    out.attribute("/mfg/kernel", "training_seconds", k.seconds);
  }

  std::string kernel_line() const {
    if (!kernel_) return {};
    const KernelFit& k = *kernel_;
    char line[400];
    std::snprintf(line, sizeof line,
                  "Kernel score: %lld centres, %s covariance, trained on %lld held-out training points by TAO "
                  "BLMVM from bandwidth %.3g: loss %.6g after %lld iterations (%s), %.2f s%s\n",
                  static_cast<long long>(k.centres), k.covariance.c_str(), static_cast<long long>(k.samples),
                  k.bandwidth, k.training.value, static_cast<long long>(k.training.iterations),
                  k.training.reason.c_str(), k.seconds, k.restored ? " (taken from the checkpoint)" : "");
    return line;
  }

  // Collective. −∫ ρ log π for ρ given on this rank's block of the grid, by
  // the cell quadrature (NaN when the data law has no density).
  double cross_entropy(const std::vector<double>& rho) const {
    if (!data_.mixture() || !data_.mixture()->has_density()) return NAN;
    const MixtureScore pi(*data_.mixture());
    const Box& box = grid()->grid().box();
    double sum = 0, x[3] = {0, 0, 0};
    for_each_cell(grid()->grid().owned(), [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
      for (int a = 0; a < box.dim; ++a) x[a] = box.centre(a, idx[a]);
      if (rho[static_cast<std::size_t>(pos)] > 0) sum -= rho[static_cast<std::size_t>(pos)] * pi.log_density(x);
    });
    sum_over_ranks(comm_, &sum, 1);
    return sum * box.cell_volume();
  }

  // Collective. The differential entropy −∫ p log p of a density given on
  // this rank's block of the grid, by the cell quadrature.
  double entropy(const std::vector<double>& p) const {
    double sum = 0;
    for (double v : p)
      if (v > 0) sum -= v * std::log(v);
    sum_over_ranks(comm_, &sum, 1);
    return sum * grid()->grid().box().cell_volume();
  }

  // Collective. The game's cost of every score from the cell averages of its
  // closed forms: the running cost by de Bruijn, 2β [h(η at τ = T) − h(H)]
  // (d h(η_τ)/dτ = β I(η_τ) and the running cost is 2β² I), and F(ρ_T) =
  // −∫ H log π (ρ_T = η_T ∝ H). Rows in score order: de Bruijn, F.
  std::vector<std::array<double, 2>> closed_form_costs() const {
    std::vector<std::array<double, 2>> costs;
    std::vector<double> start, end;
    for (std::size_t r = 0; r < scores_.size(); ++r) {
      cell_averages(law_at(r, 0), grid()->grid(), end);
      cell_averages(law_at(r, horizon()), grid()->grid(), start);
      costs.push_back({2 * beta_ * (entropy(start) - entropy(end)), cross_entropy(end)});
    }
    return costs;
  }

  // Collective. /mfg/hjb_residual, /mfg/cost and their printed lines.
  std::string hjb_report(OutputFile& out) const {
    out.write_vector("/mfg/hjb_residual", hjb_residual_);
    out.attribute("/mfg/hjb_residual", "definition",
                  "eta-weighted mean |d_t Phi + |grad Phi|^2 / 2 + beta Lap Phi|, Phi = 2 beta log eta, on the "
                  "PDE's eta at every snapshot (heat clock), interior cells, central differences");
    std::ostringstream os;
    char line[160];
    os << "\nHJB residual of Phi = 2 beta log eta on the grid (eta-weighted mean |R|, O(h^2)):\n";
    const std::size_t last = hjb_residual_.size() - 1, stride = std::max<std::size_t>(1, last / 4);
    for (std::size_t j = 0; j <= last; j = j == last ? last + 1 : std::min(j + stride, last)) {
      std::snprintf(line, sizeof line, "  tau %.3g: %.3e", snapshot_times()[j], hjb_residual_[j]);
      os << line;
    }
    os << "\n";
    // Trapezoid rule over the heat times τ_k.
    double running = 0;
    for (int k = 0; k < kCostStops; ++k)
      running += 0.5 * (running_cost_[k] + running_cost_[k + 1]) * (cost_time(k + 1) - cost_time(k));
    const std::vector<std::array<double, 2>> costs = closed_form_costs();
    out.write_vector("/mfg/cost/running", running_cost_);
    out.attribute("/mfg/cost", "running_integral", running);
    out.attribute("/mfg/cost", "terminal", costs[0][1]);
    out.attribute("/mfg/cost", "total", running + costs[0][1]);
    out.attribute("/mfg/cost", "running_de_bruijn", costs[0][0]);
    out.attribute("/mfg/cost", "score", scores_.front().name);
    out.attribute("/mfg/cost", "definition",
                  "int_0^T int |grad Phi|^2 / 2 rho dx dt of the score run on the grid (rho = eta; running at "
                  "tau = T (k/64)^2, trapezoid) + F(rho_T) = -int rho_T log pi (terminal); running_de_bruijn: "
                  "2 beta [h(rho_0) - h(H)] by cell quadrature of the closed forms, what the running cost equals");
    std::vector<double> column[3];
    for (const auto& c : costs) {
      column[0].push_back(c[0]);
      column[1].push_back(c[1]);
      column[2].push_back(c[0] + c[1]);
    }
    const char* names[3] = {"running_de_bruijn", "terminal", "total"};
    for (int k = 0; k < 3; ++k) out.write_vector(std::string("/mfg/cost/by_score/") + names[k], column[k]);
    out.attribute("/mfg/cost/by_score", "rows", score_rows());
    out.attribute("/mfg/cost/by_score", "definition",
                  "every score's cost from the cell averages of its closed forms: running_de_bruijn 2 beta "
                  "[h(rho_0) - h(H)], terminal F(rho_T) = -int H log pi, total their sum; point masses count as "
                  "their cells' averages, so the empirical score's running cost grows without bound as the cells "
                  "shrink (by 2 beta d log 2 per halving once no two points share a cell)");
    os << "\nMean-field-game cost int_0^T int |grad Phi|^2 / 2 rho dx dt + F(rho_T), F = -int rho_T log pi"
       << " (cell quadrature;\nrunning by de Bruijn's 2 beta [h(rho_0) - h(H)] for every score, on the PDE's eta for "
       << "the first):\n";
    std::snprintf(line, sizeof line, "%-16s | %13s %13s | %11s | %11s\n", "score", "running PDE", "de Bruijn",
                  "F(rho_T)", "total");
    os << line;
    for (std::size_t r = 0; r < scores_.size(); ++r) {
      char pde[32] = "-";
      if (r == 0) std::snprintf(pde, sizeof pde, "%.6g", running);
      std::snprintf(line, sizeof line, "%-16s | %13s %13.6g | %11.6g | %11.6g\n", scores_[r].name.c_str(), pde,
                    costs[r][0], costs[r][1], costs[r][0] + costs[r][1]);
      os << line;
    }
    return os.str();
  }

  // Collective. The mean distance of `count` points (of `total` over the
  // ranks) to the plane the data lie on, summed exactly.
  double mean_plane_distance(const double* x, std::int64_t count, std::int64_t total) const {
    FixedPointSum sum(1, kPlaneDistanceBits);
    for (std::int64_t p = 0; p < count; ++p) sum.add(0, data_.plane_distance(x + p * dim()));
    return sum.reduce(comm_)[0] / static_cast<double>(total);
  }

  // Collective. /mfg/manifold and its printed lines (embedded toy sets only).
  std::string manifold_table(OutputFile& out) const {
    if (!data_.embedded()) return {};
    const Ensemble e = Ensemble::partition(comm_, std::min(kBaselinePoints, particle_count()), dim());
    const std::vector<double> fresh = data_.baseline(e.first_id, e.count);
    std::vector<double> column = plane_distance_;
    column.push_back(mean_plane_distance(fresh.data(), e.count, e.total));
    out.write_vector("/mfg/manifold/plane_distance", column);
    out.attribute("/mfg/manifold", "rows", score_rows() + ",data baseline");
    out.attribute("/mfg/manifold", "criterion",
                  "mean distance at s = T to the plane the 2-D toy set is embedded in (by a fixed rotation)");
    std::ostringstream os;
    char line[200];
    os << "\nDistance to the data's plane at s = T (the toy set embedded in " << dim() << " dimensions):\n";
    for (std::size_t r = 0; r < column.size(); ++r) {
      std::snprintf(line, sizeof line, "%-16s | %12.4e\n", r < scores_.size() ? scores_[r].name.c_str() : "data (baseline)",
                    column[r]);
      os << line;
    }
    return os.str();
  }

  // The scores' names in run order, joined by ',': the `rows` attribute of
  // the family's tables.
  std::string score_rows() const {
    std::string rows;
    for (const ScoreRun& r : scores_) rows += (rows.empty() ? "" : ",") + r.name;
    return rows;
  }

  // Collective. /mfg/generalisation and its printed table.
  std::string generalisation_table(OutputFile& out) const {
    const char* names[kGeneralisationColumns] = {"loglik", "loglik_data", "loglik_stderr", "sliced_w1",
                                                 "sliced_w1_noise"};
    for (int k = 0; k < kGeneralisationColumns; ++k) {
      std::vector<double> column;
      for (std::size_t r = 0; r < scores_.size(); ++r) column.push_back(generalisation_[kGeneralisationColumns * r + k]);
      out.write_vector(std::string("/mfg/generalisation/") + names[k], column);
    }
    out.attribute("/mfg/generalisation", "rows", score_rows());
    out.attribute("/mfg/generalisation", "reference",
                  "as many points of the data law as generated samples, at s = T; loglik under the data law "
                  "(mixtures), loglik_data that of the data points, loglik_stderr of their difference");
    if (!data_.has_law()) return "\nGeneralisation: not measured (a point file has no data law to draw from)\n";
    std::ostringstream os;
    char line[200];
    os << "\nGeneralisation at s = T against " << particle_count()
       << " fresh points of the data law (noise: the sliced W1 of two such samples):\n";
    std::snprintf(line, sizeof line, "%-16s | %11s %9s %10s | %10s %10s\n", "score", "mean log pi", "± s.e.",
                  "data's", "sliced W1", "noise");
    os << line;
    for (std::size_t r = 0; r < scores_.size(); ++r) {
      const double* g = generalisation_.data() + kGeneralisationColumns * r;
      std::snprintf(line, sizeof line, "%-16s | %11.4f %9.4f %10.4f | %10.4e %10.4e\n", scores_[r].name.c_str(), g[0],
                    g[2], g[1], g[3], g[4]);
      os << line;
    }
    return os.str();
  }

  std::string table(const std::vector<std::vector<double>>& columns) const {
    std::ostringstream os;
    char line[200];
    os << "\nMemorisation at s = T against the " << data_.train_count()
       << " training points (memorised: |x - NN1| < |x - NN2| / 3;\n"
       << "the baseline is fresh data, memorised at a rate near (1/3)^d by chance; distances are means):\n";
    std::snprintf(line, sizeof line, "%-16s | %10s %9s | %12s %12s\n", "score", "memorised", "± s.e.", "NN training",
                  "NN fresh");
    os << line;
    for (std::size_t r = 0; r < columns[0].size(); ++r) {
      std::snprintf(line, sizeof line, "%-16s | %10.4f %9.4f | %12.4e %12.4e\n",
                    r < scores_.size() ? scores_[r].name.c_str() : "data (baseline)", columns[0][r], columns[1][r],
                    columns[2][r], columns[3][r]);
      os << line;
    }
    return os.str();
  }

  MPI_Comm comm_;
  DataSource data_;
  double beta_;
  std::int64_t steps_;  ///< N, the generative sampler's exact heat-bridge steps over [0, T]
  std::string main_score_;                ///< mfg.score
  std::optional<GaussianMixture> exact_;  ///< the exact score's H, when the data have one
  std::optional<KernelFit> kernel_;       ///< when the training set allows one
  std::vector<ScoreRun> scores_;  ///< [0]: mfg.score, then the others available (prepare())
  std::vector<double> memorisation_;  ///< per score: fraction, its s.e., NN distances to training and fresh sets
  /// Per score: mean log π, the data's, the s.e. of their difference, sliced W1 and its noise level.
  static constexpr int kGeneralisationColumns = 5;
  std::vector<double> generalisation_;
  std::vector<double> plane_distance_;  ///< per score (embedded toy sets): mean distance to the data's plane
  std::vector<double> hjb_residual_;    ///< per snapshot: the η-weighted HJB residual of the PDE's η
  static constexpr int kCostStops = 64;  ///< intervals of the running cost's time quadrature
  std::vector<double> running_cost_;     ///< ∫ ½|∇Φ|² η dx at τ_k
  /// Stage `controlled`, per snapshot: ρ's mass, its L1 to the closed-form
  /// η and to the heat PDE's η at τ = T − t (3 blocks of the snapshot count).
  std::vector<double> controlled_;
  std::vector<double> controlled_data_l1_{NAN};  ///< ρ_T against the data law (one entry, checkpointed)
  /// The run grid's cells on a DMDA of their own: a TS keeps its callbacks
  /// on its DM, so the controlled equation cannot share the heat PDE's.
  std::unique_ptr<Grid> controlled_grid_;
  /// Terms of the plane distance rounded to 2^−60: a sample generated on
  /// the plane is at a distance of round-off, about 1e-16.
  static constexpr int kPlaneDistanceBits = 60;
};

}  // namespace

Family family() {
  return {"mfg",
          "score generation as a Wasserstein proximal operator: mean-field game, Cole–Hopf heat equation, "
          "exact, empirical and kernel scores, memorisation (docs/mfg.md)",
          declare,
          [](const Config& c, MPI_Comm comm) { return std::make_unique<MfgExperiment>(c, comm); },
          false,
          {{"grid.dim", "2"}, {"grid.cells", "128"}, {"particles.count", "50000"}}};
}

}  // namespace twinflow::mfg
