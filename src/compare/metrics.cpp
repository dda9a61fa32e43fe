#include "twinflow/compare/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <vector>
#include <limits>
#include <numbers>

#include "twinflow/core/collective.hpp"

namespace twinflow {

Comparison compare(MPI_Comm comm, double cell_measure, bool line, const std::vector<double>& p,
                   const std::vector<double>& q, std::int64_t samples, const std::vector<unsigned char>* atoms) {
  const double vol = cell_measure;
  const double n = static_cast<double>(samples);
  // sums: l1, hellinger², kl, floor, mass_p, mass_q, whether KL is infinite,
  // then continuous l1, continuous floor, atom mass p, atom mass q
  double s[11] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  bool kl_infinite = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double P = p[i] * vol, Q = q[i] * vol;
    s[0] += std::abs(P - Q);
    const double d = std::sqrt(std::max(P, 0.0)) - std::sqrt(std::max(Q, 0.0));
    s[1] += d * d;
    if (Q > 0) {
      if (P > 0)
        s[2] += Q * std::log(Q / P);
      else
        kl_infinite = true;
    }
    const double floor = samples > 0 && P > 0 && P < 1 ? std::sqrt(2 * P * (1 - P) / (std::numbers::pi * n)) : 0.0;
    s[3] += floor;
    s[4] += P;
    s[5] += Q;
    if (!atoms) continue;
    if ((*atoms)[i]) {
      s[9] += P;
      s[10] += Q;
    } else {
      s[7] += std::abs(P - Q);
      s[8] += floor;
    }
  }
  s[6] = kl_infinite ? 1 : 0;
  sum_over_ranks(comm, s, 11);
  const bool inf = s[6] > 0;
  Comparison c;
  c.l1 = s[0];
  c.hellinger = std::sqrt(0.5 * s[1]);
  // With P, Q renormalised to unit mass inside the box:
  // Σ (Q/mQ) log((Q/mQ)/(P/mP)) = s2/mQ − log(mQ/mP), which is >= 0.
  c.kl = inf ? std::numeric_limits<double>::infinity()
             : (s[5] > 0 ? s[2] / s[5] - std::log(s[5] / s[4]) : 0.0);
  c.noise_floor = s[3];
  c.mass_p = s[4];
  c.mass_q = s[5];
  const double nan = std::numeric_limits<double>::quiet_NaN();
  c.continuous_l1 = atoms ? s[7] : nan;
  c.continuous_noise_floor = atoms ? s[8] : nan;
  c.atom_mass_p = atoms ? s[9] : nan;
  c.atom_mass_q = atoms ? s[10] : nan;
  c.w1 = nan;
  if (line) {
    // W1 = ∫ |F_P − F_Q| dx with CDFs at cell right edges; blocks are
    // contiguous index ranges in rank order, so an exclusive scan gives the
    // CDF offset of this rank's block.
    double mine[2] = {0, 0}, before[2] = {0, 0};
    for (std::size_t i = 0; i < p.size(); ++i) mine[0] += p[i] * vol, mine[1] += q[i] * vol;
    collective_point(comm);
    MPI_Exscan(mine, before, 2, MPI_DOUBLE, MPI_SUM, comm);
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) before[0] = before[1] = 0;  // MPI_Exscan leaves rank 0 undefined
    double fp = before[0], fq = before[1], w = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      fp += p[i] * vol;
      fq += q[i] * vol;
      w += std::abs(fp - fq) * vol;
    }
    sum_over_ranks(comm, &w, 1);
    c.w1 = w;
  }
  return c;
}

double w1_to_cdf(MPI_Comm comm, const double* x, std::int64_t n, int dim, int axis, std::int64_t total,
                 const std::function<double(double)>& cdf, double lower, double upper, int bins) {
  // counts[0] below lower, counts[b + 1] in bin b, counts[bins + 1] above.
  std::vector<double> counts(static_cast<std::size_t>(bins) + 2, 0.0);
  const double width = (upper - lower) / bins;
  for (std::int64_t p = 0; p < n; ++p) {
    const double f = (x[p * dim + axis] - lower) / width;
    const std::size_t b = f < 0 ? 0 : f >= bins ? static_cast<std::size_t>(bins) + 1 : static_cast<std::size_t>(f) + 1;
    counts[b] += 1;
  }
  // Integer counts below 2^53: the sum is exact in any order.
  sum_over_ranks(comm, counts.data(), static_cast<int>(counts.size()));
  double below = counts[0], w = 0;
  for (int b = 0; b < bins; ++b) {
    below += counts[static_cast<std::size_t>(b) + 1];
    w += std::abs(below / static_cast<double>(total) - cdf(lower + (b + 1) * width)) * width;
  }
  return w;
}

double w1_noise_floor(const std::function<double(double)>& cdf, double lower, double upper, int bins,
                      std::int64_t samples) {
  const double width = (upper - lower) / bins, n = static_cast<double>(samples);
  double w = 0;
  for (int b = 0; b < bins; ++b) {
    const double f = std::clamp(cdf(lower + (b + 1) * width), 0.0, 1.0);  // weights may sum to 1 ± ulp
    w += std::sqrt(2 * f * (1 - f) / (std::numbers::pi * n)) * width;
  }
  return w;
}

}  // namespace twinflow
