#include "twinflow/compare/sample_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "twinflow/core/collective.hpp"
#include "twinflow/rng/counter_rng.hpp"

namespace twinflow {
namespace {

// Bins of the CDFs of each projection: fine enough that binning moves W1 by
// far less than its noise level for any sample size twinflow runs.
constexpr int kSlicedBins = 1 << 14;

// Mean and the sum of squared deviations of a local series, reduced.
void mean_and_variance(MPI_Comm comm, const std::vector<double>& v, std::int64_t total, double& mean, double& var) {
  double s[2] = {0, 0};
  for (double x : v) s[0] += x, s[1] += x * x;
  sum_over_ranks(comm, s, 2);
  const double n = static_cast<double>(total);
  mean = s[0] / n;
  var = std::max(s[1] / n - mean * mean, 0.0);
}

}  // namespace

MixtureLaw::MixtureLaw(GaussianMixture mixture) : mixture_(std::move(mixture)) {
  if (mixture_.has_density()) density_ = std::make_unique<MixtureScore>(mixture_);
}

std::vector<double> MixtureLaw::mean() const { return mixture_.mean(); }

std::vector<double> MixtureLaw::covariance() const {
  // Σ_i w_i (C_i + m_i m_iᵀ) − m mᵀ.
  const int d = mixture_.dim();
  const std::vector<double> m = mixture_.mean();
  std::vector<double> c(static_cast<std::size_t>(d * d), 0.0);
  for (const auto& comp : mixture_.components())
    for (int k = 0; k < d; ++k)
      for (int l = 0; l < d; ++l)
        c[k * d + l] += comp.weight * (comp.covariance[k * d + l] + comp.mean[k] * comp.mean[l]);
  for (int k = 0; k < d; ++k)
    for (int l = 0; l < d; ++l) c[k * d + l] -= m[k] * m[l];
  return c;
}

void MixtureLaw::sample(const Ensemble& layout, std::uint64_t seed, std::vector<double>& x) const {
  const CounterRng rng(seed, Stream::kReferenceSamples);
  const int d = mixture_.dim();
  x.resize(static_cast<std::size_t>(layout.count * d));
  for (std::int64_t u = 0; u < layout.count; ++u)
    mixture_.sample(rng, static_cast<std::uint64_t>(layout.first_id + u), &x[static_cast<std::size_t>(u * d)]);
}

SampleComparison compare_samples(MPI_Comm comm, const Ensemble& e, const ReferenceLaw& law, std::uint64_t seed) {
  const int d = law.dim();
  const auto n = static_cast<double>(e.total);
  const std::vector<double> m = law.mean(), c = law.covariance();
  SampleComparison r;

  // First and second moments, centred at the law's mean.
  std::vector<double> sums(static_cast<std::size_t>(d + d * d), 0.0);
  std::vector<double> dev(static_cast<std::size_t>(d));
  for (std::int64_t u = 0; u < e.count; ++u) {
    const double* x = &e.x[static_cast<std::size_t>(u * d)];
    for (int k = 0; k < d; ++k) dev[k] = x[k] - m[k], sums[k] += x[k];
    for (int k = 0; k < d; ++k)
      for (int l = k; l < d; ++l) sums[d + k * d + l] += dev[k] * dev[l];
  }
  sum_over_ranks(comm, sums.data(), static_cast<int>(sums.size()));
  double mean2 = 0, cov2 = 0;
  for (int k = 0; k < d; ++k) {
    const double diff = sums[k] / n - m[k];
    mean2 += diff * diff;
    r.mean_max_z = std::max(r.mean_max_z, std::abs(diff) / std::sqrt(c[k * d + k] / n));
    for (int l = k; l < d; ++l) {
      const double ckl = c[k * d + l], delta = sums[d + k * d + l] / n - ckl;
      cov2 += (k == l ? 1 : 2) * delta * delta;
      const double se = std::sqrt((c[k * d + k] * c[l * d + l] + ckl * ckl) / n);
      if (se > 0) r.covariance_max_z = std::max(r.covariance_max_z, std::abs(delta) / se);
    }
  }
  r.mean_error = std::sqrt(mean2);
  r.covariance_error = std::sqrt(cov2);

  // Exact samples for the same unit ids.
  std::vector<double> exact;
  law.sample(e, seed, exact);

  if (law.has_density()) {
    const LogLikelihood l = mean_log_likelihood(comm, e, exact, law);
    r.loglik = l.mean, r.loglik_reference = l.reference, r.loglik_se = l.standard_error;
  } else {
    r.loglik = r.loglik_reference = r.loglik_se = std::numeric_limits<double>::quiet_NaN();
  }
  const SlicedDistance w = sliced_w1(comm, e, exact);
  r.sliced_w1 = w.w1, r.sliced_w1_noise = w.noise;
  return r;
}

LogLikelihood mean_log_likelihood(MPI_Comm comm, const Ensemble& e, const std::vector<double>& reference,
                                  const ReferenceLaw& law) {
  const int d = e.dim;
  std::vector<double> a(static_cast<std::size_t>(e.count)), b(a.size());
  for (std::int64_t u = 0; u < e.count; ++u) {
    a[u] = law.log_density(&e.x[static_cast<std::size_t>(u * d)]);
    b[u] = law.log_density(&reference[static_cast<std::size_t>(u * d)]);
  }
  LogLikelihood l;
  double va = 0, vb = 0;
  mean_and_variance(comm, a, e.total, l.mean, va);
  mean_and_variance(comm, b, e.total, l.reference, vb);
  l.standard_error = std::sqrt((va + vb) / static_cast<double>(e.total));
  return l;
}

SlicedDistance sliced_w1(MPI_Comm comm, const Ensemble& e, const std::vector<double>& reference) {
  const int d = e.dim;
  const auto n = static_cast<double>(e.total);
  SlicedDistance r;
  // Fixed directions (the same in every run), the CDFs of both projections
  // on one binning of their joint range.
  const CounterRng directions(0, Stream::kSlicedDirections);
  std::vector<double> dir(static_cast<std::size_t>(d)), pa(static_cast<std::size_t>(e.count)), pb(pa.size());
  std::vector<std::int64_t> counts(2 * static_cast<std::size_t>(kSlicedBins));
  for (int k = 0; k < kSlicedDirections; ++k) {
    directions.normals(static_cast<std::uint64_t>(k), 0, dir.data(), d);
    double norm = 0;
    for (double v : dir) norm += v * v;
    for (double& v : dir) v /= std::sqrt(norm);
    double range[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
    for (std::int64_t u = 0; u < e.count; ++u) {
      double x = 0, y = 0;
      for (int a = 0; a < d; ++a) x += dir[a] * e.x[u * d + a], y += dir[a] * reference[u * d + a];
      pa[u] = x, pb[u] = y;
      range[0] = std::min({range[0], x, y});
      range[1] = std::min({range[1], -x, -y});
    }
    collective_point(comm);
    MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_DOUBLE, MPI_MIN, comm);
    const double lo = range[0], hi = -range[1], width = (hi - lo) / kSlicedBins;
    std::fill(counts.begin(), counts.end(), 0);
    if (width > 0)
      for (std::int64_t u = 0; u < e.count; ++u) {
        counts[std::min(static_cast<std::int64_t>((pa[u] - lo) / width), std::int64_t{kSlicedBins - 1})] += 1;
        counts[kSlicedBins + std::min(static_cast<std::int64_t>((pb[u] - lo) / width), std::int64_t{kSlicedBins - 1})] += 1;
      }
    sum_over_ranks(comm, counts.data(), static_cast<int>(counts.size()));
    double fa = 0, fb = 0, w = 0, noise = 0;
    for (int b = 0; b < kSlicedBins; ++b) {
      fa += static_cast<double>(counts[b]) / n;
      fb += static_cast<double>(counts[kSlicedBins + b]) / n;
      w += std::abs(fa - fb) * width;
      // Two independent empirical CDFs of N points: E|F_a − F_b| = sqrt(4 F (1 − F) / (π N)).
      const double f = std::clamp(0.5 * (fa + fb), 0.0, 1.0);
      noise += std::sqrt(4 * f * (1 - f) / (std::numbers::pi * n)) * width;
    }
    r.w1 += w / kSlicedDirections;
    r.noise += noise / kSlicedDirections;
  }
  return r;
}

}  // namespace twinflow
