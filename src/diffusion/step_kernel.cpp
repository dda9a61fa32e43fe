#include "step_kernel.hpp"

#include "twinflow/math/gaussian_mixture.hpp"

namespace twinflow {

constexpr int kBlock = MixtureScore::kBlock;

void affine_block(int n, const double* m, const double* g, const double* y, const double* s, double* out) {
  for (int i = 0; i < n; ++i) {
    double acc[kBlock] = {};
    for (int l = 0; l < n; ++l) {
      const double a = m[i * n + l], b = g[i * n + l];
#pragma omp simd
      for (int j = 0; j < kBlock; ++j) acc[j] += a * y[l * kBlock + j] + b * s[l * kBlock + j];
    }
    for (int j = 0; j < kBlock; ++j) out[i * kBlock + j] = acc[j];
  }
}

void add_lower_block(int n, const double* l, const double* z, double* out) {
  for (int i = 0; i < n; ++i)
    for (int c = 0; c <= i; ++c) {
      const double lic = l[i * n + c];
      if (lic == 0) continue;
#pragma omp simd
      for (int j = 0; j < kBlock; ++j) out[i * kBlock + j] += lic * z[c * kBlock + j];
    }
}

}  // namespace twinflow
