#pragma once
// What the kac family measures of generated samples against the data law
// (docs/kac.md, "Generated samples against the data law"), for every generative
// sampler of a run side by side: the mean log-likelihood under the true
// mixture (data with positive definite covariances), the fraction of samples
// within kNearMode of a mode (the nearest component mean), the mode weights
// (samples assigned to the nearest mean) against the components' weights,
// and the marginals' W1 (mean over the axes).
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/run/ensemble.hpp"

namespace twinflow::kac {

struct GenerativeMetrics {
  static constexpr double kNearMode = 0.05;
  /// The scalar figures, in values() order before the mode weights.
  static constexpr int kScalars = 5;
  double log_likelihood, log_likelihood_stderr;  ///< NaN for data with point masses
  double near_mode;                              ///< fraction within kNearMode of its mode
  double mode_weight_error;                      ///< max_k |ŵ_k − w_k|
  double marginal_w1;                            ///< mean over the axes
  std::vector<double> mode_weights;              ///< ŵ_k, one per component

  /// NaN everywhere (not measured yet).
  explicit GenerativeMetrics(std::size_t components);
  /// Collective over comm: the ensemble's points against the data law.
  static GenerativeMetrics measure(MPI_Comm comm, const GaussianMixture& data, const Ensemble& e);
  /// The figures as one array (checkpoints) and back.
  std::vector<double> values() const;
  static GenerativeMetrics from_values(const std::vector<double>& v);
};

}  // namespace twinflow::kac
