#include "experiment.hpp"

#include <cmath>

#include "fokker_planck.hpp"
#include "samplers.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/pde/linear_evolution.hpp"

namespace twinflow::ou {
namespace {

void declare(OptionSet& o) {
  o.add("ou.target", "0.5:-1.5:0.25;0.5:1.5:0.25",
        "data law μ, a Gaussian mixture (variance 0 is a point mass), or file:PATH with one "
        "component per line 'weight m_1..m_d C_11..C_dd'",
        Accept::any_text("'weight:mean:variance' joined by ';' (weights > 0 summing to 1, "
                         "variances >= 0), or file:PATH"));
  o.add("ou.scheme", "rel-ei", "reverse sampler: exponential integrators on the relative or absolute "
        "score, Euler–Maruyama, or the probability-flow ODE (explicit midpoint)",
        Accept::choice({"rel-ei", "abs-ei", "em", "pf-ode"}));
  o.add("ou.steps", "100", "reverse steps N (step h = T/N)", Accept::integer(1, 1e9));
  o.add("ou.score", "exact", "score for the reverse sampler: closed form, or ∇log p interpolated "
        "from the PDE solution (needs pde.enabled)", Accept::choice({"exact", "pde"}));
}

class OuExperiment : public Experiment {
 public:
  OuExperiment(const Config& c, MPI_Comm)
      : dim_(static_cast<int>(c.integer("grid.dim"))),
        data_(GaussianMixture::parse("ou.target", c.text("ou.target"), dim_)),
        scheme_(parse_scheme(c.choice("ou.scheme"))),
        steps_(c.integer("ou.steps")),
        horizon_(c.real("time.end")),
        pde_dt_(horizon_ / static_cast<double>(c.integer("pde.steps"))),
        seed_(static_cast<std::uint64_t>(c.integer("seed"))) {
    if (c.choice("ou.score") == "pde") {
      if (!c.boolean("pde.enabled"))
        throw UsageError("ou.score", "'pde' needs pde.enabled=true; accepted: exact, or pde with the PDE on");
      pde_score_ = std::make_shared<PdeScore>();
    }
  }

  int dim() const override { return dim_; }

  std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid, Progress* progress) override {
    std::vector<double> p0;
    exact_density(0.0, grid, p0);
    Vec v = nullptr;
    DMCreateGlobalVector(grid.dm(), &v);
    grid.set_owned_values(p0, v);
    return std::make_unique<LinearEvolution>(grid, assemble_fokker_planck(grid), v, pde_dt_,
                                             grid.box().cell_volume(), progress, "pde");
  }

  std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble e) override {
    return std::make_unique<ForwardSampler>(std::move(e), data_, seed_);
  }

  std::int64_t reverse_steps() const override { return steps_; }

  std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble e) override {
    std::shared_ptr<ScoreModel> score = pde_score_;
    if (!score) score = std::make_shared<ExactScore>(data_);
    return std::make_unique<ReverseSampler>(std::move(e), scheme_, horizon_, steps_, score, seed_);
  }

  std::vector<double> pde_observation_times() const override {
    if (!pde_score_) return {};
    const double h = horizon_ / static_cast<double>(steps_);
    std::vector<double> t;
    for (std::int64_t k = 0; k < steps_; ++k) {
      t.push_back(horizon_ - static_cast<double>(k) * h);
      if (scheme_ == Scheme::kPfOde) t.push_back(horizon_ - (static_cast<double>(k) + 0.5) * h);
    }
    return t;
  }

  void observe_pde(double t, const Grid& grid, const DensitySolver& pde) override {
    if (!pde_score_) return;
    std::vector<double> full;
    grid.replicate(pde.density(), full);
    pde_score_->add(t, grid.box(), full);
  }

  bool exact_density(double t, const Grid& grid, std::vector<double>& owned) const override {
    // Cell averages of the OU-evolved mixture (point masses fall in one cell).
    const GaussianMixture law = t > 0 ? data_.ou_marginal(t) : data_;
    const Box& box = grid.box();
    const OwnedBlock& o = grid.owned();
    owned.resize(static_cast<std::size_t>(o.size()));
    double lo[3], hi[3];
    const double vol = box.cell_volume();
    for_each_cell(o, [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
      for (int a = 0; a < box.dim; ++a) {
        lo[a] = box.lower[a] + static_cast<double>(idx[a]) * box.spacing(a);
        hi[a] = lo[a] + box.spacing(a);
      }
      owned[pos] = law.box_probability(lo, hi) / vol;
    });
    return true;
  }

 private:
  int dim_;
  GaussianMixture data_;
  Scheme scheme_;
  std::int64_t steps_;
  double horizon_, pde_dt_;
  std::uint64_t seed_;
  std::shared_ptr<PdeScore> pde_score_;
};

}  // namespace

Family family() {
  return {"ou", "score diffusion on the Ornstein–Uhlenbeck semigroup (MATH.md §1)", declare,
          [](const Config& c, MPI_Comm comm) { return std::make_unique<OuExperiment>(c, comm); }};
}

}  // namespace twinflow::ou
