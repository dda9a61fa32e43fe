#include "kernel_fit.hpp"

#include <algorithm>
#include <cmath>

#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/run/ensemble.hpp"

namespace twinflow::mfg {

void declare_kernel_options(OptionSet& o) {
  o.add("mfg.kernel.centres", "0", "centres M of the kernel score, the first M training points (0: n/5, at least 1)",
        Accept::integer(0, 1e7));
  o.add("mfg.kernel.delta", "1e-3", "δ in the kernel precisions P = L Lᵀ + δ I (a floor on the precision)",
        Accept::real(0));
  o.add("mfg.kernel.samples", "0",
        "training points after the centres that the kernel's implicit score matching averages over (0: all of them)",
        Accept::integer(0, 1e7));
  o.add("mfg.kernel.covariance", "shared",
        "kernel covariance: shared (one Σ for every centre; the loss has one minimiser) or per_centre (one Σ_i "
        "each; the loss of finitely many samples is unbounded below, README)",
        Accept::choice({"shared", "per_centre"}));
  o.add("mfg.train.iterations", "200", "TAO iterations at most for the kernel score's training",
        Accept::integer(1, 1e9));
}

std::optional<KernelFit> fit_kernel_score(const Config& c, MPI_Comm comm, const DataSource& data, double beta,
                                          bool required) {
  const std::int64_t n = data.train_count();
  const int d = data.dim();
  const std::vector<double>& points = data.training();
  // The starting bandwidth's σ̂² from every training point: the variance
  // per coordinate, averaged over the coordinates.
  double variance = 0;
  for (int a = 0; a < d; ++a) {
    double sum = 0, square = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double x = points[static_cast<std::size_t>(i * d + a)];
      sum += x, square += x * x;
    }
    const double mean = sum / static_cast<double>(n);
    variance += std::max(square / static_cast<double>(n) - mean * mean, 0.0) / d;
  }
  if (n < 2) {
    if (!required) return std::nullopt;
    throw UsageError("mfg.train", "the kernel score needs at least 2 training points (a centre and a sample); "
                                  "accepted: 2 or more");
  }
  if (!(variance > 0)) {
    if (!required) return std::nullopt;
    throw UsageError("mfg.data", "gives training points that are all one point, so no bandwidth starts the kernel "
                                 "score; accepted: data with spread for mfg.score=kernel");
  }
  KernelFit fit;
  fit.centres = c.integer("mfg.kernel.centres");
  if (fit.centres == 0) fit.centres = std::max<std::int64_t>(1, n / 5);
  if (fit.centres >= n)
    throw UsageError("mfg.kernel.centres", std::to_string(fit.centres) + " centres leave no sample of the " +
                                               std::to_string(n) + " training points; accepted: 1 to " +
                                               std::to_string(n - 1) + " (0: n/5)");
  fit.samples = c.integer("mfg.kernel.samples");
  if (fit.samples == 0) fit.samples = n - fit.centres;
  if (fit.samples > n - fit.centres)
    throw UsageError("mfg.kernel.samples", std::to_string(fit.samples) + " samples, but the " + std::to_string(n) +
                                               " training points leave " + std::to_string(n - fit.centres) +
                                               " beside the centres; accepted: 1 to " +
                                               std::to_string(n - fit.centres) + " (0: all)");
  fit.covariance = c.choice("mfg.kernel.covariance");
  fit.delta = c.real("mfg.kernel.delta");
  std::vector<double> centres(points.begin(), points.begin() + fit.centres * d);
  fit.bandwidth = std::sqrt(variance) * std::pow(static_cast<double>(fit.centres), -1.0 / (d + 4));
  KernelScoreModel model(d, std::move(centres), fit.delta, beta, fit.bandwidth,
                         fit.covariance == "shared" ? KernelScoreModel::Covariance::kShared
                                                    : KernelScoreModel::Covariance::kPerCentre);
  const Ensemble mine = Ensemble::partition(comm, fit.samples, d);
  const double start = MPI_Wtime();
  fit.training = model.train(comm, points.data() + (fit.centres + mine.first_id) * d, mine.count,
                             c.integer("mfg.train.iterations"));
  fit.seconds = MPI_Wtime() - start;
  const std::int64_t blocks = fit.covariance == "shared" ? 1 : fit.centres;
  for (std::int64_t i = 0; i < blocks; ++i) {
    const std::vector<double> p = model.precision(i);
    fit.precisions.insert(fit.precisions.end(), p.begin(), p.end());
  }
  fit.terminal = model.terminal_law();
  return fit;
}

}  // namespace twinflow::mfg
