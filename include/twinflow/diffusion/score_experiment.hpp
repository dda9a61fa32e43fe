#pragma once
// The experiment shared by the score-diffusion families (`ou`, `kinetic`):
// everything but the PDE solver and the KL bound follows from the family's
// LinearDiffusion — forward particles with the exact transition, the
// fixed-step reverse sampler with the closed-form score or the PDE's (taken
// from the field store), the closed-form density and laws, and the
// `sampler_law` stage. Keys live under the family's name: <family>.target,
// .scheme, .steps, .score.
#include <memory>
#include <optional>
#include <string>

#include "twinflow/diffusion/sampler_law.hpp"
#include "twinflow/diffusion/samplers.hpp"
#include "twinflow/run/density_twin.hpp"

namespace twinflow {

class Config;
class OptionSet;

/// Declares <family>.target/.scheme/.steps/.score with `target` as the
/// default data law.
void declare_score_family_options(OptionSet& o, const std::string& family, const std::string& target);

/// A family's bound on KL(reference | law of Y_N) for a run with exact
/// scores: given KL(μ|γ) and I(μ|γ) of the data, the forward marginal p_T on
/// the run's box, the horizon T and the step h; sets `formula` to the
/// formula it evaluates.
using KlBound = std::function<double(const RelativeToGaussian& data, const GaussianMixture& p_T, const Box& box,
                                     double horizon, double h, std::string& formula)>;

class ScoreDiffusionExperiment : public DensityTwinExperiment {
 public:
  /// Reads and validates the keys (UsageError); `data_dim` is the dimension
  /// of the data law (grid.dim). The family's make_density_solver builds the
  /// PDE side.
  ScoreDiffusionExperiment(const Config& c, MPI_Comm comm, LinearDiffusion diffusion, int data_dim,
                           const KlBound& bound);

  bool exact_density(double t, const Grid& grid, std::vector<double>& owned) const override;
  void checkpoint(CheckpointArchive& archive) override;
  std::string report(OutputFile& out) override;

 protected:
  std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble units) override;
  std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble units, FieldStore& store) override;
  std::vector<Publication> publications() const override;
  void observe_samples(std::size_t j, double clock, bool reverse, const ParticleSampler& s,
                       const std::vector<double>* histogram) override;
  std::unique_ptr<ReferenceLaw> forward_law(double t) const override;
  std::unique_ptr<ReferenceLaw> reverse_law(std::int64_t step, double s) const override;
  void customise_twins(Twin& forward, Twin& reverse, std::vector<Twin>& more, RunSetup& setup) override;
  std::vector<std::string> family_stages() const override;
  std::unique_ptr<Stage> make_family_stage(const std::string& name, RunSetup& setup) override;

 private:
  /// The score the reverse sampler and the sampler law use.
  std::shared_ptr<ScoreField> make_score(const FieldStore& store) const;
  /// (m_σ, C_σ) of the forward marginal when the data are one Gaussian.
  FixedStepScheme::Gaussian gaussian_marginal(double sigma) const;
  bool one_gaussian() const { return data_.components().size() == 1; }
  MPI_Comm comm_;
  LinearDiffusion diffusion_;
  int data_dim_;
  GaussianMixture data_;
  std::string family_, target_spec_;
  FixedStepScheme scheme_;
  bool pde_score_, sampler_law_;
  KlBound bound_;
  std::optional<SamplerLawReport> report_;
  std::string sampler_law_text_;  ///< the sampler_law stage's lines of the printed report
};

}  // namespace twinflow
