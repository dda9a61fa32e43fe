#include "twinflow/diffusion/score_experiment.hpp"

#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"

namespace twinflow {

void declare_score_family_options(OptionSet& o, const std::string& family, const std::string& target) {
  o.add(family + ".target", target,
        "data law μ, a Gaussian mixture (variance 0 is a point mass), or file:PATH with one "
        "component per line 'weight m_1..m_d C_11..C_dd'",
        Accept::any_text("'weight:mean:variance' joined by ';' (weights > 0 summing to 1, "
                         "variances >= 0), or file:PATH"));
  o.add(family + ".scheme", "rel-ei", "reverse sampler: exponential integrators on the relative or absolute "
        "score, Euler–Maruyama, or the probability-flow ODE (explicit midpoint)",
        Accept::choice({"rel-ei", "abs-ei", "em", "pf-ode"}));
  o.add(family + ".steps", "100", "reverse steps N (step h = T/N)", Accept::integer(1, 1e9));
  o.add(family + ".score", "exact", "score for the reverse sampler: closed form, or ∇log p interpolated "
        "from the PDE solution (needs pde.enabled)", Accept::choice({"exact", "pde"}));
}

ScoreDiffusionExperiment::ScoreDiffusionExperiment(const Config& c, LinearDiffusion diffusion, int data_dim,
                                                   const KlBound& bound)
    : diffusion_(std::move(diffusion)),
      data_(GaussianMixture::parse(diffusion_.name() + ".target", c.text(diffusion_.name() + ".target"), data_dim)),
      family_(diffusion_.name()),
      target_spec_(c.text(family_ + ".target")),
      scheme_(diffusion_, parse_scheme(c.choice(family_ + ".scheme")), c.real("time.end"),
              c.integer(family_ + ".steps")),
      box_(Box::from_config(c, diffusion_.dim())),
      horizon_(c.real("time.end")),
      pde_dt_(horizon_ / static_cast<double>(c.integer("pde.steps"))),
      seed_(static_cast<std::uint64_t>(c.integer("seed"))),
      snapshots_(c.integer("time.snapshots")),
      sampler_law_(c.boolean("sampler_law")) {
  if (c.choice(family_ + ".score") == "pde") {
    if (!c.boolean("pde.enabled"))
      throw UsageError(family_ + ".score", "'pde' needs pde.enabled=true; accepted: exact, or pde with the PDE on");
    pde_score_ = std::make_shared<PdeScore>(box_);
    score_ = pde_score_;
  } else {
    score_ = std::make_shared<MixtureMarginalScore>(diffusion_, data_);
  }
  if (!sampler_law_) return;
  if (box_.dim > 2)
    throw UsageError("sampler_law", "needs a grid of at most 2 dimensions (this run's has " +
                                        std::to_string(box_.dim) + "); accepted: false, or grid.dim=1 or 2");
  for (int a = 0; a < box_.dim; ++a)
    if (box_.cells[a] % 2 != 0)
      throw UsageError("grid.cells", "must be even on every axis with sampler_law=true (got " +
                                         std::to_string(box_.cells[a]) + "); accepted: even counts");
  if (!data_.has_density())
    throw UsageError(family_ + ".target", "has a point mass or singular covariance, so I(μ|γ) is infinite and "
                                          "sampler_law has no bound; accepted: positive definite covariances");

  SamplerLawReport::Setup s;
  s.family = family_;
  s.target = target_spec_;
  s.data = data_;
  s.reference = diffusion_.initial_law(data_);
  Box data_box = box_;
  data_box.dim = data_dim;
  const RelativeToGaussian rel = relative_to_standard_normal(data_, data_box);
  s.fisher_information = rel.fisher_information;
  s.bound = bound(rel, diffusion_.marginal(data_, horizon_), box_, horizon_, scheme_.step(), s.bound_formula);
  if (data_.components().size() == 1) {
    s.gaussian_marginal = [d = diffusion_, mu = data_](double sigma) {
      const GaussianMixture law = d.marginal(mu, sigma);
      const GaussianComponent& c = law.components().front();
      const auto n = static_cast<Eigen::Index>(c.mean.size());
      FixedStepScheme::Gaussian g{Eigen::Map<const Eigen::VectorXd>(c.mean.data(), n), LinearDiffusion::Matrix(n, n)};
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) g.covariance(i, j) = c.covariance[i * n + j];
      return g;
    };
  }
  report_.emplace(std::move(s), box_);
}

std::unique_ptr<ParticleSampler> ScoreDiffusionExperiment::make_forward_sampler(Ensemble e) {
  return std::make_unique<LinearForwardSampler>(std::move(e), diffusion_, data_, seed_);
}

std::unique_ptr<ParticleSampler> ScoreDiffusionExperiment::make_reverse_sampler(Ensemble e) {
  return std::make_unique<FixedStepSampler>(std::move(e), scheme_, score_, seed_);
}

std::vector<double> ScoreDiffusionExperiment::pde_observation_times() const {
  if (!pde_score_) return {};
  std::vector<double> t;
  for (std::int64_t k = 0; k < scheme_.steps(); ++k) {
    t.push_back(scheme_.sigma(k));
    if (scheme_.scheme() == Scheme::kPfOde) t.push_back(scheme_.sigma(k) - 0.5 * scheme_.step());
  }
  return t;
}

void ScoreDiffusionExperiment::observe_pde(double t, const Grid& grid, const DensitySolver& pde) {
  if (!pde_score_) return;
  std::vector<double> full;
  grid.replicate(pde.density(), full);
  pde_score_->add(t, full);
}

void ScoreDiffusionExperiment::observe_particles(std::size_t j, double, bool reverse, const Grid& grid,
                                                 const std::vector<double>&, const ParticleSampler& sampler) {
  if (report_ && reverse && static_cast<std::int64_t>(j) == snapshots_ - 1)
    report_->count_particles(grid.comm(), sampler.ensemble());
}

void ScoreDiffusionExperiment::checkpoint(CheckpointArchive& a) {
  if (pde_score_) {
    CheckpointArchive scores = a.scope("pde_score");
    pde_score_->checkpoint(scores);
  }
  if (report_) {
    CheckpointArchive law = a.scope("sampler_law");
    report_->checkpoint(law);
  }
}

std::string ScoreDiffusionExperiment::finish(OutputFile& out, const Grid& grid, Progress& progress) {
  if (!report_) return {};
  return report_->run(grid, scheme_, *score_, out, progress);
}

bool ScoreDiffusionExperiment::exact_density(double t, const Grid& grid, std::vector<double>& owned) const {
  // Cell averages of the evolved mixture (point masses fall in one cell).
  const GaussianMixture law = diffusion_.marginal(data_, t);
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

}  // namespace twinflow
