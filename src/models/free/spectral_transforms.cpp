#include "spectral_transforms.hpp"

#include <cmath>
#include <new>

namespace twinflow::free {

double hilbert_kernel(std::int64_t m) {
  if (m == 0) return 0;
  const double x = static_cast<double>(m);
  return std::log(std::abs((x + 0.5) / (x - 0.5)));
}

ToeplitzConvolution::ToeplitzConvolution(std::int64_t m, const std::function<double(std::int64_t)>& kernel)
    : m_(m), p_(1) {
  while (p_ < 2 * m_) p_ *= 2;
  const std::int64_t bins = p_ / 2 + 1;
  real_ = fftw_alloc_real(static_cast<std::size_t>(p_));
  spectrum_ = fftw_alloc_complex(static_cast<std::size_t>(bins));
  kernel_ = fftw_alloc_complex(static_cast<std::size_t>(bins));
  if (!real_ || !spectrum_ || !kernel_) throw std::bad_alloc();
  forward_ = fftw_plan_dft_r2c_1d(static_cast<int>(p_), real_, spectrum_, FFTW_ESTIMATE);
  backward_ = fftw_plan_dft_c2r_1d(static_cast<int>(p_), spectrum_, real_, FFTW_ESTIMATE);
  // The kernel laid out circularly: K_q at q, K_{−q} at P − q; the zeros
  // between keep the circular product of zero-padded inputs linear.
  for (std::int64_t q = 0; q < p_; ++q) real_[q] = 0;
  for (std::int64_t q = 0; q < m_; ++q) real_[q] = kernel(q);
  for (std::int64_t q = 1; q < m_; ++q) real_[p_ - q] = kernel(-q);
  fftw_execute(forward_);
  const double scale = 1.0 / static_cast<double>(p_);
  for (std::int64_t k = 0; k < bins; ++k) kernel_[k][0] = spectrum_[k][0] * scale, kernel_[k][1] = spectrum_[k][1] * scale;
}

ToeplitzConvolution::~ToeplitzConvolution() {
  fftw_destroy_plan(forward_);
  fftw_destroy_plan(backward_);
  fftw_free(real_);
  fftw_free(spectrum_);
  fftw_free(kernel_);
}

void ToeplitzConvolution::apply(const double* x, double* y) const {
  for (std::int64_t i = 0; i < m_; ++i) real_[i] = x[i];
  for (std::int64_t i = m_; i < p_; ++i) real_[i] = 0;
  fftw_execute(forward_);
  for (std::int64_t k = 0; k < p_ / 2 + 1; ++k) {
    const double re = spectrum_[k][0] * kernel_[k][0] - spectrum_[k][1] * kernel_[k][1];
    const double im = spectrum_[k][0] * kernel_[k][1] + spectrum_[k][1] * kernel_[k][0];
    spectrum_[k][0] = re, spectrum_[k][1] = im;
  }
  fftw_execute(backward_);
  for (std::int64_t i = 0; i < m_; ++i) y[i] = real_[i];
}

namespace {

double log_kernel(std::int64_t m) {
  const auto g = [](double u) { return u == 0 ? 0.0 : 0.5 * u * u * std::log(std::abs(u)) - 0.75 * u * u; };
  const double x = static_cast<double>(m);
  return g(x + 1) - 2 * g(x) + g(x - 1);
}

}  // namespace

SpectralTransforms::SpectralTransforms(std::int64_t cells, double spacing)
    : h_(spacing), hilbert_(cells, hilbert_kernel), log_(cells, log_kernel), work_(static_cast<std::size_t>(cells)) {}

void SpectralTransforms::hilbert_bare(const double* rho, double* out) const { hilbert_.apply(rho, out); }

void SpectralTransforms::hilbert(const double* rho, double* out) const {
  hilbert_.apply(rho, out);
  const std::int64_t m = cells();
  const double c = 0.5 * std::log(2.0);
  for (std::int64_t i = 0; i < m; ++i) {
    const double right = i + 1 < m ? rho[i + 1] : 0.0, left = i > 0 ? rho[i - 1] : 0.0;
    out[i] -= c * (right - left);
  }
}

double SpectralTransforms::log_energy(const double* rho) const {
  log_.apply(rho, work_.data());
  double mass = 0, quad = 0;
  for (std::int64_t i = 0; i < cells(); ++i) mass += rho[i], quad += rho[i] * work_[i];
  return h_ * h_ * (std::log(h_) * mass * mass + quad);
}

}  // namespace twinflow::free
