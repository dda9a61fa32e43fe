#include "twinflow/diffusion/score_experiment.hpp"

#include <optional>

#include "twinflow/compare/metrics.hpp"
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

ScoreDiffusionExperiment::ScoreDiffusionExperiment(const Config& c, MPI_Comm comm, LinearDiffusion diffusion,
                                                   int data_dim, const KlBound& bound)
    : DensityTwinExperiment(c, diffusion.dim(), c.integer(diffusion.name() + ".steps")),
      comm_(comm),
      diffusion_(std::move(diffusion)),
      data_dim_(data_dim),
      data_(GaussianMixture::parse(diffusion_.name() + ".target", c.text(diffusion_.name() + ".target"), data_dim)),
      family_(diffusion_.name()),
      target_spec_(c.text(family_ + ".target")),
      scheme_(diffusion_, parse_scheme(c.choice(family_ + ".scheme")), c.real("time.end"),
              c.integer(family_ + ".steps")),
      pde_score_(c.choice(family_ + ".score") == "pde"),
      sampler_law_(c.boolean("sampler_law")),
      bound_(bound) {
  if (pde_score_ && !c.boolean("pde.enabled"))
    throw UsageError(family_ + ".score", "'pde' needs pde.enabled=true; accepted: exact, or pde with the PDE on");
  if (!sampler_law_) return;
  if (dim() > 2)
    throw UsageError("sampler_law", "needs a grid of at most 2 dimensions (this run's has " + std::to_string(dim()) +
                                        "); accepted: false, or grid.dim=1 or 2");
  const auto cells = c.integer_list("grid.cells", static_cast<std::size_t>(dim()));
  for (auto n : cells)
    if (n % 2 != 0)
      throw UsageError("grid.cells", "must be even on every axis with sampler_law=true (got " + std::to_string(n) +
                                         "); accepted: even counts");
  if (!data_.has_density())
    throw UsageError(family_ + ".target", "has a point mass or singular covariance, so I(μ|γ) is infinite and "
                                          "sampler_law has no bound; accepted: positive definite covariances");
}

FixedStepScheme::Gaussian ScoreDiffusionExperiment::gaussian_marginal(double sigma) const {
  const GaussianMixture law = diffusion_.marginal(data_, sigma);
  const GaussianComponent& c = law.components().front();
  const auto n = static_cast<Eigen::Index>(c.mean.size());
  FixedStepScheme::Gaussian g{Eigen::Map<const Eigen::VectorXd>(c.mean.data(), n), LinearDiffusion::Matrix(n, n)};
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j) g.covariance(i, j) = c.covariance[i * n + j];
  return g;
}

std::shared_ptr<ScoreField> ScoreDiffusionExperiment::make_score(const FieldStore& store) const {
  if (pde_score_) return std::make_shared<PdeScore>(store, *grid());
  return std::make_shared<MixtureMarginalScore>(diffusion_, data_);
}

std::unique_ptr<ParticleSampler> ScoreDiffusionExperiment::make_forward_sampler(Ensemble units) {
  return std::make_unique<LinearForwardSampler>(std::move(units), diffusion_, data_, seed());
}

std::unique_ptr<ParticleSampler> ScoreDiffusionExperiment::make_reverse_sampler(Ensemble units, FieldStore& store) {
  return std::make_unique<FixedStepSampler>(std::move(units), scheme_, make_score(store), seed());
}

std::vector<DensityTwinExperiment::Publication> ScoreDiffusionExperiment::publications() const {
  if (!pde_score_) return {};
  // The PDE density at every σ the sampler (and the sampler law) uses.
  Publication p{"density", 1, {}};
  for (std::int64_t k = 0; k < scheme_.steps(); ++k) {
    p.times.push_back(scheme_.sigma(k));
    if (scheme_.scheme() == Scheme::kPfOde) p.times.push_back(scheme_.sigma(k) - 0.5 * scheme_.step());
  }
  return {p};
}

void ScoreDiffusionExperiment::observe_samples(std::size_t j, double, bool reverse, const ParticleSampler& s,
                                               const std::vector<double>*) {
  if (report_ && reverse && j + 1 == reverse_output_steps().size()) report_->count_particles(comm_, s.ensemble());
}

std::unique_ptr<ReferenceLaw> ScoreDiffusionExperiment::forward_law(double t) const {
  return std::make_unique<MixtureLaw>(diffusion_.marginal(data_, t));
}

std::unique_ptr<ReferenceLaw> ScoreDiffusionExperiment::reverse_law(std::int64_t step, double s) const {
  if (!one_gaussian()) return forward_law(horizon() - s);
  // One Gaussian: every step is affine, so the chain's own law after `step`
  // steps is known exactly (the affine recursion, docs/ou.md (O7) and docs/kinetic.md (K7)).
  const auto law = scheme_.affine_law([this](double sigma) { return gaussian_marginal(sigma); }, step);
  const auto n = static_cast<int>(law.mean.size());
  GaussianComponent c;
  c.mean.assign(law.mean.data(), law.mean.data() + n);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k) c.covariance.push_back(0.5 * (law.covariance(i, k) + law.covariance(k, i)));
  return std::make_unique<MixtureLaw>(GaussianMixture(family_ + ".target", n, {c}));
}

void ScoreDiffusionExperiment::customise_twins(Twin&, Twin& reverse, std::vector<Twin>&, RunSetup&) {
  if (!has_grid()) {
    if (one_gaussian()) reverse.title += ":\nthe exact law of the chain from γ (the Gaussian affine recursion)";
    else reverse.title += ": p_(T-s), which the chain started from γ follows up to the start law and the step";
    return;
  }
  // The sampler starts from γ, not from p_T: for exact dynamics the L1
  // distance to p_(T−s) never exceeds L1(p_T, γ) (a Markov kernel contracts
  // total variation), so that is the error the theory expects, beside the
  // noise floor.
  reverse.expected_label = "L1(p_T,γ)";
  std::shared_ptr<std::optional<double>> mismatch = std::make_shared<std::optional<double>>();
  reverse.expected = [this, mismatch](std::size_t, double) {
    if (!*mismatch) {
      const Grid& g = grid()->grid();
      std::vector<double> p_t, gamma;
      exact_density(horizon(), g, p_t);
      cell_averages(GaussianMixture::parse("reference", "1:0:1", dim()), g, gamma);
      *mismatch = compare(comm_, g.box(), p_t, gamma, 0).l1;
    }
    return **mismatch;
  };
  reverse.columns.push_back({"expected", "L1(p_T,γ)"});
}

std::vector<std::string> ScoreDiffusionExperiment::family_stages() const {
  if (sampler_law_) return {"sampler_law"};
  return {};
}

std::unique_ptr<Stage> ScoreDiffusionExperiment::make_family_stage(const std::string& name, RunSetup& setup) {
  if (name != "sampler_law") return DensityTwinExperiment::make_family_stage(name, setup);
  const Box& box = grid()->box();
  for (int a = 0; a < box.dim; ++a)
    if (box.cells[a] % 2 != 0)
      throw UsageError("grid.cells", "the grid as built has " + std::to_string(box.cells[a]) + " cells on axis " +
                                         std::to_string(a) + " (-da_refine?), but sampler_law needs even counts; "
                                         "accepted: grid options that keep every axis even");
  SamplerLawReport::Setup s;
  s.family = family_;
  s.target = target_spec_;
  s.data = data_;
  s.reference = diffusion_.initial_law(data_);
  Box data_box = box;
  data_box.dim = data_dim_;
  const RelativeToGaussian rel = relative_to_standard_normal(data_, data_box);
  s.fisher_information = rel.fisher_information;
  s.bound = bound_(rel, diffusion_.marginal(data_, horizon()), box, horizon(), scheme_.step(), s.bound_formula);
  if (one_gaussian()) s.gaussian_marginal = [this](double sigma) { return gaussian_marginal(sigma); };
  report_.emplace(std::move(s), box);
  return std::make_unique<SamplerLawStage>(setup.comm, box, scheme_, make_score(setup.store), *report_,
                                           sampler_law_text_);
}

void ScoreDiffusionExperiment::checkpoint(CheckpointArchive& a) {
  if (report_) {
    CheckpointArchive law = a.scope("sampler_law");
    report_->checkpoint(law);
  }
  a.value("sampler_law_report", sampler_law_text_);
}

std::string ScoreDiffusionExperiment::report(OutputFile&) { return sampler_law_text_; }

bool ScoreDiffusionExperiment::exact_density(double t, const Grid& grid, std::vector<double>& owned) const {
  // Cell averages of the evolved mixture (a point mass on a face is shared
  // by the cells beside it).
  cell_averages(diffusion_.marginal(data_, t), grid, owned);
  return true;
}

}  // namespace twinflow
