#include "kernel_score.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "twinflow/core/exact_sum.hpp"
#include "twinflow/math/log_sum_exp.hpp"

namespace twinflow::mfg {
namespace {
/// Per-sample terms are rounded to 2^−40: |ℓ| stays far below 2^60 for
/// any precision a double can hold usefully.
constexpr int kFractionBits = 40;
/// TAO stops when the gradient of the mean loss is this small.
constexpr double kGradientTolerance = 1e-8;
using Matrix = Eigen::MatrixXd;
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
  const std::size_t dd = static_cast<std::size_t>(d) * d, M = static_cast<std::size_t>(m_),
                    B = static_cast<std::size_t>(blocks_), P = theta_.size();
  // Per parameter block, flat d × d row-major: L, P = L Lᵀ + δ I, Σ = P⁻¹;
  // log of the normalisation and tr P.
  std::vector<double> factor(B * dd), prec(B * dd), cov(B * dd), log_norm(B), trace(B);
  for (std::size_t b = 0; b < B; ++b) {
    const Matrix l = lower_factor(theta_.data() + b * static_cast<std::size_t>(tri), d);
    const Matrix p = l * l.transpose() + delta_ * Matrix::Identity(d, d);
    const Eigen::LLT<Matrix> llt(p);
    const Matrix lp = llt.matrixL(), c = llt.solve(Matrix::Identity(d, d));
    log_norm[b] = lp.diagonal().array().log().sum() - 0.5 * d * std::log(2 * M_PI);
    trace[b] = p.trace();
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) {
        factor[b * dd + static_cast<std::size_t>(i * d + j)] = l(i, j);
        prec[b * dd + static_cast<std::size_t>(i * d + j)] = p(i, j);
        cov[b * dd + static_cast<std::size_t>(i * d + j)] = c(i, j);
      }
  }
  // Slots: Σ ℓ, the samples, then Σ ∂ℓ/∂θ. Each sample's terms are added
  // whole (for a shared block: summed over the centres first, in centre
  // order), so the sums do not depend on the partition of the samples.
  FixedPointSum sums(2 + (gradient ? P : 0), kFractionBits);
  std::vector<double> u(M * d), g(M * d), r(M), f(M), s(d), grad_p(B == 1 ? dd : 0), dl(dd);
  auto block = [&](std::size_t i) { return B == 1 ? std::size_t{0} : i; };
  // G (d × d, symmetric, in `out`) of centre k at this sample:
  //   G_k = r_k {2c [(f_k − f̄) A_k − (u gᵀ + g uᵀ) − I] + 2(1 − 2c) [(g·s − |s|²) A_k − ½(s uᵀ + u sᵀ)]},
  //   A_k = ½(Σ_k − u uᵀ).
  auto add_g = [&](std::size_t k, double fbar, double s2, double* out) {
    const double* uk = &u[k * d];
    const double* gk = &g[k * d];
    const double* ck = &cov[block(k) * dd];
    double gs = 0;
    for (int a = 0; a < d; ++a) gs += gk[a] * s[a];
    const double alpha = r[k] * (2 * c_ * (f[k] - fbar) + 2 * (1 - 2 * c_) * (gs - s2));
    const double beta_ug = r[k] * 2 * c_, beta_su = r[k] * (1 - 2 * c_);
    for (int a = 0; a < d; ++a)
      for (int b = 0; b < d; ++b)
        out[a * d + b] += alpha * 0.5 * (ck[a * d + b] - uk[a] * uk[b]) -
                          beta_ug * (uk[a] * gk[b] + gk[a] * uk[b] + (a == b ? 1.0 : 0.0)) -
                          beta_su * (s[a] * uk[b] + uk[a] * s[b]);
  };
  // ∂ℓ/∂L = 2 G L, its lower triangle into the sums at block b.
  auto add_factor_gradient = [&](std::size_t b, const double* gm) {
    const double* l = &factor[b * dd];
    for (int p = 0, e = 0; p < d; ++p)
      for (int q = 0; q <= p; ++q, ++e) {
        double v = 0;
        for (int t = q; t < d; ++t) v += gm[p * d + t] * l[t * d + q];  // L is lower: l[t][q] = 0 for t < q
        sums.add(2 + b * static_cast<std::size_t>(tri) + static_cast<std::size_t>(e), 2 * v);
      }
  };
  for (std::int64_t n = 0; n < count; ++n) {
    const double* x = samples + n * d;
    for (std::size_t i = 0; i < M; ++i) {
      const double* pi = &prec[block(i) * dd];
      const double* ci = &centres_[i * d];
      double* ui = &u[i * d];
      double* gi = &g[i * d];
      for (int a = 0; a < d; ++a) ui[a] = x[a] - ci[a];
      double quad = 0;
      for (int a = 0; a < d; ++a) {
        double v = 0;
        for (int b = 0; b < d; ++b) v -= pi[a * d + b] * ui[b];
        gi[a] = v;
        quad += ui[a] * v;
      }
      r[i] = log_norm[block(i)] + 0.5 * quad;
    }
    const double z = exp_shifted_by_max(r.data(), M);
    std::fill(s.begin(), s.end(), 0.0);
    double fbar = 0;
    for (std::size_t i = 0; i < M; ++i) {
      r[i] /= z;
      double g2 = 0;
      for (int a = 0; a < d; ++a) s[a] += r[i] * g[i * d + a], g2 += g[i * d + a] * g[i * d + a];
      f[i] = g2 - trace[block(i)];
      fbar += r[i] * f[i];
    }
    double s2 = 0;
    for (int a = 0; a < d; ++a) s2 += s[a] * s[a];
    sums.add(0, 2 * c_ * fbar + (1 - 2 * c_) * s2);
    sums.add(1, 1.0);
    if (!gradient) continue;
    if (B == 1) {
      std::fill(grad_p.begin(), grad_p.end(), 0.0);
      for (std::size_t k = 0; k < M; ++k)
        if (r[k] != 0) add_g(k, fbar, s2, grad_p.data());
      add_factor_gradient(0, grad_p.data());
    } else {
      for (std::size_t k = 0; k < M; ++k) {
        if (r[k] == 0) continue;  // an underflowed responsibility adds nothing
        std::fill(dl.begin(), dl.end(), 0.0);
        add_g(k, fbar, s2, dl.data());
        add_factor_gradient(k, dl.data());
      }
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
