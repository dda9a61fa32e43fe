#pragma once
// The memorisation measures of generated samples against the training set
// (docs/mfg.md (M6)): a sample is memorised when its
// nearest training point is three times closer than the second nearest,
// ‖x − NN₁‖ < ⅓ ‖x − NN₂‖; beside the fraction, the mean distance to the
// nearest training point and to the nearest point of a fresh set of the
// same law. Fresh samples of a smooth law in d dimensions are "memorised"
// at a rate near (1/3)^d too, which the family reports as the baseline.
#include <mpi.h>

#include <cstdint>
#include <vector>

namespace twinflow::mfg {

struct Memorisation {
  double fraction = 0, fraction_stderr = 0;  ///< binomial standard error
  double nn_training = 0, nn_fresh = 0;      ///< mean distances (nn_fresh NaN without a fresh set)
};

/// Collective over comm. This rank's `count` points (point-major, `dim`
/// coordinates) of `total` on all ranks; `training` and `fresh` are the
/// same on every rank (fresh may be empty). Sums are exact: the result is
/// the same bits for any partition of the points.
Memorisation measure_memorisation(MPI_Comm comm, const double* x, std::int64_t count, std::int64_t total, int dim,
                                  const std::vector<double>& training, const std::vector<double>& fresh);

}  // namespace twinflow::mfg
