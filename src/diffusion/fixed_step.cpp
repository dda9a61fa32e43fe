#include "twinflow/diffusion/fixed_step.hpp"

#include <unsupported/Eigen/MatrixFunctions>

#include <cmath>
#include <stdexcept>

#include "step_kernel.hpp"
#include "twinflow/math/gaussian_mixture.hpp"

namespace twinflow {
namespace {

using Matrix = LinearDiffusion::Matrix;
constexpr int kBlock = MixtureScore::kBlock;

// ∫_0^h e^{uB} du, the top-right block of exp(h [[B, I], [0, 0]]) (Van Loan).
Matrix integrated_exponential(const Matrix& b, double h) {
  const auto n = b.rows();
  Matrix big = Matrix::Zero(2 * n, 2 * n);
  big.topLeftCorner(n, n) = b;
  big.topRightCorner(n, n) = Matrix::Identity(n, n);
  const Matrix e = (h * big).exp();
  return e.topRightCorner(n, n);
}

// Lower-triangular L with L Lᵀ = q for a symmetric positive semidefinite q;
// a pivot at round-off level (a direction without noise, as in the x block
// of the kinetic EM step) gives a zero column.
std::vector<double> semidefinite_cholesky(const Matrix& q) {
  const auto n = static_cast<int>(q.rows());
  std::vector<double> l(static_cast<std::size_t>(n * n), 0.0);
  const double scale = q.cwiseAbs().maxCoeff();
  for (int j = 0; j < n; ++j) {
    double d = q(j, j);
    for (int k = 0; k < j; ++k) d -= l[j * n + k] * l[j * n + k];
    if (d <= 1e-15 * scale) continue;
    l[j * n + j] = std::sqrt(d);
    for (int i = j + 1; i < n; ++i) {
      double v = q(i, j);
      for (int k = 0; k < j; ++k) v -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = v / l[j * n + j];
    }
  }
  return l;
}

std::vector<double> rows_of(const Matrix& m) {
  std::vector<double> r(static_cast<std::size_t>(m.size()));
  for (int i = 0; i < m.rows(); ++i)
    for (int j = 0; j < m.cols(); ++j) r[i * m.cols() + j] = m(i, j);
  return r;
}

}  // namespace

Scheme parse_scheme(const std::string& name) {
  if (name == "rel-ei") return Scheme::kRelEi;
  if (name == "abs-ei") return Scheme::kAbsEi;
  if (name == "em") return Scheme::kEm;
  if (name == "pf-ode") return Scheme::kPfOde;
  throw std::logic_error("unknown scheme " + name);
}

std::string scheme_name(Scheme s) {
  switch (s) {
    case Scheme::kRelEi: return "rel-ei";
    case Scheme::kAbsEi: return "abs-ei";
    case Scheme::kEm: return "em";
    case Scheme::kPfOde: return "pf-ode";
  }
  return "?";
}

FixedStepScheme::FixedStepScheme(const LinearDiffusion& diffusion, Scheme scheme, double horizon,
                                 std::int64_t steps)
    : scheme_(scheme),
      n_(diffusion.dim()),
      horizon_(horizon),
      h_(horizon / static_cast<double>(steps)),
      steps_(steps) {
  const Matrix& a = diffusion.drift();
  const Matrix& d = diffusion.diffusion();
  const Matrix id = Matrix::Identity(n_, n_);
  switch (scheme) {
    case Scheme::kRelEi: {
      const Matrix e = (h_ * a.transpose()).exp();
      score_gain_ = integrated_exponential(a.transpose(), h_) * d;
      m_ = e + score_gain_;
      noise_ = id - e * e.transpose();
      break;
    }
    case Scheme::kAbsEi: {
      const Matrix e = (-h_ * a).exp();
      score_gain_ = integrated_exponential(-a, h_) * d;
      m_ = e;
      noise_ = e * e.transpose() - id;
      break;
    }
    case Scheme::kEm:
      m_ = id - h_ * a;
      score_gain_ = h_ * d;
      noise_ = h_ * d;
      break;
    case Scheme::kPfOde:
      m_ = -a;
      score_gain_ = 0.5 * d;
      noise_ = Matrix::Zero(n_, n_);
      break;
  }
  noise_ = 0.5 * (noise_ + noise_.transpose());
  m_rows_ = rows_of(m_);
  gain_rows_ = rows_of(score_gain_);
  noise_factor_ = semidefinite_cholesky(noise_);
}

double FixedStepScheme::sigma(std::int64_t k) const { return horizon_ - static_cast<double>(k) * h_; }

void FixedStepScheme::map_block(ScoreField& score, std::int64_t k, const double* y, double* out) const {
  double s[kBlock * 64];
  const double sig = sigma(k);
  score.score_block(sig, y, s);
  if (scheme_ != Scheme::kPfOde) {
    affine_block(n_, m_rows_.data(), gain_rows_.data(), y, s, out);
    return;
  }
  // y_mid = y + (h/2) f(σ_k, y), y' = y + h f(σ_k − h/2, y_mid), f = F y + G s.
  double f[kBlock * 64], mid[kBlock * 64];
  affine_block(n_, m_rows_.data(), gain_rows_.data(), y, s, f);
  for (int i = 0; i < n_ * kBlock; ++i) mid[i] = y[i] + 0.5 * h_ * f[i];
  score.score_block(sig - 0.5 * h_, mid, s);
  affine_block(n_, m_rows_.data(), gain_rows_.data(), mid, s, f);
  for (int i = 0; i < n_ * kBlock; ++i) out[i] = y[i] + h_ * f[i];
}

void FixedStepScheme::prepare_step(ScoreField& score, std::int64_t k) const {
  score.prepare(sigma(k));
  if (scheme_ == Scheme::kPfOde) score.prepare(sigma(k) - 0.5 * h_);
}

FixedStepScheme::Gaussian FixedStepScheme::affine_law(const std::function<Gaussian(double)>& marginal,
                                                      std::int64_t steps) const {
  const Matrix id = Matrix::Identity(n_, n_);
  Gaussian y{Eigen::VectorXd::Zero(n_), id};
  // A Gaussian score is affine: s(y) = S y + r with S = −C⁻¹, r = C⁻¹ m.
  const auto score_at = [&](double sig, Matrix& s, Eigen::VectorXd& r) {
    const Gaussian p = marginal(sig);
    const Eigen::LLT<Matrix> llt(p.covariance);
    s = -llt.solve(id);
    r = llt.solve(p.mean);
  };
  Matrix s, s2;
  Eigen::VectorXd r, r2;
  for (std::int64_t k = 0; k < (steps < 0 ? steps_ : steps); ++k) {
    score_at(sigma(k), s, r);
    Matrix a;
    Eigen::VectorXd b;
    if (scheme_ != Scheme::kPfOde) {
      a = m_ + score_gain_ * s;
      b = score_gain_ * r;
    } else {
      score_at(sigma(k) - 0.5 * h_, s2, r2);
      const Matrix p1 = id + 0.5 * h_ * (m_ + score_gain_ * s);
      const Eigen::VectorXd q1 = 0.5 * h_ * score_gain_ * r;
      const Matrix f2 = m_ + score_gain_ * s2;
      a = id + h_ * f2 * p1;
      b = h_ * f2 * q1 + h_ * score_gain_ * r2;
    }
    y.mean = a * y.mean + b;
    y.covariance = a * y.covariance * a.transpose() + noise_;
    y.covariance = 0.5 * (y.covariance + y.covariance.transpose());
  }
  return y;
}

double gaussian_kl(const FixedStepScheme::Gaussian& p, const FixedStepScheme::Gaussian& q) {
  const auto n = p.mean.size();
  const Eigen::LLT<Matrix> lq(q.covariance), lp(p.covariance);
  const Eigen::VectorXd dm = q.mean - p.mean;
  double logdet_q = 0, logdet_p = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    logdet_q += 2 * std::log(lq.matrixL()(i, i));
    logdet_p += 2 * std::log(lp.matrixL()(i, i));
  }
  const double trace = lq.solve(p.covariance).trace();
  return 0.5 * (trace + dm.dot(lq.solve(dm)) - static_cast<double>(n) + logdet_q - logdet_p);
}

}  // namespace twinflow
