#include "experiment.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

#include "kac_law.hpp"
#include "samplers.hpp"
#include "telegrapher.hpp"
#include "twinflow/compare/metrics.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/diffusion/samplers.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"

namespace twinflow::kac {
namespace {

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
  o.add("kac.velocity", "exact", "velocity of the generative flow: closed-form marginal velocity, or j/u "
        "from the PDE (needs pde.enabled)", Accept::choice({"exact", "pde"}));
  o.add("kac.steps", "100", "steps N of the generative flow over [0, T]; the ou comparison uses the same N",
        Accept::integer(1, 1e9));
  std::vector<std::string> names;
  for (const auto& [name, type] : kIntegrators) names.push_back(name);
  o.add("kac.integrator", "rk4", "explicit Runge–Kutta scheme of the generative flow (PETSc TSRK)",
        Accept::choice(names));
}

// Generated samples against the data law.
struct Generative {
  double w1 = 0, w1_floor = 0, l1 = 0, l1_floor = 0, hellinger = 0;
};

class KacExperiment : public Experiment {
 public:
  KacExperiment(const Config& c, MPI_Comm comm)
      : comm_(comm),
        dim_(static_cast<int>(c.integer("grid.dim"))),
        law_(c.real("kac.a"), c.real("kac.c")),
        data_(GaussianMixture::parse("kac.data", c.text("kac.data"), dim_)),
        steps_(c.integer("kac.steps")),
        integrator_(kIntegrators.at(c.choice("kac.integrator"))),
        horizon_(c.real("time.end")),
        pde_dt_(horizon_ / static_cast<double>(c.integer("pde.steps"))),
        seed_(static_cast<std::uint64_t>(c.integer("seed"))),
        particles_(c.integer("particles.count")),
        box_(Box::from_config(c, dim_)) {
    if (!data_.diagonal())
      throw UsageError("kac.data", "has a non-diagonal covariance; accepted: diagonal covariances (the Kac "
                                   "process acts on each coordinate independently)");
    if (c.choice("kac.velocity") == "pde") {
      if (!c.boolean("pde.enabled"))
        throw UsageError("kac.velocity", "'pde' needs pde.enabled=true; accepted: exact, or pde with the PDE on");
      pde_velocity_ = std::make_shared<PdeVelocity>(box_);
    }
    const auto snapshots = static_cast<std::size_t>(c.integer("time.snapshots"));
    for (auto* v : {&pde_moment_, &pde_window_, &exact_window_, &particle_moment_, &particle_moment_error_,
                    &particle_atoms_, &particle_window_})
      v->assign(snapshots, NAN);
  }

  int dim() const override { return dim_; }

  std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid, Progress* progress) override {
    std::vector<double> u0;
    exact_density(0.0, grid, u0);
    auto pde = std::make_unique<TelegrapherEvolution>(grid, std::make_unique<Grid>(grid, 1 << dim_, 2), law_.rate(),
                                                      law_.speed(), u0, pde_dt_, progress);
    char note[160];
    std::snprintf(note, sizeof note, "[pde      ] telegrapher system, %d populations, step %.3g (Courant %.2f)",
                  1 << dim_, pde->nominal_step(), courant(grid.box(), pde->nominal_step()));
    if (progress) progress->note(note);
    return pde;
  }

  std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble e) override {
    return std::make_unique<ForwardSampler>(std::move(e), data_, law_, seed_);
  }

  std::int64_t reverse_steps() const override { return steps_; }

  std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble e) override {
    std::shared_ptr<VelocityModel> v = pde_velocity_;
    if (!v) v = std::make_shared<ExactVelocity>(data_, law_);
    return std::make_unique<FlowSampler>(std::move(e), data_, law_, seed_, horizon_, steps_, integrator_, v);
  }

  std::vector<double> pde_observation_times() const override {
    if (!pde_velocity_) return {};
    // Every stage time of the flow, t = T − (k + c_i) h.
    const double h = horizon_ / static_cast<double>(steps_);
    const auto fractions = stage_fractions(integrator_);
    std::vector<double> t;
    for (std::int64_t k = 0; k < steps_; ++k)
      for (double ci : fractions) t.push_back(std::max(horizon_ - (static_cast<double>(k) + ci) * h, 0.0));
    return t;
  }

  void observe_pde(double t, const Grid& grid, const DensitySolver& pde) override {
    if (!pde_velocity_) return;
    std::vector<double> owned, full;
    pde.extra_field("velocity", owned);
    grid.replicate(owned, dim_, full);
    pde_velocity_->add(t, std::move(full));
  }

  void observe_snapshot(std::size_t j, double t, const Grid& grid, const std::vector<double>& density) override {
    // E K_t² = E X_t² − E X_0² per coordinate (K_t is independent of X_0
    // with mean 0), averaged over coordinates. Cell averages carry h²/12
    // of second moment each: ∫_cell x² ≈ |cell| ū (x_c² + h²/12).
    const Box& box = grid.box();
    double moment = 0;
    for_each_cell(grid.owned(), [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
      double x2 = 0;
      for (int a = 0; a < dim_; ++a) {
        const double x = box.centre(a, idx[a]), h = box.spacing(a);
        x2 += x * x + h * h / 12;
      }
      moment += density[pos] * box.cell_volume() * x2;
    });
    MPI_Allreduce(MPI_IN_PLACE, &moment, 1, MPI_DOUBLE, MPI_SUM, comm_);
    // Relative to the PDE's own initial law (snapshot 0 is t = 0), which is
    // the data rounded to cells.
    if (j == 0) pde_initial_moment_ = moment;
    pde_moment_[j] = (moment - pde_initial_moment_) / dim_;
    pde_window_[j] = window_mass(t, grid, density);
    std::vector<double> exact;
    exact_density(t, grid, exact);
    exact_window_[j] = window_mass(t, grid, exact);
  }

  void observe_particles(std::size_t j, double t, bool reverse, const Grid& grid, const std::vector<double>& histogram,
                         const ParticleSampler& sampler) override {
    const Ensemble& e = sampler.ensemble();
    if (reverse) {
      if (j + 1 == pde_moment_.size()) flow_ = generative(grid, e, histogram);
      return;
    }
    const auto& fwd = dynamic_cast<const ForwardSampler&>(sampler);
    // sums: Σ k², Σ (k²)², atoms, over particles (k² averaged over coordinates)
    double s[3] = {0, 0, 0};
    for (std::int64_t p = 0; p < e.count; ++p) {
      double k2 = 0;
      for (int a = 0; a < dim_; ++a) {
        const double k = e.x[p * dim_ + a] - fwd.origin()[p * dim_ + a];
        k2 += k * k;
      }
      k2 /= dim_;
      s[0] += k2;
      s[1] += k2 * k2;
      s[2] += fwd.on_atom(p) ? 1 : 0;
    }
    MPI_Allreduce(MPI_IN_PLACE, s, 3, MPI_DOUBLE, MPI_SUM, comm_);
    const auto n = static_cast<double>(e.total);
    particle_moment_[j] = s[0] / n;
    particle_moment_error_[j] = std::sqrt(std::max(s[1] / n - particle_moment_[j] * particle_moment_[j], 0.0) / n);
    particle_atoms_[j] = s[2] / n;
    particle_window_[j] = window_mass(t, grid, histogram);
  }

  std::string finish(OutputFile& out, const Grid& grid, Progress& progress) override {
    // The ou reverse sampler (REL-EI, exact score, from γ) on the same data
    // with the same step count: diffusion against the Kac flow at equal N.
    Generative diffusion;
    if (flow_) {
      const LinearDiffusion ou = LinearDiffusion::ou(dim_);
      FixedStepSampler rev(Ensemble::partition(comm_, particles_, dim_), FixedStepScheme(ou, Scheme::kRelEi, horizon_, steps_),
                           std::make_shared<MixtureMarginalScore>(ou, data_), seed_);
      rev.advance_to(steps_, horizon_);
      progress.note("[compare  ] ou reverse sampler (rel-ei) on the same data, same steps: done");
      std::vector<double> hist, block;
      histogram(grid, rev.ensemble().x.data(), rev.ensemble().count, rev.ensemble().total, hist);
      grid.owned_from_replicated(hist, block);
      diffusion = generative(grid, rev.ensemble(), block);
    }
    const std::vector<std::pair<std::string, const std::vector<double>*>> series = {
        {"second_moment_pde", &pde_moment_},           {"second_moment_particles", &particle_moment_},
        {"second_moment_particles_stderr", &particle_moment_error_},
        {"atom_mass_particles", &particle_atoms_},     {"window_mass_pde", &pde_window_},
        {"window_mass_exact", &exact_window_},         {"window_mass_particles", &particle_window_}};
    std::vector<double> exact_moment, exact_atoms;
    for (double t : times()) {
      exact_moment.push_back(law_.second_moment(t));
      exact_atoms.push_back(point_mass_weight() * std::pow(2 * law_.atom_mass(t), dim_));
    }
    out.write_vector("/compare/kac/second_moment_exact", exact_moment);
    out.write_vector("/compare/kac/atom_mass_exact", exact_atoms);
    for (const auto& [name, v] : series) out.write_vector("/compare/kac/" + name, *v);
    out.attribute("/compare/kac", "front_window_cells", static_cast<std::int64_t>(kFrontWindowCells));
    if (flow_) {
      out.write_vector("/compare/kac/generative_w1", {flow_->w1, diffusion.w1});
      out.write_vector("/compare/kac/generative_w1_floor", {flow_->w1_floor, diffusion.w1_floor});
      out.write_vector("/compare/kac/generative_l1", {flow_->l1, diffusion.l1});
      out.write_vector("/compare/kac/generative_l1_floor", {flow_->l1_floor, diffusion.l1_floor});
      out.write_vector("/compare/kac/generative_hellinger", {flow_->hellinger, diffusion.hellinger});
      out.attribute("/compare/kac", "generative_samplers", std::string("kac flow, ou rel-ei"));
      out.attribute("/compare/kac", "generative_w1_bins", static_cast<std::int64_t>(kW1Bins));
    }
    return table(exact_moment, exact_atoms, diffusion);
  }

  void checkpoint(CheckpointArchive& a) override {
    a.value("pde_initial_moment", pde_initial_moment_);
    const std::vector<std::pair<std::string, std::vector<double>*>> series = {
        {"pde_moment", &pde_moment_},           {"pde_window", &pde_window_},
        {"exact_window", &exact_window_},       {"particle_moment", &particle_moment_},
        {"particle_moment_error", &particle_moment_error_}, {"particle_atoms", &particle_atoms_},
        {"particle_window", &particle_window_}};
    for (const auto& [name, v] : series) a.replicated(name, *v);
    // The generated samples' figures, once the flow has finished.
    std::vector<double> flow;
    if (flow_) flow = {flow_->w1, flow_->w1_floor, flow_->l1, flow_->l1_floor, flow_->hellinger};
    a.replicated("flow", flow);
    if (!a.saving() && !flow.empty()) flow_ = Generative{flow[0], flow[1], flow[2], flow[3], flow[4]};
    if (pde_velocity_) {
      CheckpointArchive v = a.scope("pde_velocity");
      pde_velocity_->checkpoint(v);
    }
  }

  bool exact_density(double t, const Grid& grid, std::vector<double>& owned) const override {
    // The law of a component is a product over coordinates of the Kac law
    // carried by a point mass or a Gaussian: cell averages are products of
    // per-axis interval probabilities.
    const Box& box = grid.box();
    const OwnedBlock& o = grid.owned();
    owned.assign(static_cast<std::size_t>(o.size()), 0.0);
    for (const auto& comp : data_.components()) {
      std::vector<std::vector<double>> axis(static_cast<std::size_t>(dim_));
      for (int a = 0; a < dim_; ++a) {
        const double s = std::sqrt(comp.covariance[a * dim_ + a]), h = box.spacing(a);
        for (std::int64_t i = o.start[a]; i < o.start[a] + o.count[a]; ++i) {
          const double lo = box.lower[a] + static_cast<double>(i) * h;
          axis[a].push_back(law_.interval_probability(t, comp.mean[a], s, lo, lo + h));
        }
      }
      for_each_cell(o, [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
        double p = comp.weight / box.cell_volume();
        for (int a = 0; a < dim_; ++a) p *= axis[a][idx[a] - o.start[a]];
        owned[pos] += p;
      });
    }
    return true;
  }

 private:
  static constexpr int kW1Bins = 1 << 16;

  double courant(const Box& box, double dt) const {
    double inverse = 0;
    for (int a = 0; a < dim_; ++a) inverse += 1 / box.spacing(a);
    return law_.speed() * dt * inverse;
  }

  std::vector<double> times() const {
    std::vector<double> t;
    const std::size_t n = pde_moment_.size();
    for (std::size_t j = 0; j < n; ++j) t.push_back(horizon_ * static_cast<double>(j) / static_cast<double>(n - 1));
    return t;
  }

  double point_mass_weight() const {
    double w = 0;
    for (const auto& comp : data_.components())
      if (comp.point_mass()) w += comp.weight;
    return w;
  }

  // Collective. Mass of an owned-block density in the cells within
  // kFrontWindowCells of a point atom at time t (every coordinate of the
  // cell near a front m_i ± ct of the same point-mass component).
  double window_mass(double t, const Grid& grid, const std::vector<double>& density) const {
    const Box& box = grid.box();
    const double ct = law_.speed() * t;
    double mass = 0;
    for_each_cell(grid.owned(), [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
      bool inside = false;
      for (const auto& comp : data_.components()) {
        bool near = comp.point_mass();
        for (int a = 0; a < dim_ && near; ++a) {
          bool axis_near = false;
          for (double front : {comp.mean[a] - ct, comp.mean[a] + ct}) {
            const auto cell = static_cast<std::int64_t>(std::floor((front - box.lower[a]) / box.spacing(a)));
            axis_near = axis_near || std::abs(idx[a] - cell) <= kFrontWindowCells;
          }
          near = near && axis_near;
        }
        inside = inside || near;
      }
      if (inside) mass += density[pos] * box.cell_volume();
    });
    MPI_Allreduce(MPI_IN_PLACE, &mass, 1, MPI_DOUBLE, MPI_SUM, comm_);
    return mass;
  }

  // Collective. Generated samples against the data law: W1 (1-D; the mean
  // of the marginal W1 in more dimensions) on a fine binning, and the
  // histogram L1 and Hellinger distances on the grid.
  Generative generative(const Grid& grid, const Ensemble& e, const std::vector<double>& histogram) const {
    Generative g;
    const Box& box = grid.box();
    for (int a = 0; a < dim_; ++a) {
      const auto cdf = [&](double x) { return data_.marginal_cdf(a, x); };
      g.w1 += w1_to_cdf(comm_, e.x.data(), e.count, dim_, a, e.total, cdf, box.lower[a], box.upper[a], kW1Bins) / dim_;
      g.w1_floor += w1_noise_floor(cdf, box.lower[a], box.upper[a], kW1Bins, e.total) / dim_;
    }
    std::vector<double> data;
    exact_density(0.0, grid, data);
    const Comparison c = compare(comm_, box, data, histogram, e.total);
    g.l1 = c.l1;
    g.l1_floor = c.noise_floor;
    g.hellinger = c.hellinger;
    return g;
  }

  std::string table(const std::vector<double>& exact_moment, const std::vector<double>& exact_atoms,
                    const Generative& diffusion) const {
    std::ostringstream os;
    char line[300];
    os << "\nKac process: E K_t² (per coordinate) and the mass at the atoms (point masses of the data\n"
       << "carried to m ± ct without a switch); window = cells within " << kFrontWindowCells
       << " of an atom, whose mass the\nPDE must keep for the atoms to be accounted for.\n";
    std::snprintf(line, sizeof line, "%8s | %10s %10s %10s %9s | %10s %10s | %10s %10s %10s\n", "t", "EK² exact",
                  "EK² PDE", "EK² part", "± s.e.", "atoms ex", "atoms part", "window ex", "window PDE", "window part");
    os << line;
    const auto t = times();
    for (std::size_t j = 0; j < t.size(); ++j) {
      std::snprintf(line, sizeof line, "%8.4f | %10.4e %10.4e %10.4e %9.1e | %10.3e %10.3e | %10.3e %10.3e %10.3e\n",
                    t[j], exact_moment[j], pde_moment_[j], particle_moment_[j], particle_moment_error_[j],
                    exact_atoms[j], particle_atoms_[j], exact_window_[j], pde_window_[j], particle_window_[j]);
      os << line;
    }
    if (flow_) {
      os << "\nGenerative: samples at t = 0 against the data law, both samplers with N = " << steps_ << " steps\n"
         << "(floor = expected distance of N exact data samples; " << (dim_ == 1 ? "W1" : "marginal W1")
         << " on " << kW1Bins << " bins per axis)\n";
      std::snprintf(line, sizeof line, "%-44s %10s %10s %10s %10s %10s\n", "sampler", dim_ == 1 ? "W1" : "marg. W1",
                    "W1 floor", "L1", "L1 floor", "hellinger");
      os << line;
      const auto row = [&](const std::string& name, const Generative& g) {
        std::snprintf(line, sizeof line, "%-44s %10.3e %10.3e %10.3e %10.3e %10.3e\n", name.c_str(), g.w1, g.w1_floor,
                      g.l1, g.l1_floor, g.hellinger);
        os << line;
      };
      row("kac flow (" + integrator_name() + ", " + (pde_velocity_ ? "PDE" : "exact") + " velocity)", *flow_);
      row("ou reverse (rel-ei, exact score, from γ)", diffusion);
    }
    return os.str();
  }

  std::string integrator_name() const {
    for (const auto& [name, type] : kIntegrators)
      if (type == integrator_) return name;
    return integrator_;
  }

  MPI_Comm comm_;
  int dim_;
  KacLaw law_;
  GaussianMixture data_;
  std::int64_t steps_;
  std::string integrator_;
  double horizon_, pde_dt_;
  std::uint64_t seed_;
  std::int64_t particles_;
  Box box_;
  std::shared_ptr<PdeVelocity> pde_velocity_;
  double pde_initial_moment_ = 0;
  std::vector<double> pde_moment_, pde_window_, exact_window_, particle_moment_, particle_moment_error_,
      particle_atoms_, particle_window_;
  std::optional<Generative> flow_;
};

}  // namespace

Family family() {
  return {"kac", "telegrapher's equation, Kac processes and Kac flows (MATH.md §4)", declare,
          [](const Config& c, MPI_Comm comm) { return std::make_unique<KacExperiment>(c, comm); }};
}

}  // namespace twinflow::kac
