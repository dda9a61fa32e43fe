#pragma once
// The nonlocal pieces of the free Fokker–Planck equation on a line of M
// cells of width h (docs/free.md (F6)), for cell
// averages ρ_j of a piecewise-constant density:
//   πHρ(x_i) = Σ_j K_{i−j} ρ_j − (ln 2/2)(ρ_{i+1} − ρ_{i−1}),
//     K_m = log|(m + ½)/(m − ½)|, K_0 = 0 (the exact kernel of the
//     piecewise-constant density, first order at centres; the difference
//     term makes it second order away from the support edges);
//   ∫∫ log|x − y| ρ(x)ρ(y) dx dy = h² [log h (Σ_j ρ_j)² + Σ_ij ρ_i c_{i−j} ρ_j],
//     c_m = g(m+1) − 2g(m) + g(m−1), g(u) = u² log|u|/2 − 3u²/4 (exact for
//     the piecewise-constant density).
// Both are Toeplitz products, computed as zero-padded linear convolutions
// with FFTW r2c/c2r in O(M log M): no periodisation error. Plans are made
// with FFTW_ESTIMATE, so every rank and every run computes bit-identical
// values from the same input. Not collective.
#include <fftw3.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace twinflow::free {

/// y_i = Σ_j K_{i−j} x_j for i, j < M, with K given for |m| < M.
class ToeplitzConvolution {
 public:
  ToeplitzConvolution(std::int64_t m, const std::function<double(std::int64_t)>& kernel);
  ~ToeplitzConvolution();
  ToeplitzConvolution(const ToeplitzConvolution&) = delete;
  ToeplitzConvolution& operator=(const ToeplitzConvolution&) = delete;
  void apply(const double* x, double* y) const;
  std::int64_t size() const { return m_; }
  /// The padded transform length (a power of two ≥ 2M).
  std::int64_t padded() const { return p_; }

 private:
  std::int64_t m_, p_;
  double* real_ = nullptr;
  fftw_complex* spectrum_ = nullptr;
  fftw_complex* kernel_ = nullptr;
  fftw_plan forward_ = nullptr, backward_ = nullptr;
};

/// The Hilbert transform and the logarithmic energy on M cells of width h.
class SpectralTransforms {
 public:
  SpectralTransforms(std::int64_t cells, double spacing);
  /// πHρ at the M cell centres (second order), into out.
  void hilbert(const double* rho, double* out) const;
  /// πHρ at the centres from the bare kernel (first order): the reference
  /// of the correction's test and of the benchmark.
  void hilbert_bare(const double* rho, double* out) const;
  /// ∫∫ log|x − y| ρρ for the piecewise-constant density.
  double log_energy(const double* rho) const;
  std::int64_t cells() const { return hilbert_.size(); }
  /// The transforms' length (a power of two ≥ 2M).
  std::int64_t padded() const { return hilbert_.padded(); }
  double spacing() const { return h_; }

 private:
  double h_;
  ToeplitzConvolution hilbert_, log_;
  mutable std::vector<double> work_;
};

/// The kernel K_m of the piecewise-constant Hilbert transform.
double hilbert_kernel(std::int64_t m);

}  // namespace twinflow::free
