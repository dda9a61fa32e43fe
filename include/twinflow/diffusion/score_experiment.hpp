#pragma once
// The experiment shared by the score-diffusion families (`ou`, `kinetic`):
// everything but the PDE solver and the KL bound follows from the family's
// LinearDiffusion — forward particles with the exact transition, the
// fixed-step reverse sampler with the closed-form or the PDE score, the
// closed-form density, and the `sampler_law` report. Keys live under the
// family's name: <family>.target, .scheme, .steps, .score.
#include <memory>
#include <optional>
#include <string>

#include "twinflow/diffusion/sampler_law.hpp"
#include "twinflow/diffusion/samplers.hpp"

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

class ScoreDiffusionExperiment : public Experiment {
 public:
  /// Reads and validates the keys (UsageError); `data_dim` is the dimension
  /// of the data law (grid.dim). The family's make_density_solver builds the
  /// PDE side.
  ScoreDiffusionExperiment(const Config& c, LinearDiffusion diffusion, int data_dim, const KlBound& bound);

  int dim() const override { return diffusion_.dim(); }
  std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble e) override;
  std::int64_t reverse_steps() const override { return scheme_.steps(); }
  std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble e) override;
  std::vector<double> pde_observation_times() const override;
  void observe_pde(double t, const Grid& grid, const DensitySolver& pde) override;
  void observe_particles(std::size_t j, double t, bool reverse, const Grid& grid, const std::vector<double>& histogram,
                         const ParticleSampler& sampler) override;
  std::string finish(OutputFile& out, const Grid& grid, Progress& progress) override;
  void checkpoint(CheckpointArchive& archive) override;
  bool exact_density(double t, const Grid& grid, std::vector<double>& owned) const override;
  bool has_sampler_law() const override { return true; }

 protected:
  /// The PDE's nominal step T / pde.steps.
  double pde_step() const { return pde_dt_; }

 private:
  LinearDiffusion diffusion_;
  GaussianMixture data_;
  std::string family_, target_spec_;
  FixedStepScheme scheme_;
  Box box_;
  double horizon_, pde_dt_;
  std::uint64_t seed_;
  std::int64_t snapshots_;
  bool sampler_law_;
  std::shared_ptr<PdeScore> pde_score_;
  std::shared_ptr<ScoreField> score_;
  std::optional<SamplerLawReport> report_;
};

}  // namespace twinflow
