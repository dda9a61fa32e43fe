#include "heat_bridge.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace twinflow::mfg {
namespace {
std::vector<double> row_major(const Eigen::MatrixXd& m) {
  std::vector<double> v(static_cast<std::size_t>(m.size()));
  for (Eigen::Index a = 0; a < m.rows(); ++a)
    for (Eigen::Index b = 0; b < m.cols(); ++b) v[static_cast<std::size_t>(a * m.cols() + b)] = m(a, b);
  return v;
}
}  // namespace

HeatBridge::HeatBridge(const GaussianMixture& terminal, double beta) : dim_(terminal.dim()), beta_(beta) {
  if (!(beta > 0)) throw std::invalid_argument("HeatBridge: beta must be > 0");
  if (dim_ > kMaxDim) throw std::invalid_argument("HeatBridge: dimension above kMaxDim");
  for (const GaussianComponent& c : terminal.components())
    components_.push_back({c.mean, Eigen::Map<const Eigen::MatrixXd>(c.covariance.data(), dim_, dim_),
                           std::log(c.weight)});
}

void HeatBridge::prepare(double tau, double tau_next) {
  if (!(tau_next >= 0 && tau_next < tau)) throw std::invalid_argument("HeatBridge::prepare: need 0 <= tau' < tau");
  const Eigen::MatrixXd id = Eigen::MatrixXd::Identity(dim_, dim_);
  prepared_.clear();
  for (const Component& c : components_) {
    const Eigen::MatrixXd C = c.covariance + 2 * beta_ * tau * id;
    const Eigen::MatrixXd Cn = c.covariance + 2 * beta_ * tau_next * id;
    const Eigen::LLT<Eigen::MatrixXd> llt(C);
    const Eigen::MatrixXd precision = llt.solve(id);
    const Eigen::MatrixXd gain = Cn * precision;
    // C' − C' C⁻¹ C' = C' C⁻¹ (C − C') is symmetric positive semidefinite
    // (zero for a point mass at τ' = 0): its square root by eigenvalues.
    Eigen::MatrixXd cov = Cn - gain * Cn;
    cov = 0.5 * (cov + cov.transpose());
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
    const Eigen::MatrixXd noise = eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
    const Eigen::MatrixXd L = llt.matrixL();
    prepared_.push_back({row_major(precision), row_major(gain), row_major(noise),
                         c.log_weight - L.diagonal().array().log().sum() - 0.5 * dim_ * std::log(2 * M_PI)});
  }
}

void HeatBridge::step(double* x, double u, const double* z, std::vector<double>& scratch) const {
  const int d = dim_;
  const std::size_t n = components_.size();
  scratch.resize(n);
  // Responsibilities at (x, τ) by log-sum-exp, then the component whose
  // cumulative weight first reaches u.
  double top = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    const double* m = components_[i].mean.data();
    const double* p = prepared_[i].precision.data();
    double quad = 0;
    for (int a = 0; a < d; ++a) {
      double row = 0;
      for (int b = 0; b < d; ++b) row += p[a * d + b] * (x[b] - m[b]);
      quad += (x[a] - m[a]) * row;
    }
    scratch[i] = prepared_[i].log_norm - 0.5 * quad;
    top = std::max(top, scratch[i]);
  }
  double total = 0;
  for (double& l : scratch) total += (l = std::exp(l - top));
  std::size_t pick = n - 1;
  double cumulative = 0;
  for (std::size_t i = 0; i < n; ++i)
    if ((cumulative += scratch[i]) >= u * total) {
      pick = i;
      break;
    }
  const double* m = components_[pick].mean.data();
  const Prepared& p = prepared_[pick];
  double next[kMaxDim];
  for (int a = 0; a < d; ++a) {
    double v = m[a];
    for (int b = 0; b < d; ++b) v += p.gain[a * d + b] * (x[b] - m[b]) + p.noise[a * d + b] * z[b];
    next[a] = v;
  }
  for (int a = 0; a < d; ++a) x[a] = next[a];
}

}  // namespace twinflow::mfg
