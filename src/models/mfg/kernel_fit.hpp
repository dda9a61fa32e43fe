#pragma once
// The kernel score of an mfg run (`mfg.score=kernel`, or beside another
// score): M centres, the first M training points, and the loss's samples,
// the next S training points (never a centre), trained by implicit score
// matching from a starting bandwidth by Scott's rule, h = σ̂ M^{−1/(d+4)}
// with σ̂² the training points' variance per coordinate averaged over
// coordinates.
// The samples are split over the ranks; the result is the same bits on
// every rank and for any rank count (kernel_score.hpp).
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data.hpp"
#include "kernel_score.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/optim/minimise.hpp"

namespace twinflow {
class Config;
class OptionSet;
}  // namespace twinflow

namespace twinflow::mfg {

struct KernelFit {
  std::int64_t centres = 0, samples = 0;
  std::string covariance;  ///< "shared" or "per_centre"
  double delta = 0, bandwidth = 0;
  MinimiseResult training;
  double seconds = 0;  ///< wall time of the training
  /// Blocks of d × d entries: P once (shared) or P_i per centre.
  std::vector<double> precisions;
  GaussianMixture terminal;  ///< η_T = (1/M) Σ N(x_i, P_i⁻¹)
};

/// Declares mfg.kernel.centres, .delta, .samples, .covariance and
/// mfg.train.iterations.
void declare_kernel_options(OptionSet& o);
/// Collective. Validates the keys against the training set (UsageError
/// naming the key) and trains the model. Training points that cannot give
/// a kernel (fewer than 2, or all one point) are an error when `required`
/// (mfg.score=kernel) and give no kernel otherwise.
std::optional<KernelFit> fit_kernel_score(const Config& c, MPI_Comm comm, const DataSource& data, double beta,
                                          bool required);

}  // namespace twinflow::mfg
