#include "twinflow/diffusion/linear_diffusion.hpp"

#include <unsupported/Eigen/MatrixFunctions>

#include <stdexcept>

namespace twinflow {

LinearDiffusion::LinearDiffusion(std::string name, Matrix drift, Matrix diffusion)
    : name_(std::move(name)), a_(std::move(drift)), d_(std::move(diffusion)) {
  if (a_.rows() != a_.cols() || d_.rows() != a_.rows() || d_.cols() != a_.cols())
    throw std::logic_error("LinearDiffusion: A and D must be square and of one size");
  if ((d_ - d_.transpose()).cwiseAbs().maxCoeff() > 0)
    throw std::logic_error("LinearDiffusion: D is not symmetric");
  if ((a_ + a_.transpose() + d_).cwiseAbs().maxCoeff() > 1e-14)
    throw std::logic_error("LinearDiffusion: A + Aᵀ + D != 0, so γ is not stationary");
}

LinearDiffusion LinearDiffusion::ou(int d) {
  return {"ou", -Matrix::Identity(d, d), 2 * Matrix::Identity(d, d)};
}

LinearDiffusion LinearDiffusion::kinetic(int d) {
  Matrix a = Matrix::Zero(2 * d, 2 * d), diff = Matrix::Zero(2 * d, 2 * d);
  a.topRightCorner(d, d) = Matrix::Identity(d, d);
  a.bottomLeftCorner(d, d) = -Matrix::Identity(d, d);
  a.bottomRightCorner(d, d) = -2 * Matrix::Identity(d, d);
  diff.bottomRightCorner(d, d) = 4 * Matrix::Identity(d, d);
  return {"kinetic", a, diff};
}

LinearDiffusion::Matrix LinearDiffusion::propagator(double t) const { return (t * a_).exp(); }

LinearDiffusion::Matrix LinearDiffusion::transition_covariance(double t) const {
  const Matrix e = propagator(t);
  Matrix c = Matrix::Identity(dim(), dim()) - e * e.transpose();
  return 0.5 * (c + c.transpose());
}

GaussianMixture LinearDiffusion::initial_law(const GaussianMixture& data) const {
  const int n = dim(), d = data.dim();
  if (d == n) return data;
  std::vector<GaussianComponent> out;
  for (const auto& c : data.components()) {
    GaussianComponent z;
    z.weight = c.weight;
    z.mean.assign(static_cast<std::size_t>(n), 0.0);
    z.covariance.assign(static_cast<std::size_t>(n * n), 0.0);
    for (int i = 0; i < d; ++i) {
      z.mean[i] = c.mean[i];
      for (int j = 0; j < d; ++j) z.covariance[i * n + j] = c.covariance[i * d + j];
    }
    for (int i = d; i < n; ++i) z.covariance[i * n + i] = 1.0;
    out.push_back(std::move(z));
  }
  return GaussianMixture(name_ + ".target", n, std::move(out));
}

GaussianMixture LinearDiffusion::marginal(const GaussianMixture& data, double t) const {
  const GaussianMixture start = initial_law(data);
  if (t == 0) return start;
  const int n = dim();
  const Matrix e = propagator(t), noise = transition_covariance(t);
  std::vector<GaussianComponent> out;
  for (const auto& c : start.components()) {
    const Eigen::Map<const Eigen::VectorXd> m(c.mean.data(), n);
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> cov(
        c.covariance.data(), n, n);
    const Eigen::VectorXd mt = e * m;
    Matrix ct = e * cov * e.transpose() + noise;
    ct = 0.5 * (ct + ct.transpose());
    GaussianComponent z;
    z.weight = c.weight;
    z.mean.assign(mt.data(), mt.data() + n);
    z.covariance.resize(static_cast<std::size_t>(n * n));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) z.covariance[i * n + j] = ct(i, j);
    out.push_back(std::move(z));
  }
  return GaussianMixture(name_ + ".target", n, std::move(out));
}

}  // namespace twinflow
