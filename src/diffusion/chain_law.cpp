#include "twinflow/diffusion/chain_law.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "twinflow/core/collective.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/math/gaussian_mixture.hpp"

namespace twinflow {
namespace {

constexpr int kBlock = MixtureScore::kBlock;
// Gaussian gridding on a grid twice as fine as the output (spacing δ): a
// kernel of standard deviation 1.8 δ, cut off 15 fine cells either side.
// Aliasing then enters the resolved modes (|k| <= π/Δx = π/(2δ)) at
// exp(−π² (1.8)²) ≈ 1e-14 relative, and the cut-off kernel at
// exp(−15²/(2·1.8²)) ≈ 1e-15.
constexpr double kKernelWidth = 1.8;  // in fine cells
constexpr int kReach = 15;            // fine cells either side

fftw_complex* as_fftw(std::complex<double>* p) { return reinterpret_cast<fftw_complex*>(p); }

}  // namespace

ChainLaw::ChainLaw(MPI_Comm comm, const Box& box) : comm_(comm), box_(box), n_(box.dim) {
  if (n_ < 1 || n_ > 2) throw std::invalid_argument("ChainLaw: the box must be 1-D or 2-D");
  for (int a = 0; a < n_; ++a) {
    if (box.cells[a] % 2 != 0) throw std::invalid_argument("ChainLaw: cells per axis must be even");
    cells_[a] = box.cells[a];
    fine_[a] = 2 * cells_[a];
    spacing_[a] = box.spacing(a);
    fine_spacing_[a] = spacing_[a] / 2;
    width_[a] = kKernelWidth * fine_spacing_[a];
  }
  const std::size_t coarse = static_cast<std::size_t>(cells_[0] * cells_[1]);
  fine_grid_.assign(static_cast<std::size_t>(fine_[0] * fine_[1]), 0.0);
  density_.assign(coarse, 0.0);
  backward_out_.assign(coarse, 0.0);
  if (n_ == 1) {
    fine_spectrum_.resize(static_cast<std::size_t>(fine_[0] / 2 + 1));
    spectrum_.resize(static_cast<std::size_t>(cells_[0] / 2 + 1));
    backward_in_.resize(spectrum_.size());
    forward_ = fftw_plan_dft_r2c_1d(static_cast<int>(fine_[0]), fine_grid_.data(), as_fftw(fine_spectrum_.data()),
                                    FFTW_ESTIMATE);
    backward_ = fftw_plan_dft_c2r_1d(static_cast<int>(cells_[0]), as_fftw(backward_in_.data()), backward_out_.data(),
                                     FFTW_ESTIMATE);
  } else {
    fine_spectrum_.resize(static_cast<std::size_t>(fine_[0] * (fine_[1] / 2 + 1)));
    spectrum_.resize(static_cast<std::size_t>(cells_[0] * (cells_[1] / 2 + 1)));
    backward_in_.resize(spectrum_.size());
    forward_ = fftw_plan_dft_r2c_2d(static_cast<int>(fine_[0]), static_cast<int>(fine_[1]), fine_grid_.data(),
                                    as_fftw(fine_spectrum_.data()), FFTW_ESTIMATE);
    backward_ = fftw_plan_dft_c2r_2d(static_cast<int>(cells_[0]), static_cast<int>(cells_[1]),
                                     as_fftw(backward_in_.data()), backward_out_.data(), FFTW_ESTIMATE);
  }
  if (!forward_ || !backward_) throw std::runtime_error("ChainLaw: FFTW could not plan the transforms");
}

ChainLaw::~ChainLaw() {
  fftw_destroy_plan(forward_);
  fftw_destroy_plan(backward_);
}

void ChainLaw::set_standard_normal() {
  const double norm = std::pow(2 * std::numbers::pi, -0.5 * n_);
  for (std::int64_t i = 0; i < cells_[0]; ++i)
    for (std::int64_t j = 0; j < cells_[1]; ++j) {
      double r2 = std::pow(box_.centre(0, i), 2);
      if (n_ == 2) r2 += std::pow(box_.centre(1, j), 2);
      density_[i * cells_[1] + j] = norm * std::exp(-0.5 * r2);
    }
  // The mass of γ outside the box is missing from the start.
  double mass = 0;
  for (double p : density_) mass += p * box_.cell_volume();
  lost_ = 1 - mass;
}

void ChainLaw::spread(const double* point, double weight) {
  // Kernel values along each axis at the 2·kReach fine nodes around the point.
  double g[2][2 * kReach];
  std::int64_t node[2][2 * kReach];
  for (int a = 0; a < 2; ++a) {
    if (a >= n_) {
      g[a][0] = 1;
      node[a][0] = 0;
      continue;
    }
    const double f = (point[a] - box_.centre(a, 0)) / fine_spacing_[a];
    const auto first = static_cast<std::int64_t>(std::floor(f)) - kReach + 1;
    const double norm = 1 / (std::sqrt(2 * std::numbers::pi) * width_[a]);
    for (int t = 0; t < 2 * kReach; ++t) {
      const double dist = (f - static_cast<double>(first + t)) * fine_spacing_[a];
      g[a][t] = norm * std::exp(-0.5 * dist * dist / (width_[a] * width_[a]));
      node[a][t] = ((first + t) % fine_[a] + fine_[a]) % fine_[a];  // periodic
    }
  }
  const int reach1 = n_ == 2 ? 2 * kReach : 1;
  for (int t0 = 0; t0 < 2 * kReach; ++t0) {
    double* row = &fine_grid_[node[0][t0] * fine_[1]];
    const double w0 = weight * g[0][t0];
    for (int t1 = 0; t1 < reach1; ++t1) row[node[1][t1]] += w0 * g[1][t1];
  }
}

void ChainLaw::step(const FixedStepScheme& scheme, ScoreField& score, std::int64_t k) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm_, &rank);
  MPI_Comm_size(comm_, &size);
  const std::int64_t total = cells_[0] * cells_[1];
  const std::int64_t lo = total * rank / size, hi = total * (rank + 1) / size;
  const double volume = box_.cell_volume();
  std::fill(fine_grid_.begin(), fine_grid_.end(), 0.0);
  scheme.prepare_step(score, k);
  double lost = 0;
  double y[kBlock * 2] = {}, image[kBlock * 2];
  for (std::int64_t first = lo; first < hi; first += kBlock) {
    const int count = static_cast<int>(std::min<std::int64_t>(kBlock, hi - first));
    for (int j = 0; j < count; ++j) {
      const std::int64_t idx = first + j;
      y[j] = box_.centre(0, n_ == 2 ? idx / cells_[1] : idx);
      if (n_ == 2) y[kBlock + j] = box_.centre(1, idx % cells_[1]);
    }
    scheme.map_block(score, k, y, image);
    for (int j = 0; j < count; ++j) {
      const double weight = density_[first + j] * volume;
      const double point[2] = {image[j], n_ == 2 ? image[kBlock + j] : 0.0};
      bool inside = true;
      for (int a = 0; a < n_; ++a) inside = inside && point[a] >= box_.lower[a] && point[a] < box_.upper[a];
      if (inside)
        spread(point, weight);
      else
        lost += weight;
    }
  }
  sum_over_ranks(comm_, fine_grid_.data(), static_cast<int>(fine_grid_.size()));
  sum_over_ranks(comm_, &lost, 1);
  lost_ += lost;
  fftw_execute(forward_);

  // Resolved modes k_a = 2π n_a / L_a, |n_a| < cells_a/2 (the Nyquist modes
  // are set to 0). Each gets: the fine-grid quadrature weight δ^n, the
  // inverse of the gridding kernel's transform e^{½ Σ w_a² k_a²}, the
  // noise's characteristic function e^{−½ kᵀQk}, and 1/Πl L_a for the
  // inverse DFT.
  const auto& q = scheme.noise_covariance();
  double scale = 1;
  std::array<double, 2> dk{0, 0};
  for (int a = 0; a < n_; ++a) {
    const double length = box_.upper[a] - box_.lower[a];
    scale *= fine_spacing_[a] / length;
    dk[a] = 2 * std::numbers::pi / length;
  }
  const std::int64_t half0 = cells_[0] / 2, half1 = n_ == 2 ? cells_[1] / 2 : 1;
  const std::int64_t coarse_cols = n_ == 2 ? half1 + 1 : 1, fine_cols = n_ == 2 ? fine_[1] / 2 + 1 : 1;
  std::fill(spectrum_.begin(), spectrum_.end(), std::complex<double>(0, 0));
  if (n_ == 1) {
    for (std::int64_t m = 0; m < half0; ++m) {
      const double k0 = dk[0] * static_cast<double>(m);
      const double e = 0.5 * (width_[0] * width_[0] - q(0, 0)) * k0 * k0;
      spectrum_[m] = fine_spectrum_[m] * (scale * std::exp(e));
    }
  } else {
    for (std::int64_t i0 = 0; i0 < cells_[0]; ++i0) {
      if (i0 == half0) continue;
      const std::int64_t m0 = i0 < half0 ? i0 : i0 - cells_[0];
      const std::int64_t f0 = (m0 + fine_[0]) % fine_[0];
      const double k0 = dk[0] * static_cast<double>(m0);
      for (std::int64_t m1 = 0; m1 < half1; ++m1) {
        const double k1 = dk[1] * static_cast<double>(m1);
        const double e = 0.5 * (width_[0] * width_[0] * k0 * k0 + width_[1] * width_[1] * k1 * k1) -
                         0.5 * (q(0, 0) * k0 * k0 + 2 * q(0, 1) * k0 * k1 + q(1, 1) * k1 * k1);
        spectrum_[i0 * coarse_cols + m1] = fine_spectrum_[f0 * fine_cols + m1] * (scale * std::exp(e));
      }
    }
  }
  inverse_transform(spectrum_, density_);
}

void ChainLaw::checkpoint(CheckpointArchive& a) {
  a.replicated("density", density_);
  a.value("lost_mass", lost_);
}

void ChainLaw::inverse_transform(const std::vector<std::complex<double>>& spectrum, std::vector<double>& out) const {
  std::copy(spectrum.begin(), spectrum.end(), backward_in_.begin());  // c2r overwrites its input
  fftw_execute(backward_);
  out = backward_out_;
}

std::vector<double> ChainLaw::cell_masses() const {
  // ∫ over a cell of e^{ik(y − y_i)} = Δx sinc(k Δx/2) per axis.
  const auto sinc = [](double x) { return x == 0 ? 1.0 : std::sin(x) / x; };
  std::vector<std::complex<double>> filtered = spectrum_;
  const std::int64_t half0 = cells_[0] / 2;
  const std::int64_t cols = n_ == 2 ? cells_[1] / 2 + 1 : 1;
  for (std::int64_t i0 = 0; i0 < (n_ == 2 ? cells_[0] : half0 + 1); ++i0) {
    const std::int64_t m0 = (n_ == 2 && i0 > half0) ? i0 - cells_[0] : i0;
    const double f0 = sinc(std::numbers::pi * static_cast<double>(m0) / static_cast<double>(cells_[0]));
    for (std::int64_t m1 = 0; m1 < cols; ++m1) {
      const double f1 = n_ == 2 ? sinc(std::numbers::pi * static_cast<double>(m1) / static_cast<double>(cells_[1])) : 1;
      filtered[i0 * cols + m1] *= f0 * f1;
    }
  }
  std::vector<double> masses;
  inverse_transform(filtered, masses);
  for (double& m : masses) m *= box_.cell_volume();
  return masses;
}

double ChainLaw::spectral_tail() const {
  const double zero = std::abs(spectrum_[0]);
  const std::int64_t half0 = cells_[0] / 2;
  const std::int64_t cols = n_ == 2 ? cells_[1] / 2 + 1 : 1;
  double tail = 0;
  for (std::int64_t i0 = 0; i0 < (n_ == 2 ? cells_[0] : half0 + 1); ++i0) {
    const std::int64_t m0 = (n_ == 2 && i0 > half0) ? i0 - cells_[0] : i0;
    for (std::int64_t m1 = 0; m1 < cols; ++m1) {
      const bool outer = 4 * std::abs(m0) >= 3 * half0 || (n_ == 2 && 4 * m1 >= 3 * (cells_[1] / 2));
      if (outer) tail = std::max(tail, std::abs(spectrum_[i0 * cols + m1]));
    }
  }
  return zero > 0 ? tail / zero : 0;
}

}  // namespace twinflow
