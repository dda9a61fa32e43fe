#include "heat_bridge.hpp"

#include <Eigen/Dense>

#include <cmath>
#include <stdexcept>

#include "twinflow/math/log_sum_exp.hpp"

namespace twinflow::mfg {
namespace {

void append_row_major(const Eigen::MatrixXd& m, std::vector<double>& out) {
  for (Eigen::Index a = 0; a < m.rows(); ++a)
    for (Eigen::Index b = 0; b < m.cols(); ++b) out.push_back(m(a, b));
}
}  // namespace

HeatBridge::HeatBridge(const GaussianMixture& terminal, double beta)
    : dim_(terminal.dim()), beta_(beta), count_(terminal.components().size()), isotropic_(true) {
  if (!(beta > 0)) throw std::invalid_argument("HeatBridge: beta must be > 0");
  if (dim_ > kMaxDim) throw std::invalid_argument("HeatBridge: dimension above kMaxDim");
  const int d = dim_;
  for (const GaussianComponent& c : terminal.components()) {
    means_.insert(means_.end(), c.mean.begin(), c.mean.end());
    covariances_.insert(covariances_.end(), c.covariance.begin(), c.covariance.end());
    log_weights_.push_back(std::log(c.weight));
    for (int a = 0; a < d; ++a)
      for (int b = 0; b < d; ++b)
        if (c.covariance[a * d + b] != (a == b ? c.covariance[0] : 0.0)) isotropic_ = false;
  }
}

void HeatBridge::prepare(double tau, double tau_next) {
  if (!(tau_next >= 0 && tau_next < tau)) throw std::invalid_argument("HeatBridge::prepare: need 0 <= tau' < tau");
  const int d = dim_;
  const Eigen::MatrixXd id = Eigen::MatrixXd::Identity(d, d);
  precision_.clear();
  gain_.clear();
  noise_.clear();
  log_norm_.clear();
  for (std::size_t i = 0; i < count_; ++i) {
    // Σ_i is symmetric, so its row-major entries read as column-major are Σ_i.
    const Eigen::MatrixXd sigma = Eigen::Map<const Eigen::MatrixXd>(&covariances_[i * d * d], d, d);
    const Eigen::MatrixXd C = sigma + 2 * beta_ * tau * id;
    const Eigen::MatrixXd Cn = sigma + 2 * beta_ * tau_next * id;
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
    if (isotropic_)
      precision_.push_back(precision(0, 0));
    else
      append_row_major(precision, precision_);
    append_row_major(gain, gain_);
    append_row_major(noise, noise_);
    log_norm_.push_back(log_weights_[i] - L.diagonal().array().log().sum() - 0.5 * d * std::log(2 * M_PI));
  }
}

void HeatBridge::step(double* x, double u, const double* z, std::vector<double>& scratch) const {
  const int d = dim_;
  const std::size_t n = count_;
  scratch.resize(n);
  // Responsibilities at (x, τ) by log-sum-exp, then the component whose
  // cumulative weight first reaches u.
  for (std::size_t i = 0; i < n; ++i) {
    const double* m = &means_[i * d];
    double quad = 0;
    if (isotropic_) {
      for (int a = 0; a < d; ++a) quad += (x[a] - m[a]) * (x[a] - m[a]);
      quad *= precision_[i];
    } else {
      const double* p = &precision_[i * d * d];
      for (int a = 0; a < d; ++a) {
        double row = 0;
        for (int b = 0; b < d; ++b) row += p[a * d + b] * (x[b] - m[b]);
        quad += (x[a] - m[a]) * row;
      }
    }
    scratch[i] = log_norm_[i] - 0.5 * quad;
  }
  const double total = exp_shifted_by_max(scratch.data(), n);
  std::size_t pick = n - 1;
  double cumulative = 0;
  for (std::size_t i = 0; i < n; ++i)
    if ((cumulative += scratch[i]) >= u * total) {
      pick = i;
      break;
    }
  const double* m = &means_[pick * d];
  const double* gain = &gain_[pick * d * d];
  const double* noise = &noise_[pick * d * d];
  double next[kMaxDim];
  for (int a = 0; a < d; ++a) {
    double v = m[a];
    for (int b = 0; b < d; ++b) v += gain[a * d + b] * (x[b] - m[b]) + noise[a * d + b] * z[b];
    next[a] = v;
  }
  for (int a = 0; a < d; ++a) x[a] = next[a];
}

}  // namespace twinflow::mfg
