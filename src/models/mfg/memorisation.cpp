#include "memorisation.hpp"

#include <cmath>
#include <limits>

#include "twinflow/core/exact_sum.hpp"

namespace twinflow::mfg {
namespace {

constexpr int kFractionBits = 40;

// The two smallest squared distances from x to the points of `set`.
void two_nearest(const double* x, int dim, const std::vector<double>& set, double& first, double& second) {
  first = second = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < set.size(); i += static_cast<std::size_t>(dim)) {
    double r2 = 0;
    for (int a = 0; a < dim; ++a) r2 += (x[a] - set[i + a]) * (x[a] - set[i + a]);
    if (r2 < first) {
      second = first;
      first = r2;
    } else if (r2 < second) {
      second = r2;
    }
  }
}

}  // namespace

Memorisation measure_memorisation(MPI_Comm comm, const double* x, std::int64_t count, std::int64_t total, int dim,
                                  const std::vector<double>& training, const std::vector<double>& fresh) {
  FixedPointSum sums(3, kFractionBits);  // memorised, Σ ‖x − NN₁‖, Σ nearest fresh distance
  for (std::int64_t p = 0; p < count; ++p) {
    const double* xp = x + p * dim;
    double d1 = 0, d2 = 0;
    two_nearest(xp, dim, training, d1, d2);
    // ‖·‖ < ⅓‖·‖ compared as squares: 9 d1² < d2².
    sums.add(0, 9 * d1 < d2 ? 1.0 : 0.0);
    sums.add(1, std::sqrt(d1));
    if (!fresh.empty()) {
      two_nearest(xp, dim, fresh, d1, d2);
      sums.add(2, std::sqrt(d1));
    }
  }
  const std::vector<double> s = sums.reduce(comm);
  const auto n = static_cast<double>(total);
  Memorisation m;
  m.fraction = s[0] / n;
  m.fraction_stderr = std::sqrt(m.fraction * (1 - m.fraction) / n);
  m.nn_training = s[1] / n;
  m.nn_fresh = fresh.empty() ? std::numeric_limits<double>::quiet_NaN() : s[2] / n;
  return m;
}

}  // namespace twinflow::mfg
