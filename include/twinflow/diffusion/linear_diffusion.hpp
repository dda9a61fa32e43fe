#pragma once
// Linear (Ornstein–Uhlenbeck type) diffusions dZ = A Z dt + Σ dB on R^n with
// D = ΣΣᵀ and A + Aᵀ + D = 0, so that γ^n is stationary (docs/kinetic.md (K1)):
//   `ou`      n = d,  A = −I,                 D = 2I;
//   `kinetic` n = 2d, A = [[0, I], [−I, −2I]], D = diag(0, 4I), z = (x, v).
// Everything a score-diffusion family needs follows from (A, D): the exact
// transition, the forward marginals of Gaussian-mixture data (closed-form
// scores), and the fixed-step reverse schemes (fixed_step.hpp). Nothing here
// is collective.
#include <Eigen/Dense>

#include <string>

#include "twinflow/math/gaussian_mixture.hpp"

namespace twinflow {

class LinearDiffusion {
 public:
  using Matrix = Eigen::MatrixXd;

  /// Throws std::logic_error unless A + Aᵀ + D = 0 and D is symmetric.
  LinearDiffusion(std::string name, Matrix drift, Matrix diffusion);
  static LinearDiffusion ou(int d);
  static LinearDiffusion kinetic(int d);

  const std::string& name() const { return name_; }
  int dim() const { return static_cast<int>(a_.rows()); }
  const Matrix& drift() const { return a_; }
  const Matrix& diffusion() const { return d_; }

  /// e^{tA} (Padé matrix exponential).
  Matrix propagator(double t) const;
  /// Cov(Z_t | Z_0) = I − e^{tA} e^{tAᵀ} (A + Aᵀ + D = 0).
  Matrix transition_covariance(double t) const;

  /// The law of Z_0: the data on the first data.dim() coordinates times γ on
  /// the remaining ones (μ ⊗ γ^d for `kinetic`, μ itself for `ou`).
  GaussianMixture initial_law(const GaussianMixture& data) const;
  /// Law of Z_t from initial_law(data): every component N(m, C) becomes
  /// N(e^{tA} m, e^{tA} C e^{tAᵀ} + I − e^{tA} e^{tAᵀ}).
  GaussianMixture marginal(const GaussianMixture& data, double t) const;

 private:
  std::string name_;
  Matrix a_, d_;
};

}  // namespace twinflow
