// The score kernel of the reverse samplers, in its own translation unit so
// that it alone is compiled for the host's vector unit (TWINFLOW_SIMD) and
// calls glibc's vector exp (libmvec, ≤ 4 ulp) through the declaration below.
// IEEE semantics are kept (no -ffast-math): only errno setting is dropped.
// Lanes are independent and the block size is fixed, so a particle's result
// does not depend on its position in a rank's array.
#include <algorithm>
#include <cmath>

#include "twinflow/math/gaussian_mixture.hpp"

extern "C" {
#pragma omp declare simd notinbranch
double exp(double);
}

namespace twinflow {

namespace {

// One block of points for a compile-time dimension D (0: runtime dim <= 64).
template <int D>
void score_block_impl(int dim, int ncomp, const double* mean, const double* precision, const double* log_norm,
                      const double* x, double* s) {
  constexpr int B = MixtureScore::kBlock;
  const int d = D > 0 ? D : dim;
  // Components are taken in chunks whose log-weights and P_c (x − m_c) fit
  // on the stack; a running max/rescale joins the chunks (log-sum-exp).
  constexpr int kChunk = 16;
  double best[B], total[B], l[kChunk][B], pd[kChunk][(D > 0 ? D : 64) * B], diff[(D > 0 ? D : 64) * B];
  for (int j = 0; j < B; ++j) best[j] = -INFINITY, total[j] = 0;
  for (int k = 0; k < d * B; ++k) s[k] = 0;
  for (int c0 = 0; c0 < ncomp; c0 += kChunk) {
    const int nc = std::min(kChunk, ncomp - c0);
    double chunk_best[B];
    for (int j = 0; j < B; ++j) chunk_best[j] = best[j];
    for (int cc = 0; cc < nc; ++cc) {
      const int c = c0 + cc;
      const double* m = &mean[c * d];
      const double* p = &precision[c * d * d];
      double q[B] = {};
      for (int i = 0; i < d; ++i)
#pragma omp simd
        for (int j = 0; j < B; ++j) diff[i * B + j] = x[i * B + j] - m[i];
      for (int i = 0; i < d; ++i) {
        double* row = &pd[cc][i * B];
#pragma omp simd
        for (int j = 0; j < B; ++j) row[j] = 0;
        for (int k = 0; k < d; ++k)
#pragma omp simd
          for (int j = 0; j < B; ++j) row[j] += p[i * d + k] * diff[k * B + j];
#pragma omp simd
        for (int j = 0; j < B; ++j) q[j] += diff[i * B + j] * row[j];
      }
#pragma omp simd
      for (int j = 0; j < B; ++j) {
        l[cc][j] = log_norm[c] - 0.5 * q[j];
        chunk_best[j] = std::max(chunk_best[j], l[cc][j]);
      }
    }
    // Rescale what earlier chunks summed to the new maximum.
    double rescale[B];
#pragma omp simd
    for (int j = 0; j < B; ++j) rescale[j] = best[j] == -INFINITY ? 0.0 : exp(best[j] - chunk_best[j]);
    for (int j = 0; j < B; ++j) total[j] *= rescale[j], best[j] = chunk_best[j];
    for (int i = 0; i < d; ++i)
#pragma omp simd
      for (int j = 0; j < B; ++j) s[i * B + j] *= rescale[j];
    for (int cc = 0; cc < nc; ++cc) {
      double w[B];
#pragma omp simd
      for (int j = 0; j < B; ++j) w[j] = exp(l[cc][j] - best[j]);
#pragma omp simd
      for (int j = 0; j < B; ++j) total[j] += w[j];
      for (int i = 0; i < d; ++i)
#pragma omp simd
        for (int j = 0; j < B; ++j) s[i * B + j] -= w[j] * pd[cc][i * B + j];
    }
  }
  for (int i = 0; i < d; ++i)
#pragma omp simd
    for (int j = 0; j < B; ++j) s[i * B + j] /= total[j];
}

}  // namespace

void MixtureScore::score_block(const double* x, double* s) const {
  // s(x) = −Σ_c π_c(x) P_c (x − m_c), π_c ∝ exp(l_c), l_c = log_norm_c − ½ (x−m_c)ᵀP_c(x−m_c),
  // normalised by log-sum-exp (max over components first).
  switch (dim_) {
    case 1: return score_block_impl<1>(1, ncomp_, mean_.data(), precision_.data(), log_norm_.data(), x, s);
    case 2: return score_block_impl<2>(2, ncomp_, mean_.data(), precision_.data(), log_norm_.data(), x, s);
    case 3: return score_block_impl<3>(3, ncomp_, mean_.data(), precision_.data(), log_norm_.data(), x, s);
    default: return score_block_impl<0>(dim_, ncomp_, mean_.data(), precision_.data(), log_norm_.data(), x, s);
  }
}

}  // namespace twinflow
