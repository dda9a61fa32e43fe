#include "kernel_score.hpp"

#include <Eigen/Dense>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "twinflow/core/exact_sum.hpp"

namespace twinflow::mfg {
namespace {
/// Per-sample terms are rounded to 2^−40: |ℓ| stays far below 2^60 for
/// any precision a double can hold usefully.
constexpr int kFractionBits = 40;
/// TAO stops when the gradient of the mean loss is this small.
constexpr double kGradientTolerance = 1e-8;
using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;
}  // namespace

KernelScoreModel::KernelScoreModel(int dim, std::vector<double> centres, double delta, double beta,
                                   double bandwidth, Covariance covariance)
    : dim_(dim),
      m_(static_cast<std::int64_t>(centres.size()) / dim),
      blocks_(covariance == Covariance::kShared ? 1 : m_),
      centres_(std::move(centres)),
      delta_(delta),
      c_(1.0 / (2.0 * beta)),
      bandwidth_(bandwidth) {
  const int tri = dim_ * (dim_ + 1) / 2;
  theta_.assign(static_cast<std::size_t>(blocks_ * tri), 0.0);
  for (std::int64_t i = 0; i < blocks_; ++i)
    for (int a = 0, e = 0; a < dim_; ++a)
      for (int b = 0; b <= a; ++b, ++e)
        if (a == b) theta_[static_cast<std::size_t>(i * tri + e)] = 1.0 / bandwidth;
}

namespace {
Matrix lower_factor(const double* theta, int d) {
  Matrix l = Matrix::Zero(d, d);
  for (int a = 0, e = 0; a < d; ++a)
    for (int b = 0; b <= a; ++b, ++e) l(a, b) = theta[e];
  return l;
}
}  // namespace

std::vector<double> KernelScoreModel::precision(std::int64_t i) const {
  const int tri = dim_ * (dim_ + 1) / 2;
  const Matrix l = lower_factor(theta_.data() + block(i) * tri, dim_);
  const Matrix p = l * l.transpose() + delta_ * Matrix::Identity(dim_, dim_);
  return {p.data(), p.data() + p.size()};  // symmetric: column- and row-major agree
}

GaussianMixture KernelScoreModel::terminal_law() const {
  std::vector<GaussianComponent> components(static_cast<std::size_t>(m_));
  for (std::int64_t i = 0; i < m_; ++i) {
    const std::vector<double> p = precision(i);
    const Matrix sigma = Eigen::Map<const Matrix>(p.data(), dim_, dim_).llt().solve(Matrix::Identity(dim_, dim_));
    // Symmetrised, so the law's symmetry check sees the exact transpose.
    const Matrix symmetric = 0.5 * (sigma + sigma.transpose());
    GaussianComponent& c = components[static_cast<std::size_t>(i)];
    c.weight = 1.0 / static_cast<double>(m_);
    c.mean.assign(centres_.begin() + i * dim_, centres_.begin() + (i + 1) * dim_);
    c.covariance.assign(symmetric.data(), symmetric.data() + symmetric.size());
  }
  return GaussianMixture("mfg.kernel", dim_, std::move(components));
}

double KernelScoreModel::loss(MPI_Comm comm, const double* samples, std::int64_t count,
                              std::vector<double>* gradient) const {
  const int d = dim_, tri = d * (d + 1) / 2;
  const auto M = static_cast<std::size_t>(m_);
  const std::size_t P = theta_.size();
  // Slots: Σ ℓ, the samples, then Σ ∂ℓ/∂θ.
  FixedPointSum sums(2 + (gradient ? P : 0), kFractionBits);
  std::vector<Matrix> factor(M), prec(M), cov(M);
  std::vector<double> log_norm(M), trace(M);
  for (std::size_t i = 0; i < M; ++i) {
    factor[i] = lower_factor(theta_.data() + block(static_cast<std::int64_t>(i)) * tri, d);
    prec[i] = factor[i] * factor[i].transpose() + delta_ * Matrix::Identity(d, d);
    Eigen::LLT<Matrix> llt(prec[i]);
    const Matrix lp = llt.matrixL();
    log_norm[i] = lp.diagonal().array().log().sum() - 0.5 * d * std::log(2 * M_PI);
    cov[i] = llt.solve(Matrix::Identity(d, d));
    trace[i] = prec[i].trace();
  }
  std::vector<Vector> u(M), g(M);
  std::vector<double> logphi(M), r(M), f(M);
  for (std::int64_t n = 0; n < count; ++n) {
    const Eigen::Map<const Vector> x(samples + n * d, d);
    double top = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < M; ++i) {
      u[i] = x - Eigen::Map<const Vector>(centres_.data() + i * static_cast<std::size_t>(d), d);
      g[i] = -prec[i] * u[i];
      logphi[i] = log_norm[i] + 0.5 * u[i].dot(g[i]);
      top = std::max(top, logphi[i]);
    }
    double z = 0;
    for (std::size_t i = 0; i < M; ++i) z += (r[i] = std::exp(logphi[i] - top));
    Vector s = Vector::Zero(d);
    double fbar = 0;
    for (std::size_t i = 0; i < M; ++i) {
      r[i] /= z;
      s += r[i] * g[i];
      f[i] = g[i].squaredNorm() - trace[i];
      fbar += r[i] * f[i];
    }
    const double s2 = s.squaredNorm();
    sums.add(0, 2 * c_ * fbar + (1 - 2 * c_) * s2);
    sums.add(1, 1.0);
    if (!gradient) continue;
    for (std::size_t k = 0; k < M; ++k) {
      const Matrix a = 0.5 * (cov[k] - u[k] * u[k].transpose());
      const Matrix gk = r[k] * (2 * c_ * ((f[k] - fbar) * a - (u[k] * g[k].transpose() + g[k] * u[k].transpose()) -
                                          Matrix::Identity(d, d)) +
                                2 * (1 - 2 * c_) *
                                    ((g[k].dot(s) - s2) * a - 0.5 * (s * u[k].transpose() + u[k] * s.transpose())));
      const Matrix dl = 2 * gk * factor[k];
      for (int p = 0, e = 0; p < d; ++p)
        for (int q = 0; q <= p; ++q, ++e) sums.add(static_cast<std::size_t>(2 + block(static_cast<std::int64_t>(k)) * tri + e), dl(p, q));
    }
  }
  const std::vector<double> total = sums.reduce(comm);
  if (total[1] == 0) throw std::invalid_argument("KernelScoreModel::loss: no samples on any rank");
  if (gradient) {
    gradient->resize(P);
    for (std::size_t e = 0; e < P; ++e) (*gradient)[e] = total[2 + e] / total[1];
  }
  return total[0] / total[1];
}

MinimiseResult KernelScoreModel::train(MPI_Comm comm, const double* samples, std::int64_t count,
                                       std::int64_t iterations) {
  MinimiseSettings settings;
  settings.tao_type = "blmvm";
  settings.bound = kWidthRange / bandwidth_;
  settings.options_prefix = "mfg_kernel_";
  settings.max_iterations = iterations;
  settings.gradient_tolerance = kGradientTolerance;
  return minimise(
      comm, theta_,
      [&](const std::vector<double>& theta, std::vector<double>& g) {
        theta_ = theta;
        return loss(comm, samples, count, &g);
      },
      settings);
}

}  // namespace twinflow::mfg
