#include "kernel_fit.hpp"

#include <algorithm>
#include <cmath>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"
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
        "each; the loss of finitely many samples is unbounded below, docs/mfg.md (M7))",
        Accept::choice({"shared", "per_centre"}));
  o.add("mfg.train.iterations", "200", "TAO iterations at most for the kernel score's training",
        Accept::integer(1, 1e9));
}

std::optional<KernelFit> plan_kernel_score(const Config& c, const DataSource& data, double beta, bool required) {
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
  const std::int64_t centres = c.integer("mfg.kernel.centres") == 0 ? std::max<std::int64_t>(1, n / 5)
                                                                      : c.integer("mfg.kernel.centres");
  if (centres >= n)
    throw UsageError("mfg.kernel.centres", std::to_string(centres) + " centres leave no sample of the " +
                                               std::to_string(n) + " training points; accepted: 1 to " +
                                               std::to_string(n - 1) + " (0: n/5)");
  const std::int64_t samples = c.integer("mfg.kernel.samples") == 0 ? n - centres : c.integer("mfg.kernel.samples");
  if (samples > n - centres)
    throw UsageError("mfg.kernel.samples", std::to_string(samples) + " samples, but the " + std::to_string(n) +
                                               " training points leave " + std::to_string(n - centres) +
                                               " beside the centres; accepted: 1 to " + std::to_string(n - centres) +
                                               " (0: all)");
  const std::string covariance = c.choice("mfg.kernel.covariance");
  const double delta = c.real("mfg.kernel.delta");
  const double bandwidth = std::sqrt(variance) * std::pow(static_cast<double>(centres), -1.0 / (d + 4));
  KernelScoreModel model(d, std::vector<double>(points.begin(), points.begin() + centres * d), delta, beta, bandwidth,
                         covariance == "shared" ? KernelScoreModel::Covariance::kShared
                                                : KernelScoreModel::Covariance::kPerCentre);
  KernelFit fit(std::move(model));
  fit.centres = centres, fit.samples = samples, fit.iterations = c.integer("mfg.train.iterations");
  fit.covariance = covariance, fit.delta = delta, fit.bandwidth = bandwidth;
  return fit;
}

void KernelFit::train(MPI_Comm comm, const DataSource& data) {
  const int d = data.dim();
  const Ensemble mine = Ensemble::partition(comm, samples, d);
  const double start = MPI_Wtime();
  training = model.train(comm, data.training().data() + (centres + mine.first_id) * d, mine.count, iterations);
  // The slowest rank's time, so that every rank holds (and saves) the same.
  seconds = max_over_ranks(comm, MPI_Wtime() - start);
  take_trained_model();
}

void KernelFit::checkpoint(CheckpointArchive& a) {
  a.replicated("parameters", model.parameters());
  a.value("loss", training.value);
  a.value("iterations", training.iterations);
  a.value("evaluations", training.evaluations);
  a.value("tao_reason", training.reason);
  a.value("seconds", seconds);
  if (a.saving()) return;
  restored = true;
  take_trained_model();
}

void KernelFit::take_trained_model() {
  precisions.clear();
  const std::int64_t blocks = covariance == "shared" ? 1 : centres;
  for (std::int64_t i = 0; i < blocks; ++i) {
    const std::vector<double> p = model.precision(i);
    precisions.insert(precisions.end(), p.begin(), p.end());
  }
  terminal = model.terminal_law();
}

}  // namespace twinflow::mfg
