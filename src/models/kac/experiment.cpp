// The `kac` family: telegrapher's equation, Kac processes and Kac flows
// (docs/kac.md (C1)–(C9)), on the density-twin layout with one stage of its own:
// `ou_reverse`, the ou REL-EI sampler on the same data with the same step
// count, for the generative comparison side by side.
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include "generative_metrics.hpp"
#include "kac_law.hpp"
#include "neural_velocity.hpp"
#include "samplers.hpp"
#include "telegrapher.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/diffusion/samplers.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"
#include "twinflow/run/density_twin.hpp"

namespace twinflow::kac {
namespace {

/// Half-width, in cells, of the windows around the atoms' fronts whose mass
/// the family reports (PDE, particles, closed form) and that the forward
/// twin compares apart from the continuous part: wide enough for the limited
/// scheme's smearing of a front.
constexpr int kFrontWindowCells = 4;

const std::map<std::string, std::string> kIntegrators = {
    {"euler", TSRK1FE}, {"heun", TSRK2A}, {"rk3", TSRK3}, {"rk4", TSRK4}, {"dp5", TSRK5DP}};

void declare(OptionSet& o) {
  o.add("kac.a", "9", "switching rate a of the Kac process", Accept::positive_real());
  o.add("kac.c", "3", "speed c of the Kac process", Accept::positive_real());
  o.add("kac.data", "0.5:-1:0;0.5:1:0",
        "data law X_0 in the ou.target syntax (variance 0 is a point mass), or file:PATH; "
        "covariances must be diagonal (the process is a product over coordinates)",
        Accept::any_text("'weight:mean:variance' joined by ';' (weights > 0 summing to 1, "
                         "variances >= 0, diagonal), or file:PATH"));
  o.add("kac.velocity", "exact", "velocity of the generative flow: closed-form marginal velocity, j/u "
        "from the PDE (needs pde.enabled), or nn, a network trained by flow matching (kac.nn.*)",
        Accept::choice({"exact", "pde", "nn"}));
  declare_neural_options(o);
  o.add("kac.baseline", "none",
        "a diffusion model trained beside the Kac flow's network with the same kac.nn.* settings and data, and "
        "sampled like it: ve, the variance-exploding flow x_t = X_0 + sqrt(t) eps (needs kac.velocity=nn)",
        Accept::choice({"none", "ve"}));
  o.add("kac.steps", "100", "steps N of the generative flow over [0, T]; the ou comparison uses the same N",
        Accept::integer(1, 1e9));
  std::vector<std::string> names;
  for (const auto& [name, type] : kIntegrators) names.push_back(name);
  o.add("kac.integrator", "rk4", "explicit Runge–Kutta scheme of the generative flow (PETSc TSRK)",
        Accept::choice(names));
}

/// X_t = X_0 + K_t for mixture data with diagonal covariances, on the sample
/// space: K_t has mean 0 and E K_t² per coordinate, independent of X_0; the
/// exact samples are the exact Kac process itself.
class KacLawAt : public ReferenceLaw {
 public:
  KacLawAt(GaussianMixture data, KacLaw law, double t) : data_(std::move(data)), law_(law), t_(t) {}
  int dim() const override { return data_.dim(); }
  std::vector<double> mean() const override { return data_.mean(); }
  std::vector<double> covariance() const override {
    std::vector<double> c = MixtureLaw(data_).covariance();
    for (int a = 0; a < dim(); ++a) c[a * dim() + a] += law_.second_moment(t_);
    return c;
  }
  bool has_density() const override { return false; }
  double log_density(const double*) const override { return std::numeric_limits<double>::quiet_NaN(); }
  void sample(const Ensemble& layout, std::uint64_t seed, std::vector<double>& x) const override {
    ForwardSampler process(layout, data_, law_, seed);
    process.advance_to(0, t_);
    x = process.ensemble().x;
  }

 private:
  GaussianMixture data_;
  KacLaw law_;
  double t_;
};

class KacExperiment : public DensityTwinExperiment {
 public:
  KacExperiment(const Config& c, MPI_Comm comm)
      : DensityTwinExperiment(c, static_cast<int>(c.integer("grid.dim")), c.integer("kac.steps")),
        comm_(comm),
        law_(c.real("kac.a"), c.real("kac.c")),
        data_(GaussianMixture::parse("kac.data", c.text("kac.data"), dim())),
        steps_(c.integer("kac.steps")),
        integrator_(kIntegrators.at(c.choice("kac.integrator"))),
        pde_velocity_(c.choice("kac.velocity") == "pde") {
    if (!data_.diagonal())
      throw UsageError("kac.data", "has a non-diagonal covariance; accepted: diagonal covariances (the Kac "
                                   "process acts on each coordinate independently)");
    if (pde_velocity_ && !pde_on())
      throw UsageError("kac.velocity", "'pde' needs pde.enabled=true; accepted: exact, or pde with the PDE on");
    const bool neural = c.choice("kac.velocity") == "nn";
    if (neural && !particles_on())
      throw UsageError("kac.velocity", "'nn' trains a velocity for the generative flow, which needs "
                                       "particles.enabled=true; accepted: exact or pde, or nn with particles on");
    if (!neural && !c.text("kac.nn.model").empty())
      throw UsageError("kac.nn.model", "is set, but kac.velocity is '" + c.choice("kac.velocity") +
                                           "'; accepted: a saved network with kac.velocity=nn, or empty");
    if (!neural && c.choice("kac.baseline") != "none")
      throw UsageError("kac.baseline", "'" + c.choice("kac.baseline") + "' is trained beside the Kac flow's "
                                       "network; accepted: none, or a baseline with kac.velocity=nn");
    if (neural) neural_ = std::make_shared<NeuralVelocity>(c, comm, FlowPath::kKac, data_, law_, horizon(), seed());
    if (c.choice("kac.baseline") == "ve")
      baseline_ =
          std::make_shared<NeuralVelocity>(c, comm, FlowPath::kVarianceExploding, data_, law_, horizon(), seed());
    for (const auto& name : generative_stages())
      generative_.emplace(name, GenerativeMetrics(data_.components().size()));
    const std::size_t n = snapshot_times().size();
    for (auto* v : {&pde_moment_, &pde_window_, &exact_window_, &particle_moment_, &particle_moment_error_,
                    &particle_atoms_, &particle_window_})
      v->assign(n, NAN);
  }

  std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid) override {
    std::vector<double> u0;
    exact_density(0.0, grid, u0);
    return std::make_unique<TelegrapherEvolution>(grid, std::make_unique<Grid>(grid, 1 << dim(), 2), law_.rate(),
                                                  law_.speed(), u0, pde_step());
  }

  std::string describe_solver(const DensitySolver& pde) const override {
    const double dt = dynamic_cast<const TsEvolution&>(pde).nominal_step();
    double inverse = 0;
    for (int a = 0; a < dim(); ++a) inverse += 1 / grid()->box().spacing(a);
    char line[160];
    std::snprintf(line, sizeof line, "[pde      ] telegrapher system, %d populations, step %.3g (Courant %.2f)",
                  1 << dim(), dt, law_.speed() * dt * inverse);
    return line;
  }

  bool exact_density(double t, const Grid& grid, std::vector<double>& owned) const override {
    // The law of a component is a product over coordinates of the Kac law
    // carried by a point mass or a Gaussian: cell averages are products of
    // per-axis interval probabilities.
    const Box& box = grid.box();
    const OwnedBlock& o = grid.owned();
    owned.assign(static_cast<std::size_t>(o.size()), 0.0);
    for (const auto& comp : data_.components()) {
      std::vector<std::vector<double>> axis(static_cast<std::size_t>(dim()));
      for (int a = 0; a < dim(); ++a) {
        const double s = std::sqrt(comp.covariance[a * dim() + a]), h = box.spacing(a);
        for (std::int64_t i = o.start[a]; i < o.start[a] + o.count[a]; ++i) {
          const double lo = box.lower[a] + static_cast<double>(i) * h;
          axis[a].push_back(law_.interval_probability(t, comp.mean[a], s, lo, lo + h));
        }
      }
      for_each_cell(o, [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
        double p = comp.weight / box.cell_volume();
        for (int a = 0; a < dim(); ++a) p *= axis[a][idx[a] - o.start[a]];
        owned[pos] += p;
      });
    }
    return true;
  }

  void checkpoint(CheckpointArchive& a) override {
    a.value("pde_initial_moment", pde_initial_moment_);
    for (const auto& [name, v] : series()) a.replicated(name, *v);
    for (auto& [name, m] : generative_) {
      std::vector<double> v = m.values();
      a.replicated("generative_" + name, v);
      if (!a.saving()) m = GenerativeMetrics::from_values(v);
    }
    // The networks, trained or in training, which the stages after their
    // trainers use.
    for (const auto& [name, net] : networks()) {
      CheckpointArchive n = a.scope(name);
      net->checkpoint(n);
    }
  }

  void write_sidecars(MPI_Comm comm, const std::string& output) const override {
    DensityTwinExperiment::write_sidecars(comm, output);
    // Each network as TorchScript beside the output (torch.jit.load).
    on_root_and_agree(comm, [&] {
      for (const auto& [name, net] : networks())
        net->network().save(saved_network_path(output, name), net->flow_description());
    });
  }

  std::string report(OutputFile& out) override {
    if (!has_grid()) return generative_report(out) + neural_report(out);
    std::vector<double> exact_moment, exact_atoms;
    for (double t : snapshot_times()) {
      exact_moment.push_back(law_.second_moment(t));
      exact_atoms.push_back(point_mass_weight() * std::pow(2 * law_.atom_mass(t), dim()));
    }
    out.write_vector("/compare/kac/second_moment_exact", exact_moment);
    out.write_vector("/compare/kac/atom_mass_exact", exact_atoms);
    for (const auto& [name, v] : series()) out.write_vector("/compare/kac/" + name, *v);
    out.attribute("/compare/kac", "front_window_cells", static_cast<std::int64_t>(kFrontWindowCells));
    return table(exact_moment, exact_atoms) + generative_report(out) + neural_report(out);
  }

 protected:
  std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble units) override {
    return std::make_unique<ForwardSampler>(std::move(units), data_, law_, seed());
  }

  std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble units, FieldStore& store) override {
    std::shared_ptr<VelocityModel> v;
    if (pde_velocity_)
      v = std::make_shared<StoredVelocity>(store, *grid(), "velocity");
    else if (neural_)
      v = neural_;
    else
      v = std::make_shared<ExactVelocity>(data_, law_);
    return std::make_unique<FlowSampler>(kac_flow_start(std::move(units), data_, law_, seed(), horizon()), horizon(),
                                         horizon(), steps_, integrator_, v);
  }

  std::vector<Publication> publications() const override {
    if (!pde_velocity_) return {};
    // Every stage time of the flow, t = T − (k + c_i) h.
    return {{"velocity", dim(), flow_stage_times(horizon(), horizon(), steps_, integrator_)}};
  }

  void observe_snapshot(std::size_t j, double t, const GridSpace& grid, const std::vector<double>& density) override {
    // E K_t² = E X_t² − E X_0² per coordinate (K_t is independent of X_0
    // with mean 0), averaged over coordinates. Cell averages carry h²/12
    // of second moment each: ∫_cell x² ≈ |cell| ū (x_c² + h²/12).
    const Box& box = grid.box();
    double moment = 0;
    for_each_cell(grid.grid().owned(), [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
      double x2 = 0;
      for (int a = 0; a < dim(); ++a) {
        const double x = box.centre(a, idx[a]), h = box.spacing(a);
        x2 += x * x + h * h / 12;
      }
      moment += density[pos] * box.cell_volume() * x2;
    });
    sum_over_ranks(comm_, &moment, 1);
    // Relative to the PDE's own initial law (snapshot 0 is t = 0), which is
    // the data rounded to cells.
    if (j == 0) pde_initial_moment_ = moment;
    pde_moment_[j] = (moment - pde_initial_moment_) / dim();
    const auto window = window_cells(t);
    pde_window_[j] = window_mass(density, window);
    std::vector<double> exact;
    exact_density(t, grid.grid(), exact);
    exact_window_[j] = window_mass(exact, window);
  }

  void observe_samples(std::size_t j, double t, bool reverse, const ParticleSampler& sampler,
                       const std::vector<double>* histogram) override {
    if (reverse) {
      if (j + 1 == reverse_output_steps().size())
        generative_.at("reverse") = GenerativeMetrics::measure(comm_, data_, sampler.ensemble());
      return;
    }
    const auto& fwd = dynamic_cast<const ForwardSampler&>(sampler);
    const Ensemble& e = fwd.ensemble();
    // sums: Σ k², Σ (k²)², atoms, over particles (k² averaged over coordinates)
    double s[3] = {0, 0, 0};
    for (std::int64_t p = 0; p < e.count; ++p) {
      double k2 = 0;
      for (int a = 0; a < dim(); ++a) {
        const double k = e.x[p * dim() + a] - fwd.origin()[p * dim() + a];
        k2 += k * k;
      }
      k2 /= dim();
      s[0] += k2;
      s[1] += k2 * k2;
      s[2] += fwd.on_atom(p) ? 1 : 0;
    }
    sum_over_ranks(comm_, s, 3);
    const auto n = static_cast<double>(e.total);
    particle_moment_[j] = s[0] / n;
    particle_moment_error_[j] = std::sqrt(std::max(s[1] / n - particle_moment_[j] * particle_moment_[j], 0.0) / n);
    particle_atoms_[j] = s[2] / n;
    if (histogram) particle_window_[j] = window_mass(*histogram, window_cells(t));
  }

  std::unique_ptr<ReferenceLaw> forward_law(double t) const override {
    if (t == 0) return std::make_unique<MixtureLaw>(data_);
    return std::make_unique<KacLawAt>(data_, law_, t);
  }

  std::unique_ptr<ReferenceLaw> reverse_law(std::int64_t, double s) const override {
    // The flow carries the law of X_T back through the laws of X_{T−s}.
    return forward_law(std::max(horizon() - s, 0.0));
  }

  void customise_twins(Twin& forward, Twin& reverse, std::vector<Twin>& more, RunSetup&) override {
    const std::size_t last = snapshot_times().size() - 1;
    const std::string integrator = integrator_name();
    // Both generative samplers against the data law, at their end.
    Twin flow;
    flow.name = "flow";
    flow.stage = "reverse";
    flow.clock = "s";
    flow.axis = "/reverse/time";
    flow.title = "Generative: the Kac flow (" + integrator + ", " +
                 (pde_velocity_ ? "PDE" : neural_ ? "neural" : "exact") +
                 " velocity, N = " + std::to_string(steps_) + ") at s = T against the data law";
    Twin ou = flow;
    ou.name = "ou_reverse";
    ou.stage = "ou_reverse";
    ou.title = "Generative, side by side: the ou reverse sampler (rel-ei, exact score, from γ, N = " +
               std::to_string(steps_) + ") on the same data";
    std::vector<Twin> side_by_side{ou};
    if (baseline_) {
      Twin ve = ou;
      ve.name = "baseline_reverse";
      ve.stage = "baseline_reverse";
      ve.title = "Generative, side by side: the variance-exploding flow (" + integrator +
                 ", neural velocity in sigma = sqrt(t), N = " + std::to_string(steps_) + ") on the same data";
      side_by_side.push_back(ve);
    }
    if (!has_grid()) {
      for (Twin& t : side_by_side) {
        t.space = "samples";
        t.reference_name = "law";
        t.law = [this](std::size_t, double) { return forward_law(0); };
        t.columns = reverse.columns;
        more.push_back(t);
      }
      return;
    }
    // The atoms travel as single cells in the histogram but a few cells wide
    // in the PDE, so the forward twin compares the mass near the fronts and
    // the continuous part apart.
    forward.atoms = [this](std::size_t, double t, std::vector<unsigned char>& atoms) { atoms = window_cells(t); };
    forward.title += "\n(the atoms at the fronts m ± ct, in cells within " + std::to_string(kFrontWindowCells) +
                     " of a front, are compared as masses; L1 and floor are those of the continuous part)";
    std::vector<std::pair<std::string, std::string>> columns;
    for (const auto& c : forward.columns) {
      if (c.first == "l1") {
        columns.push_back({"continuous_l1", "cont. L1"});
        columns.push_back({"continuous_noise_floor_l1", "cont. floor"});
        columns.push_back({"atom_mass_reference", "atoms PDE"});
        columns.push_back({"atom_mass_samples", "atoms part"});
      } else if (c.first != "noise_floor_l1" && c.first != "kl" && c.first != "hellinger") {
        columns.push_back(c);
      }
    }
    forward.columns = columns;
    std::vector<Twin*> generative{&flow};
    for (Twin& t : side_by_side) generative.push_back(&t);
    for (Twin* t : generative) {
      t->space = "grid";
      t->reference_name = "exact";
      t->reference = [this, last, t_name = t->name](std::size_t j, double, std::vector<double>& owned) {
        if (t_name == "flow" && j != last) return false;
        return exact_density(0.0, grid()->grid(), owned);
      };
      t->marginal_cdf = [this](std::size_t, int axis, double x) { return data_.marginal_cdf(axis, x); };
      t->columns = {{"w1_fine", dim() == 1 ? "W1" : "marg. W1"},
                    {"w1_fine_floor", "W1 floor"},
                    {"l1", "L1"},
                    {"noise_floor_l1", "L1 floor"},
                    {"hellinger", "hellinger"}};
    }
    more.push_back(flow);
    for (Twin& t : side_by_side) more.push_back(t);
  }

  std::vector<std::string> leading_stages() const override {
    std::vector<std::string> s;
    if (neural_ && !neural_->loaded()) s.push_back("train");
    if (baseline_) s.push_back("train_baseline");
    return s;
  }

  std::vector<std::string> family_stages() const override {
    std::vector<std::string> s;
    if (particles_on()) s.push_back("ou_reverse");
    if (baseline_) s.push_back("baseline_reverse");
    return s;
  }

  std::unique_ptr<Stage> make_family_stage(const std::string& name, RunSetup& setup) override {
    if (name == "train") return std::make_unique<TrainerStage>(neural_);
    if (name == "train_baseline") return std::make_unique<TrainerStage>(baseline_);
    if (name != "ou_reverse" && name != "baseline_reverse")
      return DensityTwinExperiment::make_family_stage(name, setup);
    // Beside the Kac flow, with the same step count on the same data: the
    // ou reverse sampler (REL-EI, exact score, from γ), or the trained
    // variance-exploding flow in σ from √T to 0 (from X_0 + √T ε).
    const bool ou = name == "ou_reverse";
    const double span = ou ? horizon() : baseline_->time_span();
    SamplerStage::Plan plan;
    plan.clock = "s";
    plan.clocks = {span};
    plan.steps = {steps_};
    plan.step_clock = span / static_cast<double>(steps_);
    plan.units = particle_count();
    plan.dim = dim();
    plan.space = grid();
    auto factory = [this, ou, span](Ensemble units) -> std::unique_ptr<ParticleSampler> {
      if (!ou)
        return std::make_unique<FlowSampler>(variance_exploding_start(std::move(units), data_, seed(), horizon()), span,
                                             span, steps_, integrator_, baseline_);
      const LinearDiffusion ou_process = LinearDiffusion::ou(dim());
      return std::make_unique<FixedStepSampler>(std::move(units),
                                                FixedStepScheme(ou_process, Scheme::kRelEi, horizon(), steps_),
                                                std::make_shared<MixtureMarginalScore>(ou_process, data_), seed());
    };
    auto observer = [this, name](std::size_t, double, const ParticleSampler& sampler, const std::vector<double>*) {
      generative_.at(name) = GenerativeMetrics::measure(comm_, data_, sampler.ensemble());
    };
    return std::make_unique<SamplerStage>(setup.comm, factory, plan, observer);
  }

 private:
  std::vector<std::pair<std::string, std::vector<double>*>> series() {
    return {{"second_moment_pde", &pde_moment_},
            {"second_moment_particles", &particle_moment_},
            {"second_moment_particles_stderr", &particle_moment_error_},
            {"atom_mass_particles", &particle_atoms_},
            {"window_mass_pde", &pde_window_},
            {"window_mass_exact", &exact_window_},
            {"window_mass_particles", &particle_window_}};
  }

  double point_mass_weight() const {
    double w = 0;
    for (const auto& comp : data_.components())
      if (comp.point_mass()) w += comp.weight;
    return w;
  }

  // The owned cells within kFrontWindowCells of a point atom at time t
  // (every coordinate of the cell near a front m_i ± ct of the same
  // point-mass component).
  std::vector<unsigned char> window_cells(double t) const {
    const Box& box = grid()->box();
    const double ct = law_.speed() * t;
    std::vector<unsigned char> inside(static_cast<std::size_t>(grid()->grid().owned().size()), 0);
    for_each_cell(grid()->grid().owned(), [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
      for (const auto& comp : data_.components()) {
        bool near = comp.point_mass();
        for (int a = 0; a < dim() && near; ++a) {
          bool axis_near = false;
          for (double front : {comp.mean[a] - ct, comp.mean[a] + ct}) {
            const auto cell = static_cast<std::int64_t>(std::floor((front - box.lower[a]) / box.spacing(a)));
            axis_near = axis_near || std::abs(idx[a] - cell) <= kFrontWindowCells;
          }
          near = near && axis_near;
        }
        if (near) inside[pos] = 1;
      }
    });
    return inside;
  }

  // Collective. Mass of an owned-block density in the marked cells.
  double window_mass(const std::vector<double>& density, const std::vector<unsigned char>& window) const {
    double mass = 0;
    for (std::size_t i = 0; i < density.size(); ++i)
      if (window[i]) mass += density[i] * grid()->box().cell_volume();
    sum_over_ranks(comm_, &mass, 1);
    return mass;
  }

  std::string table(const std::vector<double>& exact_moment, const std::vector<double>& exact_atoms) const {
    std::ostringstream os;
    char line[300];
    os << "\nKac process: E K_t² (per coordinate) and the mass at the atoms (point masses of the data\n"
       << "carried to m ± ct without a switch); window = cells within " << kFrontWindowCells
       << " of an atom, whose mass the\nPDE must keep for the atoms to be accounted for.\n";
    std::snprintf(line, sizeof line, "%8s | %10s %10s %10s %9s | %10s %10s | %10s %10s %10s\n", "t", "EK² exact",
                  "EK² PDE", "EK² part", "± s.e.", "atoms ex", "atoms part", "window ex", "window PDE", "window part");
    os << line;
    const auto& t = snapshot_times();
    for (std::size_t j = 0; j < t.size(); ++j) {
      std::snprintf(line, sizeof line, "%8.4f | %10.4e %10.4e %10.4e %9.1e | %10.3e %10.3e | %10.3e %10.3e %10.3e\n",
                    t[j], exact_moment[j], pde_moment_[j], particle_moment_[j], particle_moment_error_[j],
                    exact_atoms[j], particle_atoms_[j], exact_window_[j], pde_window_[j], particle_window_[j]);
      os << line;
    }
    return os.str();
  }

  // The generative samplers' stages, the Kac flow's first.
  std::vector<std::string> generative_stages() const {
    if (!particles_on()) return {};
    std::vector<std::string> s{"reverse", "ou_reverse"};
    if (baseline_) s.push_back("baseline_reverse");
    return s;
  }

  std::string generative_label(const std::string& stage) const {
    if (stage == "ou_reverse") return "ou reverse, exact score";
    if (stage == "baseline_reverse") return "VE flow, neural";
    return std::string("Kac flow, ") + (pde_velocity_ ? "PDE" : neural_ ? "neural" : "exact");
  }

  // Collective. /kac/generative and its table: every generative sampler's
  // samples at its end against the data law (generative_metrics.hpp).
  std::string generative_report(OutputFile& out) {
    if (generative_.empty()) return {};
    const std::string group = "/kac/generative";
    const std::vector<std::string> stages = generative_stages();
    constexpr int scalars = GenerativeMetrics::kScalars;
    std::vector<double> columns[scalars], weights;
    for (const auto& name : stages) {
      const std::vector<double> v = generative_.at(name).values();
      for (int c = 0; c < scalars; ++c) columns[c].push_back(v[c]);
      weights.insert(weights.end(), v.begin() + scalars, v.end());
    }
    const char* names[scalars] = {"log_likelihood", "log_likelihood_stderr", "near_mode_fraction",
                                  "mode_weight_error", "marginal_w1"};
    for (int c = 0; c < scalars; ++c) out.write_vector(group + "/" + names[c], columns[c]);
    out.write_array(group + "/mode_weights",
                    {static_cast<std::int64_t>(stages.size()), static_cast<std::int64_t>(data_.components().size())},
                    weights);
    std::string list;
    for (const auto& name : stages) list += (list.empty() ? "" : ",") + name;
    out.attribute(group, "samplers", list);
    out.attribute(group, "near_mode_distance", GenerativeMetrics::kNearMode);
    out.attribute(group, "definition",
                  "per sampler (attribute samplers, the stages), its samples at its end against the data law: the "
                  "mean log-likelihood under the data mixture with its standard error (NaN for data with point "
                  "masses), the fraction within near_mode_distance of the nearest component mean, the fraction "
                  "nearest each component (mode_weights, [sampler, component]) and its largest deviation from the "
                  "component weights, and the W1 of the marginals, mean over the axes");
    std::ostringstream os;
    char line[300];
    const auto n = static_cast<double>(particle_count());
    std::snprintf(line, sizeof line,
                  "\nGenerated samples against the data law (%zu modes; %lld samples of %lld steps; weight noise "
                  "%.1e = max_k sqrt(w_k(1-w_k)/N))\n",
                  data_.components().size(), static_cast<long long>(particle_count()),
                  static_cast<long long>(steps_), max_weight_noise(n));
    os << line;
    std::snprintf(line, sizeof line, "%-24s | %12s %9s | %12s | %12s | %10s\n", "sampler", "mean log p", "± s.e.",
                  "within 0.05", "max|w-w_k|", "marg. W1");
    os << line;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      std::snprintf(line, sizeof line, "%-24s | %12.4f %9.1e | %12.4f | %12.3e | %10.3e\n",
                    generative_label(stages[i]).c_str(), columns[0][i], columns[1][i], columns[2][i], columns[3][i],
                    columns[4][i]);
      os << line;
    }
    return os.str();
  }

  double max_weight_noise(double n) const {
    double noise = 0;
    for (const auto& c : data_.components()) noise = std::max(noise, std::sqrt(c.weight * (1 - c.weight) / n));
    return noise;
  }

  // The networks of this run under their names (checkpoint scopes and file
  // names): the Kac flow's, then the baseline's.
  std::vector<std::pair<std::string, NeuralVelocity*>> networks() const {
    std::vector<std::pair<std::string, NeuralVelocity*>> n;
    if (neural_) n.emplace_back("kac_velocity", neural_.get());
    if (baseline_) n.emplace_back("ve_velocity", baseline_.get());
    return n;
  }

  // <output without .h5>.<name>.pt
  static std::string saved_network_path(const std::string& output, const std::string& name) {
    std::string stem = output;
    if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".h5") == 0) stem.resize(stem.size() - 3);
    return stem + "." + name + ".pt";
  }

  // What measure_on_grid finds at each snapshot (NaN at t = 0, and for the
  // PDE without one).
  struct VelocityErrors {
    std::vector<double> nn_exact, nn_pde, pde_exact, largest_nn, largest_exact;
  };

  // Collective. On the grid at every snapshot t > 0, the trained velocity
  // against the exact marginal velocity (the regression's optimum) and the
  // PDE's j/u, weighted by the exact density away from the atoms' windows
  // (the atoms move at ±c on their fronts, which a cell centre does not sit
  // on): relative L2 errors, and the largest |v| of the network and of the
  // exact flow there (the flow's speed is at most c per coordinate). Writes
  // the network's and the exact velocity on the grid as series.
  VelocityErrors measure_on_grid(OutputFile& out) {
    const std::size_t n = snapshot_times().size();
    VelocityErrors e;
    for (auto* v : {&e.nn_exact, &e.nn_pde, &e.pde_exact, &e.largest_nn, &e.largest_exact}) v->assign(n, NAN);
    const Box& box = grid()->box();
    const Slab& slab = grid()->slab();
    const OwnedBlock& owned = grid()->grid().owned();
    std::vector<double> centres;
    for_each_cell(owned, [&](std::int64_t, const std::array<std::int64_t, 3>& idx) {
      for (int a = 0; a < dim(); ++a) centres.push_back(box.centre(a, idx[a]));
    });
    const auto cells = static_cast<std::int64_t>(owned.size());
    const std::string group = "/kac/neural_velocity";
    out.create_series(group + "/velocity", "/time", static_cast<std::int64_t>(n), slab, dim());
    out.create_series(group + "/velocity_exact", "/time", static_cast<std::int64_t>(n), slab, dim());
    ExactVelocity exact(data_, law_);
    std::vector<double> v_exact(centres.size()), v_nn(centres.size()), v_pde, density;
    for (std::size_t j = 1; j < n; ++j) {
      const double t = snapshot_times()[j];
      exact.evaluate(t, centres.data(), cells, v_exact.data());
      neural_->evaluate(t, centres.data(), cells, v_nn.data());
      out.write_entry(group + "/velocity", static_cast<std::int64_t>(j), slab, v_nn);
      out.write_entry(group + "/velocity_exact", static_cast<std::int64_t>(j), slab, v_exact);
      if (pde_on()) out.read_entry("/pde/velocity", static_cast<std::int64_t>(j), slab, dim(), v_pde);
      exact_density(t, grid()->grid(), density);
      const std::vector<unsigned char> window = window_cells(t);
      // sums: |nn − exact|², |exact|², |nn − pde|², |pde|², |pde − exact|²
      double sq[5] = {0, 0, 0, 0, 0}, largest[2] = {0, 0};
      for (std::int64_t q = 0; q < cells; ++q) {
        if (window[q] || !(density[q] > 0)) continue;
        for (int a = 0; a < dim(); ++a) {
          const std::size_t i = static_cast<std::size_t>(q * dim() + a);
          const double ex = v_exact[i], nn = v_nn[i], pde = pde_on() ? v_pde[i] : 0.0;
          sq[0] += density[q] * (nn - ex) * (nn - ex);
          sq[1] += density[q] * ex * ex;
          sq[2] += density[q] * (nn - pde) * (nn - pde);
          sq[3] += density[q] * pde * pde;
          sq[4] += density[q] * (pde - ex) * (pde - ex);
          largest[0] = std::max(largest[0], std::abs(nn));
          largest[1] = std::max(largest[1], std::abs(ex));
        }
      }
      sum_over_ranks(comm_, sq, 5);
      e.nn_exact[j] = std::sqrt(sq[0] / sq[1]);
      if (pde_on()) e.nn_pde[j] = std::sqrt(sq[2] / sq[3]), e.pde_exact[j] = std::sqrt(sq[4] / sq[1]);
      e.largest_nn[j] = max_over_ranks(comm_, largest[0]);
      e.largest_exact[j] = max_over_ranks(comm_, largest[1]);
    }
    return e;
  }

  // Collective. A network's training record under `group` and its line.
  static std::string training_report(OutputFile& out, const std::string& group, const std::string& what,
                                     const NeuralVelocity& nn) {
    const VelocityNetwork::Shape& shape = nn.network().shape();
    out.group(group);
    out.attribute(group, "width", static_cast<std::int64_t>(shape.width));
    out.attribute(group, "depth", static_cast<std::int64_t>(shape.depth));
    out.attribute(group, "parameters", nn.network().parameter_count());
    out.attribute(group, "flow", nn.flow_description());
    char line[400];
    if (nn.loaded()) {
      out.attribute(group, "model", nn.model_path());
      std::snprintf(line, sizeof line, "\n%s: %d x %d MLP, %lld parameters, loaded from %s (not trained)\n",
                    what.c_str(), shape.width, shape.depth, static_cast<long long>(nn.network().parameter_count()),
                    nn.model_path().c_str());
      return line;
    }
    out.write_vector(group + "/loss", nn.losses());
    out.attribute(group, "iterations", nn.iterations());
    out.attribute(group, "batch", nn.batch());
    out.attribute(group, "learning_rate", nn.learning_rate());
    out.attribute(group, "training_seconds", nn.seconds());
    const double samples_per_second =
        static_cast<double>(nn.iterations() * nn.batch()) / std::max(nn.seconds(), 1e-300);
    out.attribute(group, "training_samples_per_second", samples_per_second);
    std::snprintf(line, sizeof line,
                  "\n%s: %d x %d MLP, %lld parameters, %lld Adam steps of %lld pairs (lr %g), loss %.4e -> %.4e, "
                  "%.2f s (%.3g pairs/s)\n",
                  what.c_str(), shape.width, shape.depth, static_cast<long long>(nn.network().parameter_count()),
                  static_cast<long long>(nn.iterations()), static_cast<long long>(nn.batch()), nn.learning_rate(),
                  nn.losses().front(), nn.losses().back(), nn.seconds(), samples_per_second);
    return line;
  }

  // Collective. /kac/neural_velocity (and /kac/baseline_velocity) and their
  // printed lines: the training, and on grid runs measure_on_grid.
  std::string neural_report(OutputFile& out) {
    if (!neural_) return {};
    const std::string group = "/kac/neural_velocity";
    std::string text = training_report(out, group, "Neural velocity (flow matching)", *neural_);
    if (baseline_)
      text += training_report(out, "/kac/baseline_velocity",
                              "Baseline: variance-exploding velocity in sigma = sqrt(t) (flow matching)", *baseline_);
    if (!has_grid()) return text;
    const VelocityErrors e = measure_on_grid(out);
    out.write_vector(group + "/l2_error_exact", e.nn_exact);
    out.write_vector(group + "/l2_error_pde", e.nn_pde);
    out.write_vector(group + "/pde_l2_error_exact", e.pde_exact);
    out.write_vector(group + "/largest_speed", e.largest_nn);
    out.write_vector(group + "/largest_speed_exact", e.largest_exact);
    out.attribute(group, "definition",
                  "loss: the flow-matching loss of each step's batch (before the step); velocity, velocity_exact: "
                  "the network's and the exact marginal velocity at /time on the cell centres (snapshot 0 NaN); "
                  "on the cells outside the atoms' windows, weighted by the exact density: l2_error_exact = "
                  "||v_nn - v||/||v||, l2_error_pde = ||v_nn - v_pde||/||v_pde|| against the PDE's j/u "
                  "(/pde/velocity), pde_l2_error_exact = ||v_pde - v||/||v||, and the largest |v_nn| and |v| "
                  "per coordinate (at most c for the exact flow)");
    std::ostringstream os;
    char line[300];
    std::snprintf(line, sizeof line, "%8s | %14s %14s %14s | %10s %10s   (c = %g)\n", "t", "L2 nn vs exact",
                  "L2 nn vs PDE", "L2 PDE vs ex.", "max|v_nn|", "max|v|", law_.speed());
    os << line;
    for (std::size_t j = 1; j < snapshot_times().size(); ++j) {
      std::snprintf(line, sizeof line, "%8.4f | %14.4e %14.4e %14.4e | %10.4f %10.4f\n", snapshot_times()[j],
                    e.nn_exact[j], e.nn_pde[j], e.pde_exact[j], e.largest_nn[j], e.largest_exact[j]);
      os << line;
    }
    return text + os.str();
  }

  std::string integrator_name() const {
    for (const auto& [name, type] : kIntegrators)
      if (type == integrator_) return name;
    return integrator_;
  }

  MPI_Comm comm_;
  KacLaw law_;
  GaussianMixture data_;
  std::int64_t steps_;
  std::string integrator_;
  bool pde_velocity_;
  std::shared_ptr<NeuralVelocity> neural_;    ///< kac.velocity=nn
  std::shared_ptr<NeuralVelocity> baseline_;  ///< kac.baseline=ve
  std::map<std::string, GenerativeMetrics> generative_;  ///< per generative stage (generative_stages())
  double pde_initial_moment_ = 0;
  std::vector<double> pde_moment_, pde_window_, exact_window_, particle_moment_, particle_moment_error_,
      particle_atoms_, particle_window_;
};

}  // namespace

Family family() {
  return {"kac", "telegrapher's equation, Kac processes and Kac flows (docs/kac.md)", declare,
          [](const Config& c, MPI_Comm comm) { return std::make_unique<KacExperiment>(c, comm); }};
}

}  // namespace twinflow::kac
