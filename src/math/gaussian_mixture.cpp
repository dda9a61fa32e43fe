#include "twinflow/math/gaussian_mixture.hpp"

#include <Eigen/Dense>
#include <boost/math/quadrature/gauss.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numbers>
#include <sstream>

#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/grid/grid.hpp"
namespace twinflow {
namespace {

using Matrix = Eigen::MatrixXd;

Matrix as_matrix(const std::vector<double>& c, int d) {
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      c.data(), d, d);
}

bool is_diagonal(const std::vector<double>& c, int d) {
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j)
      if (i != j && c[i * d + j] != 0.0) return false;
  return true;
}

}  // namespace

double normal_interval_probability(double m, double s, double lo, double hi) {
  if (s == 0.0) return face_shared_fraction(m, lo, hi);
  const double a = (lo - m) / (s * std::numbers::sqrt2), b = (hi - m) / (s * std::numbers::sqrt2);
  // Difference of erfc on the side where it is small, to keep tail accuracy.
  if (a >= 0) return 0.5 * (std::erfc(a) - std::erfc(b));
  if (b <= 0) return 0.5 * (std::erfc(-b) - std::erfc(-a));
  return 1.0 - 0.5 * (std::erfc(-a) + std::erfc(b));
}

namespace {

}  // namespace

GaussianMixture::GaussianMixture(const std::string& key, int dim,
                                 std::vector<GaussianComponent> components)
    : dim_(dim), components_(std::move(components)) {
  if (components_.empty()) throw UsageError(key, "has no components");
  double total = 0;
  for (const auto& c : components_) {
    if (!(c.weight > 0)) throw UsageError(key, "component weights must be > 0");
    total += c.weight;
    const Matrix cov = as_matrix(c.covariance, dim_);
    if ((cov - cov.transpose()).cwiseAbs().maxCoeff() > 1e-12 * (1 + cov.cwiseAbs().maxCoeff()))
      throw UsageError(key, "a covariance is not symmetric");
    if (is_diagonal(c.covariance, dim_)) {
      for (int k = 0; k < dim_; ++k)
        if (c.covariance[k * dim_ + k] < 0)
          throw UsageError(key, "a variance is negative; accepted: variances >= 0 (0 is a point mass)");
    } else if (Eigen::LLT<Matrix>(cov).info() != Eigen::Success) {
      throw UsageError(key, "a covariance is not positive definite");
    }
  }
  // Weights written with a few digits (9 × 0.11111111) are accepted and
  // renormalised; a sum farther from 1 is a mistake.
  constexpr double kWeightTolerance = 1e-6;
  if (std::abs(total - 1.0) > kWeightTolerance) {
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.10g", total);
    throw UsageError(key, std::string("weights sum to ") + sum + "; accepted: weights summing to 1 within 1e-6 "
                          "(they are then renormalised to sum to 1 exactly)");
  }
  for (auto& c : components_) c.weight /= total;
  for (const auto& c : components_) {
    std::vector<double> l(static_cast<std::size_t>(dim_ * dim_), 0.0);
    if (is_diagonal(c.covariance, dim_)) {
      for (int k = 0; k < dim_; ++k) l[k * dim_ + k] = std::sqrt(c.covariance[k * dim_ + k]);
    } else {
      const Matrix lm = Eigen::LLT<Matrix>(as_matrix(c.covariance, dim_)).matrixL();
      for (int i = 0; i < dim_; ++i)
        for (int j = 0; j < dim_; ++j) l[i * dim_ + j] = lm(i, j);
    }
    cholesky_.push_back(std::move(l));
  }
}

GaussianMixture GaussianMixture::parse(const std::string& key, const std::string& spec, int dim) {
  const std::string accepted =
      "'weight:mean:variance' components joined by ';' (mean and variance comma lists, one entry "
      "per dimension or one for all), or 'file:PATH'";
  std::vector<GaussianComponent> comps;
  const auto d = static_cast<std::size_t>(dim);
  if (spec.rfind("file:", 0) == 0) {
    const std::string path = spec.substr(5);
    std::ifstream in(path);
    if (!in) throw UsageError(key, "cannot read mixture file '" + path + "'");
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      line = trim(line.substr(0, line.find('#')));
      if (line.empty()) continue;
      std::istringstream is(line);
      std::vector<double> v;
      std::string tok;
      while (is >> tok) v.push_back(parse_real(key, tok, "numbers in '" + path + "'"));
      if (v.size() != 1 + d + d * d)
        throw UsageError(key, "'" + path + "' line " + std::to_string(lineno) + " has " +
                                  std::to_string(v.size()) + " numbers; accepted: weight, " +
                                  std::to_string(d) + " mean entries, " + std::to_string(d * d) +
                                  " covariance entries (row-major)");
      GaussianComponent c;
      c.weight = v[0];
      c.mean.assign(v.begin() + 1, v.begin() + 1 + dim);
      c.covariance.assign(v.begin() + 1 + dim, v.end());
      comps.push_back(std::move(c));
    }
  } else {
    for (const auto& part : split(spec, ';')) {
      const auto f = split(part, ':');
      if (f.size() != 3) throw UsageError(key, "'" + part + "' is malformed; accepted: " + accepted);
      GaussianComponent c;
      c.weight = parse_real(key, f[0], accepted);
      for (const auto& m : split(f[1], ',')) c.mean.push_back(parse_real(key, m, accepted));
      std::vector<double> var;
      for (const auto& v : split(f[2], ',')) var.push_back(parse_real(key, v, accepted));
      if (c.mean.size() == 1) c.mean.assign(d, c.mean[0]);
      if (var.size() == 1) var.assign(d, var[0]);
      if (c.mean.size() != d || var.size() != d)
        throw UsageError(key, "'" + part + "' does not have " + std::to_string(d) +
                                  " dimensions; accepted: " + accepted);
      c.covariance.assign(d * d, 0.0);
      for (std::size_t k = 0; k < d; ++k) c.covariance[k * d + k] = var[k];
      comps.push_back(std::move(c));
    }
  }
  return GaussianMixture(key, dim, std::move(comps));
}

namespace {

// P(box) of a mixture with positive definite covariances by the tensor
// 4-point Gauss–Legendre rule.
double quadrature_box_probability(const MixtureScore& density, const double* lo, const double* hi) {
  using Rule = boost::math::quadrature::gauss<double, 4>;
  const int d = density.dim();
  std::array<double, 8> nodes{}, weights{};
  int n = 0;
  for (std::size_t i = 0; i < Rule::abscissa().size(); ++i) {
    const double x = Rule::abscissa()[i], w = Rule::weights()[i];
    nodes[n] = x;
    weights[n++] = w;
    if (x != 0) {
      nodes[n] = -x;
      weights[n++] = w;
    }
  }
  double vol = 1;
  for (int k = 0; k < d; ++k) vol *= 0.5 * (hi[k] - lo[k]);
  std::vector<int> idx(static_cast<std::size_t>(d), 0);
  std::vector<double> x(static_cast<std::size_t>(d));
  double total = 0;
  for (;;) {
    double w = vol;
    for (int k = 0; k < d; ++k) {
      x[k] = 0.5 * (lo[k] + hi[k]) + 0.5 * (hi[k] - lo[k]) * nodes[idx[k]];
      w *= weights[idx[k]];
    }
    total += w * std::exp(density.log_density(x.data()));
    int k = 0;
    while (k < d && ++idx[k] == n) idx[k++] = 0;
    if (k == d) break;
  }
  return total;
}

}  // namespace

void cell_averages(const GaussianMixture& law, const Grid& grid, std::vector<double>& owned) {
  const Box& box = grid.box();
  const OwnedBlock& o = grid.owned();
  const double vol = box.cell_volume();
  if (law.diagonal()) {
    // A product over axes per component: the interval probabilities of
    // each axis once, then their products cell by cell, accumulated in the
    // order box_probability() uses (the same bits, components × cells
    // products instead of components × cells × d error functions).
    owned.assign(static_cast<std::size_t>(o.size()), 0.0);
    std::array<std::vector<double>, 3> axis;
    const int d = law.dim();
    for (const GaussianComponent& c : law.components()) {
      for (int a = 0; a < d; ++a) {
        axis[a].resize(static_cast<std::size_t>(o.count[a]));
        const double s = std::sqrt(c.covariance[a * d + a]);
        for (std::int64_t i = 0; i < o.count[a]; ++i) {
          const double lo = box.lower[a] + static_cast<double>(o.start[a] + i) * box.spacing(a);
          axis[a][i] = normal_interval_probability(c.mean[a], s, lo, lo + box.spacing(a));
        }
      }
      for_each_cell(o, [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
        double p = c.weight;
        for (int a = 0; a < d; ++a) p *= axis[a][idx[a] - o.start[a]];
        owned[pos] += p;
      });
    }
    for (double& v : owned) v /= vol;
    return;
  }
  owned.resize(static_cast<std::size_t>(o.size()));
  const MixtureScore density(law);  // once, not per cell
  double lo[3], hi[3];
  for_each_cell(o, [&](std::int64_t pos, const std::array<std::int64_t, 3>& idx) {
    for (int a = 0; a < box.dim; ++a) {
      lo[a] = box.lower[a] + static_cast<double>(idx[a]) * box.spacing(a);
      hi[a] = lo[a] + box.spacing(a);
    }
    owned[pos] = quadrature_box_probability(density, lo, hi) / vol;
  });
}

bool GaussianMixture::diagonal() const {
  return std::all_of(components_.begin(), components_.end(),
                     [&](const auto& c) { return is_diagonal(c.covariance, dim_); });
}

bool GaussianMixture::has_density() const {
  for (const auto& c : components_)
    if (Eigen::LLT<Matrix>(as_matrix(c.covariance, dim_)).info() != Eigen::Success) return false;
  return true;
}

GaussianMixture GaussianMixture::ou_marginal(double t) const {
  const double a = std::exp(-t), a2 = std::exp(-2 * t);
  std::vector<GaussianComponent> out = components_;
  for (auto& c : out) {
    for (auto& m : c.mean) m *= a;
    for (int i = 0; i < dim_; ++i)
      for (int j = 0; j < dim_; ++j)
        c.covariance[i * dim_ + j] = a2 * c.covariance[i * dim_ + j] + (i == j ? 1.0 - a2 : 0.0);
  }
  return GaussianMixture("ou.target", dim_, std::move(out));
}

double GaussianMixture::box_probability(const double* lo, const double* hi) const {
  double total = 0;
  if (diagonal()) {
    for (const auto& c : components_) {
      double p = c.weight;
      for (int k = 0; k < dim_; ++k)
        p *= normal_interval_probability(c.mean[k], std::sqrt(c.covariance[k * dim_ + k]), lo[k], hi[k]);
      total += p;
    }
    return total;
  }
  // Full covariances are positive definite (checked).
  return quadrature_box_probability(MixtureScore(*this), lo, hi);
}

double GaussianMixture::marginal_cdf(int axis, double x) const {
  double f = 0;
  for (const auto& c : components_) {
    const double s = std::sqrt(c.covariance[axis * dim_ + axis]), m = c.mean[axis];
    f += c.weight * (s > 0 ? 0.5 * std::erfc((m - x) / (s * std::numbers::sqrt2)) : (x >= m ? 1.0 : 0.0));
  }
  return f;
}

std::vector<double> GaussianMixture::mean() const {
  std::vector<double> m(static_cast<std::size_t>(dim_), 0.0);
  for (const auto& c : components_)
    for (int k = 0; k < dim_; ++k) m[k] += c.weight * c.mean[k];
  return m;
}

std::vector<double> GaussianMixture::second_moment() const {
  std::vector<double> m(static_cast<std::size_t>(dim_), 0.0);
  for (const auto& c : components_)
    for (int k = 0; k < dim_; ++k) m[k] += c.weight * (c.mean[k] * c.mean[k] + c.covariance[k * dim_ + k]);
  return m;
}

std::size_t GaussianMixture::sample(const CounterRng& rng, std::uint64_t id, double* x) const {
  // Component from a uniform in (0, 1] (block 0), Gaussian part from blocks 1...
  const double u = rng.uniform(id, 0, 0);
  std::size_t i = 0;
  for (double acc = components_[0].weight; i + 1 < components_.size() && u > acc;)
    acc += components_[++i].weight;
  double z[64];
  double* zp = dim_ <= 64 ? z : new double[static_cast<std::size_t>(dim_)];
  rng.normals(id, 0, zp, dim_, 1);
  const auto& c = components_[i];
  const auto& l = cholesky_[i];
  for (int r = 0; r < dim_; ++r) {
    double v = c.mean[r];
    for (int k = 0; k <= r; ++k) v += l[r * dim_ + k] * zp[k];
    x[r] = v;
  }
  if (zp != z) delete[] zp;
  return i;
}

MixtureScore::MixtureScore(const GaussianMixture& mixture)
    : dim_(mixture.dim()), ncomp_(static_cast<int>(mixture.components().size())) {
  for (const auto& c : mixture.components()) {
    const Eigen::LLT<Matrix> llt(as_matrix(c.covariance, dim_));
    if (llt.info() != Eigen::Success)
      throw RuntimeFailure("score of a mixture with a singular covariance requested (t = 0?)");
    const Matrix p = llt.solve(Matrix::Identity(dim_, dim_));
    double logdet = 0;
    for (int k = 0; k < dim_; ++k) logdet += 2 * std::log(llt.matrixL()(k, k));
    log_norm_.push_back(std::log(c.weight) - 0.5 * (logdet + dim_ * std::log(2 * std::numbers::pi)));
    mean_.insert(mean_.end(), c.mean.begin(), c.mean.end());
    for (int i = 0; i < dim_; ++i)
      for (int j = 0; j < dim_; ++j) precision_.push_back(p(i, j));
  }
}

double MixtureScore::log_density(const double* x) const {
  double best = -INFINITY;
  std::vector<double> l(static_cast<std::size_t>(ncomp_));
  for (int c = 0; c < ncomp_; ++c) {
    const double* m = &mean_[c * dim_];
    const double* p = &precision_[c * dim_ * dim_];
    double q = 0;
    for (int i = 0; i < dim_; ++i)
      for (int j = 0; j < dim_; ++j) q += (x[i] - m[i]) * p[i * dim_ + j] * (x[j] - m[j]);
    l[c] = log_norm_[c] - 0.5 * q;
    best = std::max(best, l[c]);
  }
  double sum = 0;
  for (double v : l) sum += std::exp(v - best);
  return best + std::log(sum);
}

void MixtureScore::score(const double* x, double* s) const {
  double xb[kBlock * 64] = {}, sb[kBlock * 64];
  for (int k = 0; k < dim_; ++k)
    for (int j = 0; j < kBlock; ++j) xb[k * kBlock + j] = x[k];
  score_block(xb, sb);
  for (int k = 0; k < dim_; ++k) s[k] = sb[k * kBlock];
}

}  // namespace twinflow
