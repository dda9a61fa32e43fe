#include "generative_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "twinflow/compare/metrics.hpp"
#include "twinflow/core/collective.hpp"

namespace twinflow::kac {
namespace {

// The marginal W1's bins: 2^14 over the data's range widened by 1 (the
// generated samples' spread beyond the modes is counted in full up to there).
constexpr int kW1Bins = 1 << 14;

}  // namespace

GenerativeMetrics::GenerativeMetrics(std::size_t components) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  log_likelihood = log_likelihood_stderr = near_mode = mode_weight_error = marginal_w1 = nan;
  mode_weights.assign(components, nan);
}

GenerativeMetrics GenerativeMetrics::measure(MPI_Comm comm, const GaussianMixture& data, const Ensemble& e) {
  const int d = e.dim;
  const auto& comps = data.components();
  const std::size_t k = comps.size();
  GenerativeMetrics m(k);
  const bool density = data.has_density();
  std::optional<MixtureScore> score;
  if (density) score.emplace(data);
  // sums: Σ log p, Σ (log p)², near a mode, then per-component counts
  std::vector<double> sums(3 + k, 0.0);
  for (std::int64_t p = 0; p < e.points(); ++p) {
    const double* x = &e.x[static_cast<std::size_t>(p * d)];
    if (score) {
      const double l = score->log_density(x);
      sums[0] += l;
      sums[1] += l * l;
    }
    std::size_t nearest = 0;
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c) {
      double r2 = 0;
      for (int a = 0; a < d; ++a) r2 += (x[a] - comps[c].mean[a]) * (x[a] - comps[c].mean[a]);
      if (r2 < best) best = r2, nearest = c;
    }
    sums[2] += std::sqrt(best) <= kNearMode ? 1 : 0;
    sums[3 + nearest] += 1;
  }
  sum_over_ranks(comm, sums.data(), static_cast<int>(sums.size()));
  const auto n = static_cast<double>(e.total * e.points_per_unit);
  if (density) {
    m.log_likelihood = sums[0] / n;
    m.log_likelihood_stderr = std::sqrt(std::max(sums[1] / n - m.log_likelihood * m.log_likelihood, 0.0) / n);
  }
  m.near_mode = sums[2] / n;
  m.mode_weight_error = 0;
  for (std::size_t c = 0; c < k; ++c) {
    m.mode_weights[c] = sums[3 + c] / n;
    m.mode_weight_error = std::max(m.mode_weight_error, std::abs(m.mode_weights[c] - comps[c].weight));
  }
  m.marginal_w1 = 0;
  for (int a = 0; a < d; ++a) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& c : comps) {
      const double spread = 6 * std::sqrt(c.covariance[a * d + a]);
      lo = std::min(lo, c.mean[a] - spread);
      hi = std::max(hi, c.mean[a] + spread);
    }
    m.marginal_w1 += w1_to_cdf(comm, e.x.data(), e.points(), d, a, e.total * e.points_per_unit,
                               [&](double x) { return data.marginal_cdf(a, x); }, lo - 1, hi + 1, kW1Bins) /
                     d;
  }
  return m;
}

std::vector<double> GenerativeMetrics::values() const {
  std::vector<double> v{log_likelihood, log_likelihood_stderr, near_mode, mode_weight_error, marginal_w1};
  v.insert(v.end(), mode_weights.begin(), mode_weights.end());
  return v;
}

GenerativeMetrics GenerativeMetrics::from_values(const std::vector<double>& v) {
  GenerativeMetrics m(v.size() - kScalars);
  m.log_likelihood = v[0], m.log_likelihood_stderr = v[1], m.near_mode = v[2], m.mode_weight_error = v[3],
  m.marginal_w1 = v[4];
  std::copy(v.begin() + kScalars, v.end(), m.mode_weights.begin());
  return m;
}

}  // namespace twinflow::kac
