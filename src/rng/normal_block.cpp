// Box–Muller across a block of lanes, compiled like the other particle
// kernels (TWINFLOW_SIMD) so that log, sin and cos are glibc's vector
// versions (libmvec). Every lane runs the same instructions, so a particle's
// normals do not depend on its lane.
#include <cmath>
#include <numbers>

#include "twinflow/rng/counter_rng.hpp"

extern "C" {
#pragma omp declare simd notinbranch
double log(double);
#pragma omp declare simd notinbranch
double sin(double);
#pragma omp declare simd notinbranch
double cos(double);
}

namespace twinflow {

void CounterRng::normals_block(std::uint64_t first_id, std::uint64_t step, std::uint64_t block, int lanes, int n,
                               double* out) const {
  constexpr int kMaxLanes = 64;
  double angle[2][kMaxLanes], radius_u[2][kMaxLanes];
  const int pairs = (n + 1) / 2;
  for (int j = 0; j < lanes; ++j) {
    const auto w = words(first_id + static_cast<std::uint64_t>(j), step, block);
    for (int p = 0; p < pairs; ++p) {
      angle[p][j] = r123::uneg11<double>(w[2 * p]);
      radius_u[p][j] = r123::u01<double>(w[2 * p + 1]);  // in (0, 1]: log is finite
    }
  }
  for (int p = 0; p < pairs; ++p) {
    double* x = out + 2 * p * lanes;
    double* y = out + (2 * p + 1) * lanes;
    const bool second = 2 * p + 1 < n;
#pragma omp simd
    for (int j = 0; j < lanes; ++j) {
      const double r = std::sqrt(-2.0 * log(radius_u[p][j]));
      const double a = std::numbers::pi * angle[p][j];
      x[j] = r * sin(a);
      if (second) y[j] = r * cos(a);
    }
  }
}

}  // namespace twinflow
