// See twinflow/math/log_sum_exp.hpp; compiled with the kernel flags of
// src/CMakeLists.txt (IEEE semantics kept, errno setting dropped).
#include <algorithm>
#include <cmath>

#include "twinflow/math/log_sum_exp.hpp"

extern "C" {
#pragma omp declare simd notinbranch
double exp(double);
}

namespace twinflow {

double exp_shifted_by_max(double* l, std::size_t n) {
  double top = -INFINITY;
  for (std::size_t i = 0; i < n; ++i) top = std::max(top, l[i]);
  double total = 0;
  // Summed in index order (no reassociation), so the same bits on any
  // vector width.
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) l[i] = exp(l[i] - top);
  for (std::size_t i = 0; i < n; ++i) total += l[i];
  return total;
}

}  // namespace twinflow
