#pragma once
// The kernel score of an mfg run (`mfg.score=kernel`, or beside another
// score): M centres, the first M training points, and the loss's samples,
// the next S training points (never a centre), trained by implicit score
// matching from a starting bandwidth by Scott's rule, h = σ̂ M^{−1/(d+4)}
// with σ̂² the training points' variance per coordinate averaged over
// coordinates.
// The samples are split over the ranks; the result is the same bits on
// every rank and for any rank count (kernel_score.hpp). The trained model
// is kept in the run's checkpoints.
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data.hpp"
#include "kernel_score.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/optim/minimise.hpp"

namespace twinflow {
class CheckpointArchive;
class Config;
class OptionSet;
}  // namespace twinflow

namespace twinflow::mfg {

/// A kernel score of a run: its settings from the keys, then the model,
/// trained (train) or taken from a checkpoint (checkpoint).
struct KernelFit {
  explicit KernelFit(KernelScoreModel untrained) : model(std::move(untrained)) {}

  std::int64_t centres = 0, samples = 0, iterations = 0;
  std::string covariance;  ///< "shared" or "per_centre"
  double delta = 0, bandwidth = 0;
  KernelScoreModel model;  ///< at the starting bandwidth until trained or restored
  MinimiseResult training;
  double seconds = 0;  ///< wall time of the training
  bool restored = false;  ///< taken from a checkpoint instead of trained in this process
  /// Blocks of d × d entries: P once (shared) or P_i per centre.
  std::vector<double> precisions;
  GaussianMixture terminal;  ///< η_T = (1/M) Σ N(x_i, P_i⁻¹)

  /// Collective. Trains the model on the samples (split over the ranks).
  void train(MPI_Comm comm, const DataSource& data);
  /// Collective. Saves the trained model and its training figures, or
  /// restores them into a fit planned from the same keys and data (a
  /// restarted run does not train again).
  void checkpoint(CheckpointArchive& archive);

 private:
  void take_trained_model();  ///< precisions and terminal from the model
};

/// Declares mfg.kernel.centres, .delta, .samples, .covariance and
/// mfg.train.iterations.
void declare_kernel_options(OptionSet& o);
/// Validates the keys against the training set (UsageError naming the key)
/// and sets the model up at its starting bandwidth, untrained. Training
/// points that cannot give a kernel (fewer than 2, or all one point) are an
/// error when `required` (mfg.score=kernel) and give no kernel otherwise.
std::optional<KernelFit> plan_kernel_score(const Config& c, const DataSource& data, double beta, bool required);

}  // namespace twinflow::mfg
