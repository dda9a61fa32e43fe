#pragma once
// The `sampler_law` report of a score-diffusion run (docs/ou.md (O6)–(O8), docs/kinetic.md (K6)–(K7)): the law
// of the sampler's output Y_N computed on the grid (ChainLaw), its KL and L1
// distance to the data, the theoretical bound, the closed-form Gaussian
// recursion when the data are one Gaussian, and a check of the particles
// against the grid law: both are binned on one partition of the box (bins
// holding equal probability under the data, edges on cell faces) and the
// particles' binned KL, with its standard error, is compared with the grid
// law's. Written under /sampler_law by the run's `sampler_law` stage, which
// steps the chain law with a step boundary between steps.
#include <mpi.h>

#include <string>
#include <vector>

#include "twinflow/diffusion/chain_law.hpp"
#include "twinflow/diffusion/fixed_step.hpp"
#include "twinflow/grid/grid.hpp"
#include "twinflow/models/experiment.hpp"

namespace twinflow {

class OutputFile;
class Progress;

/// KL(μ|γ^n) and I(μ|γ^n) = ∫ |∇log μ + x|² dμ of a mixture with a density,
/// by the trapezoid rule over the cell centres of `box` (spectrally accurate
/// while μ is resolved and negligible at the box's faces). Not collective.
struct RelativeToGaussian {
  double kl = 0, fisher_information = 0;
};
RelativeToGaussian relative_to_standard_normal(const GaussianMixture& mu, const Box& box);

class SamplerLawReport {
 public:
  struct Setup {
    std::string family, target;  ///< family name and the data-law option text
    GaussianMixture data;        ///< the data law μ (dimension d)
    GaussianMixture reference;   ///< the law Y_N should approach: the forward process at t = 0
                                 ///< (μ, or μ ⊗ γ^d in phase space); when its dimension exceeds
                                 ///< d, the marginal of the first d coordinates is reported too
    double fisher_information = 0, bound = 0;
    std::string bound_formula;
    /// (m_σ, C_σ) of the forward marginal when the data are one Gaussian;
    /// empty otherwise.
    std::function<FixedStepScheme::Gaussian(double)> gaussian_marginal;
  };
  /// Confidence factor of the particle check: |particle − grid| <= z·se
  /// holds with probability 0.99994 (two-sided, normal approximation).
  static constexpr double kConfidenceZ = 4.0;

  SamplerLawReport(Setup setup, const Box& box);
  /// Collective. Counts the generated particles (at Y_N) in the bins.
  void count_particles(MPI_Comm comm, const Ensemble& ensemble);
  /// Collective. Saves or restores the particle counts.
  void checkpoint(CheckpointArchive& archive);
  /// Collective. Writes /sampler_law from the law of Y_N (the chain law of
  /// `scheme` after its last step) and returns the lines for the printed
  /// report.
  std::string write(const ChainLaw& law, const FixedStepScheme& scheme, OutputFile& out) const;

 private:
  std::size_t bin_of(const double* x) const;
  Setup setup_;
  Box box_;
  std::vector<std::vector<std::int64_t>> edges_;  ///< per axis: cell-face indices 0 = e_0 < … < e_B = cells
  std::vector<double> particle_counts_;
  double particle_total_ = 0;
};

/// The stage that computes the law of Y_N: the scheme's N steps of the
/// chain law from γ^n, a step boundary after each step but the last, then
/// the report (kept in `printed` for the end of the run). Collective.
class SamplerLawStage : public Stage {
 public:
  SamplerLawStage(MPI_Comm comm, const Box& box, const FixedStepScheme& scheme, std::shared_ptr<ScoreField> score,
                  SamplerLawReport& report, std::string& printed);
  std::string clock() const override { return "s"; }
  double clock_end() const override { return scheme_.step() * static_cast<double>(scheme_.steps()); }
  double clock_now() const override { return scheme_.step() * static_cast<double>(done_); }
  void begin(StageContext& ctx) override;
  bool run(StageContext& ctx) override;
  void checkpoint(CheckpointArchive& archive) override;

 private:
  MPI_Comm comm_;
  Box box_;
  FixedStepScheme scheme_;
  std::shared_ptr<ScoreField> score_;
  SamplerLawReport& report_;
  std::string& printed_;
  std::unique_ptr<ChainLaw> law_;
  std::int64_t done_ = 0;
};

}  // namespace twinflow
