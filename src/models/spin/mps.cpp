#include "mps.hpp"

#include <gsl/gsl_sf_ellint.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <utility>

namespace twinflow::spin {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool non_negative(const Eigen::Ref<const Eigen::MatrixXd>& a) { return a.allFinite() && (a.array() >= 0).all(); }

void check_finite(double v, const char* what) {
  if (!std::isfinite(v)) throw std::invalid_argument(std::string(what) + " must be finite");
}

}  // namespace

Mps::Mps(Eigen::VectorXd l, std::vector<std::array<Eigen::MatrixXd, 2>> tensors, Eigen::VectorXd r, double log_scale)
    : l_(std::move(l)), r_(std::move(r)), sites_(std::move(tensors)), log_scale_(log_scale) {
  if (sites_.empty()) throw std::invalid_argument("Mps: no sites");
  check_finite(log_scale_, "Mps: the log scale");
  if (l_.size() == 0 || r_.size() == 0) throw std::invalid_argument("Mps: empty boundary vector");
  if (!non_negative(l_) || !non_negative(r_))
    throw std::invalid_argument("Mps: boundary vectors must be finite and non-negative");
  Eigen::Index rows = l_.size();
  for (int i = 0; i < sites(); ++i) {
    for (int b = 0; b < 2; ++b) {
      const Eigen::MatrixXd& a = site(i, b);
      if (a.rows() != rows || a.cols() != site(i, 0).cols() || a.cols() == 0)
        throw std::invalid_argument("Mps: site " + std::to_string(i) + " tensor " + std::to_string(b) + " is " +
                                    std::to_string(a.rows()) + " x " + std::to_string(a.cols()) +
                                    ", its left bond has " + std::to_string(rows));
      if (!non_negative(a))
        throw std::invalid_argument("Mps: site " + std::to_string(i) + " tensor " + std::to_string(b) +
                                    " must be finite and non-negative");
    }
    rows = site(i, 0).cols();
  }
  if (rows != r_.size())
    throw std::invalid_argument("Mps: r has " + std::to_string(r_.size()) + " entries, the last bond " +
                                std::to_string(rows));

  const int L = sites();
  const auto n = static_cast<std::size_t>(L) + 1;
  left_.resize(n), right_.resize(n), left_log_.resize(n), right_log_.resize(n);
  left_[0] = l_;
  left_log_[0] = normalise_sum(left_[0]);
  for (int k = 0; k < L; ++k) {
    const auto j = static_cast<std::size_t>(k);
    left_[j + 1] = site(k, 0).transpose() * left_[j];
    left_[j + 1].noalias() += site(k, 1).transpose() * left_[j];
    left_log_[j + 1] = left_log_[j] + normalise_sum(left_[j + 1]);
  }
  right_[n - 1] = r_;
  right_log_[n - 1] = normalise_sum(right_[n - 1]);
  for (int k = L - 1; k >= 0; --k) {
    const auto j = static_cast<std::size_t>(k);
    right_[j] = site(k, 0) * right_[j + 1];
    right_[j].noalias() += site(k, 1) * right_[j + 1];
    right_log_[j] = right_log_[j + 1] + normalise_sum(right_[j]);
  }
  log_norm_ = left_log_[n - 1] + right_log_[n - 1] + std::log(left_[n - 1].dot(right_[n - 1]));
  if (!std::isfinite(log_norm_)) throw std::invalid_argument("Mps: Z = 0, no configuration has positive weight");
}

double normalise_sum(Eigen::VectorXd& v) {
  const double s = v.sum();
  if (!(s > 0) || !std::isfinite(s)) return -kInf;
  v /= s;
  return std::log(s);
}

std::array<Eigen::MatrixXd, 2> Mps::entry_shares(int i) const {
  const auto k = static_cast<std::size_t>(i);
  const Eigen::MatrixXd env = left_[k] * right_[k + 1].transpose();
  std::array<Eigen::MatrixXd, 2> out{env.cwiseProduct(site(i, 0)), env.cwiseProduct(site(i, 1))};
  const double total = out[0].sum() + out[1].sum();
  out[0] /= total;
  out[1] /= total;
  return out;
}

int Mps::max_bond() const {
  Eigen::Index m = l_.size();
  for (const auto& s : sites_) m = std::max(m, s[0].cols());
  return static_cast<int>(m);
}

double Mps::log_prob(const std::uint8_t* x) const {
  Eigen::VectorXd v = left_[0];
  double lw = left_log_[0];
  for (int i = 0; i < sites(); ++i) {
    Eigen::VectorXd w = site(i, x[i] != 0).transpose() * v;
    const double s = normalise_sum(w);
    if (s == -kInf) return -kInf;
    lw += s;
    v = std::move(w);
  }
  const double d = v.dot(right_.back());
  return d > 0 ? lw + std::log(d) + right_log_.back() - log_norm_ : -kInf;
}

double Mps::sample(const double* uniforms, std::uint8_t* x) const {
  // Buffers of the largest bond, used by their heads: no allocation per
  // site. The conditional probabilities are multiplied up and their
  // logarithm taken only when the product nears the bottom of the range.
  const Eigen::Index chi = max_bond();
  Eigen::VectorXd v(chi), w0(chi), w1(chi);
  v.head(left_[0].size()) = left_[0];
  double lp = 0, product = 1;
  for (int i = 0; i < sites(); ++i) {
    const Eigen::MatrixXd &a0 = site(i, 0), &a1 = site(i, 1);
    const Eigen::Index in = a0.rows(), out = a0.cols();
    const Eigen::VectorXd& right = right_[static_cast<std::size_t>(i) + 1];
    w0.head(out).noalias() = a0.transpose() * v.head(in);
    w1.head(out).noalias() = a1.transpose() * v.head(in);
    const double p0 = w0.head(out).dot(right), p1 = w1.head(out).dot(right);
    // p0 + p1 > 0: the prefix drawn so far has positive probability.
    const bool up = p0 == 0 || (p1 > 0 && uniforms[i] <= p1 / (p0 + p1));
    x[i] = up;
    product *= (up ? p1 : p0) / (p0 + p1);
    if (product < 1e-250) lp += std::log(product), product = 1;
    const Eigen::VectorXd& w = up ? w1 : w0;
    v.head(out) = w.head(out) / w.head(out).sum();
  }
  return lp + std::log(product);
}

Mps Mps::channel(const Eigen::Matrix2d& K) const {
  if (!non_negative(K)) throw std::invalid_argument("Mps::channel: the kernel must be finite and non-negative");
  auto s = sites_;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto& a = sites_[i];
    s[i][0] = K(0, 0) * a[0] + K(0, 1) * a[1];
    s[i][1] = K(1, 0) * a[0] + K(1, 1) * a[1];
  }
  return Mps(l_, std::move(s), r_, log_scale_);
}

Mps Mps::weighted(const std::vector<std::array<double, 2>>& w) const {
  if (w.size() != sites_.size())
    throw std::invalid_argument("Mps::weighted: " + std::to_string(w.size()) + " weights for " +
                                std::to_string(sites()) + " sites");
  auto s = sites_;
  for (std::size_t i = 0; i < s.size(); ++i)
    for (std::size_t b = 0; b < 2; ++b) {
      if (!std::isfinite(w[i][b]) || w[i][b] < 0)
        throw std::invalid_argument("Mps::weighted: weight " + std::to_string(b) + " of site " + std::to_string(i) +
                                    " must be finite and non-negative");
      s[i][b] *= w[i][b];
    }
  try {
    return Mps(l_, std::move(s), r_, log_scale_);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("Mps::weighted: the weighted law is not a law (") + e.what() + ")");
  }
}

void Mps::flip_log_ratios(const std::uint8_t* y, double* out) const {
  // prefix[i] ∝ lᵀ Π_{j<i} A_j^{y_j}, suffix[i] ∝ Π_{j≥i} A_j^{y_j} r, unit
  // sums (or zero). Both P(y) and P(y^{(i)}) share prefix[i] and suffix[i+1],
  // so their scales cancel in the ratio.
  const auto L = static_cast<std::size_t>(sites());
  std::vector<Eigen::VectorXd> prefix(L), suffix(L + 1);
  prefix[0] = left_[0];
  for (std::size_t i = 1; i < L; ++i) {
    prefix[i] = site(static_cast<int>(i) - 1, y[i - 1] != 0).transpose() * prefix[i - 1];
    normalise_sum(prefix[i]);
  }
  suffix[L] = right_[L];
  for (std::size_t i = L; i-- > 0;) {
    suffix[i] = site(static_cast<int>(i), y[i] != 0) * suffix[i + 1];
    normalise_sum(suffix[i]);
  }
  for (std::size_t i = 0; i < L; ++i) {
    const int b = y[i] != 0;
    const double keep = (site(static_cast<int>(i), b).transpose() * prefix[i]).dot(suffix[i + 1]);
    const double flip = (site(static_cast<int>(i), 1 - b).transpose() * prefix[i]).dot(suffix[i + 1]);
    out[i] = flip <= 0 ? -kInf : keep <= 0 ? kInf : std::log(flip) - std::log(keep);
  }
}

double Mps::expect(std::vector<SiteFactor> factors) const {
  if (factors.empty()) return 1;
  std::sort(factors.begin(), factors.end(), [](const SiteFactor& a, const SiteFactor& b) { return a.site < b.site; });
  for (std::size_t k = 0; k < factors.size(); ++k) {
    const SiteFactor& f = factors[k];
    if (f.site < 0 || f.site >= sites())
      throw std::invalid_argument("Mps::expect: site " + std::to_string(f.site) + " out of range");
    if (k > 0 && factors[k - 1].site == f.site)
      throw std::invalid_argument("Mps::expect: site " + std::to_string(f.site) + " given twice");
    if (!std::isfinite(f.value0) || !std::isfinite(f.value1))
      throw std::invalid_argument("Mps::expect: factors must be finite");
  }
  const int first = factors.front().site, last = factors.back().site;
  // Signed from the first factor on: scaled by the largest magnitude.
  Eigen::VectorXd v = left_[static_cast<std::size_t>(first)];
  double lg = left_log_[static_cast<std::size_t>(first)];
  auto f = factors.begin();
  for (int i = first; i <= last; ++i) {
    double a0 = 1, a1 = 1;
    if (f != factors.end() && f->site == i) a0 = f->value0, a1 = f->value1, ++f;
    Eigen::VectorXd w = a0 * (site(i, 0).transpose() * v);
    w.noalias() += a1 * (site(i, 1).transpose() * v);
    const double m = w.cwiseAbs().maxCoeff();
    if (m == 0) return 0;
    lg += std::log(m);
    v = w / m;
  }
  const auto j = static_cast<std::size_t>(last) + 1;
  const double d = v.dot(right_[j]);
  if (d == 0) return 0;
  return std::copysign(std::exp(lg + std::log(std::abs(d)) + right_log_[j] - log_norm_), d);
}

double Mps::spin(int i) const { return expect({{i, -1, 1}}); }

double Mps::correlation(int i, int j) const {
  if (i == j) {
    if (i < 0 || i >= sites())
      throw std::invalid_argument("Mps::correlation: site " + std::to_string(i) + " out of range");
    return 1;
  }
  return expect({{i, -1, 1}, {j, -1, 1}});
}

std::vector<double> Mps::sum_distribution(const std::vector<int>& c) const {
  if (c.size() != sites_.size())
    throw std::invalid_argument("Mps::sum_distribution: " + std::to_string(c.size()) + " coefficients for " +
                                std::to_string(sites()) + " sites");
  std::int64_t total = 0;
  for (int ci : c) {
    if (ci < 0) throw std::invalid_argument("Mps::sum_distribution: coefficients must be non-negative");
    total += ci;
  }
  if (total > 10'000'000)
    throw std::invalid_argument("Mps::sum_distribution: Σc = " + std::to_string(total) + " exceeds 10^7");
  // Column v of t: the left environment restricted to partial sums equal to
  // v, the whole table of unit sum.
  Eigen::MatrixXd t = left_[0];
  for (int i = 0; i < sites(); ++i) {
    const Eigen::Index width = t.cols(), ci = c[static_cast<std::size_t>(i)];
    Eigen::MatrixXd u = Eigen::MatrixXd::Zero(site(i, 0).cols(), width + ci);
    u.leftCols(width).noalias() += site(i, 0).transpose() * t;
    u.middleCols(ci, width).noalias() += site(i, 1).transpose() * t;
    u /= u.sum();
    t = std::move(u);
  }
  Eigen::VectorXd p = t.transpose() * right_.back();
  p /= p.sum();
  return std::vector<double>(p.data(), p.data() + p.size());
}

void Mps::probabilities(std::int64_t first, std::int64_t count, double* out) const {
  const int L = sites();
  if (L > 40) throw std::invalid_argument("Mps::probabilities: " + std::to_string(L) + " sites (at most 40)");
  if (first < 0 || count < 0 || first + count > (std::int64_t{1} << L))
    throw std::invalid_argument("Mps::probabilities: states [" + std::to_string(first) + ", " +
                                std::to_string(first + count) + ") out of range");
  if (count == 0) return;
  // prefix[k] ∝ lᵀ Π_{i<k} A_i^{x_i} for the current state, unit sum (or
  // zero), log scale lg[k]; the last site against r directly.
  const auto bit = [L](std::int64_t n, int i) { return static_cast<int>((n >> (L - 1 - i)) & 1); };
  std::vector<Eigen::VectorXd> prefix(static_cast<std::size_t>(L));
  std::vector<double> lg(static_cast<std::size_t>(L));
  prefix[0] = left_[0];
  lg[0] = left_log_[0];
  const std::array<Eigen::VectorXd, 2> tail = {site(L - 1, 0) * right_.back(), site(L - 1, 1) * right_.back()};
  int valid = 1;
  for (std::int64_t n = first; n < first + count; ++n) {
    if (n > first) {
      // The sites from the highest changed bit on change.
      const std::uint64_t changed = static_cast<std::uint64_t>(n - 1) ^ static_cast<std::uint64_t>(n);
      const int top = std::bit_width(changed) - 1;
      valid = std::min(valid, L - top);
    }
    for (int k = valid; k < L; ++k) {
      const auto j = static_cast<std::size_t>(k);
      prefix[j] = site(k - 1, bit(n, k - 1)).transpose() * prefix[j - 1];
      const double s = normalise_sum(prefix[j]);
      lg[j] = lg[j - 1] + (s == -kInf ? 0 : s);
    }
    valid = L;
    const double d = prefix.back().dot(tail[static_cast<std::size_t>(bit(n, L - 1))]);
    out[n - first] = d > 0 ? std::exp(lg.back() + std::log(d) + right_log_.back() - log_norm_) : 0;
  }
}

Eigen::Matrix2d flip_kernel(double gamma, double t) {
  if (!(gamma >= 0) || !(t >= 0) || !std::isfinite(gamma * t))
    throw std::invalid_argument("flip_kernel: gamma and t must be finite and non-negative");
  const double stay = 0.5 * (1 + std::exp(-2 * gamma * t)), flip = -0.5 * std::expm1(-2 * gamma * t);
  Eigen::Matrix2d k;
  k << stay, flip, flip, stay;
  return k;
}

Mps ising1d(int L, double beta, double J, double h) {
  if (L < 1) throw std::invalid_argument("ising1d: L must be at least 1");
  check_finite(beta, "ising1d: beta");
  check_finite(J, "ising1d: J");
  check_finite(h, "ising1d: h");
  const auto s = [](int x) { return 2.0 * x - 1; };
  std::vector<std::array<Eigen::MatrixXd, 2>> sites(static_cast<std::size_t>(L));
  double log_scale = 0;
  for (int i = 0; i < L; ++i) {
    const int rows = i == 0 ? 1 : 2;
    // Exponents −βE_i of the new spin b after the previous spin a; each site
    // scaled by its largest weight.
    Eigen::Matrix2d e;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) e(a, b) = beta * ((i == 0 ? 0 : J * s(a) * s(b)) + h * s(b));
    const double m = e.topRows(rows).maxCoeff();
    log_scale += m;
    for (int b = 0; b < 2; ++b) {
      auto& a = sites[static_cast<std::size_t>(i)][static_cast<std::size_t>(b)];
      a = Eigen::MatrixXd::Zero(rows, 2);
      for (int p = 0; p < rows; ++p) a(p, b) = std::exp(e(p, b) - m);
    }
  }
  return Mps(Eigen::VectorXd::Ones(1), std::move(sites), Eigen::VectorXd::Ones(2), log_scale);
}

Mps fredkin(int L, double c) {
  if (L < 2 || L % 2 != 0) throw std::invalid_argument("fredkin: L must be even and at least 2");
  if (!(c > 0 && c < 1)) throw std::invalid_argument("fredkin: c must lie in (0, 1)");
  const double log_y = 0.5 * (std::log(c) - std::log1p(-c));
  const auto bond = [L](int k) { return std::min(k, L - k) + 1; };
  std::vector<std::array<Eigen::MatrixXd, 2>> sites(static_cast<std::size_t>(L));
  double log_scale = 0;
  for (int k = 0; k < L; ++k) {
    const int rows = bond(k), cols = bond(k + 1);
    // For y > 1 a step weighs y^{h' − top}, top the highest height it can
    // reach, so the weights stay ≤ 1 (entries that underflow belong to paths
    // lighter than the heaviest by more than the range of a double).
    const int top = log_y > 0 ? cols - 1 : 0;
    log_scale += top * log_y;
    Eigen::MatrixXd down = Eigen::MatrixXd::Zero(rows, cols), up = Eigen::MatrixXd::Zero(rows, cols);
    for (int h = 0; h < rows; ++h) {
      if (h + 1 < cols) up(h, h + 1) = std::exp((h + 1 - top) * log_y);
      if (h >= 1 && h - 1 < cols) down(h, h - 1) = std::exp((h - 1 - top) * log_y);
    }
    sites[static_cast<std::size_t>(k)] = {std::move(down), std::move(up)};
  }
  return Mps(Eigen::VectorXd::Ones(1), std::move(sites), Eigen::VectorXd::Ones(1), log_scale);
}

Mps ising2d(int W, int L, double beta, double J, double h) {
  if (W < 3 || W > 12) throw std::invalid_argument("ising2d: W must lie in [3, 12]");
  if (L < 1) throw std::invalid_argument("ising2d: L must be at least 1");
  check_finite(beta, "ising2d: beta");
  check_finite(J, "ising2d: J");
  check_finite(h, "ising2d: h");
  const int n = 1 << W;
  const auto s = [](int state, int p) { return 2.0 * ((state >> p) & 1) - 1; };
  std::vector<std::array<Eigen::MatrixXd, 2>> sites(static_cast<std::size_t>(W) * static_cast<std::size_t>(L));
  Eigen::MatrixXd e(n, 2);
  double log_scale = 0;
  for (int ring = 0; ring < L; ++ring)
    for (int p = 0; p < W; ++p) {
      // −βE of the new spin x at position p against the neighbours already
      // placed: the previous ring, p − 1, and position 0 closing the ring.
      for (int state = 0; state < n; ++state) {
        double field = 0;
        if (ring > 0) field += s(state, p);
        if (p > 0) field += s(state, p - 1);
        if (p == W - 1) field += s(state, 0);
        for (int x = 0; x < 2; ++x) e(state, x) = beta * (2.0 * x - 1) * (J * field + h);
      }
      const double m = e.maxCoeff();
      log_scale += m;
      auto& a = sites[static_cast<std::size_t>(ring * W + p)];
      for (int x = 0; x < 2; ++x) {
        a[static_cast<std::size_t>(x)] = Eigen::MatrixXd::Zero(n, n);
        for (int state = 0; state < n; ++state)
          a[static_cast<std::size_t>(x)](state, (state & ~(1 << p)) | (x << p)) = std::exp(e(state, x) - m);
      }
    }
  return Mps(Eigen::VectorXd::Unit(n, 0), std::move(sites), Eigen::VectorXd::Ones(n), log_scale);
}

double ising1d_log_z_free(int L, double beta, double J) {
  if (L < 1) throw std::invalid_argument("ising1d_log_z_free: L must be at least 1");
  const double x = std::abs(beta * J);
  check_finite(x, "ising1d_log_z_free: beta J");
  // log(2 cosh x) = x + log(1 + e^{−2x}), x ≥ 0.
  return std::log(2.0) + (L - 1) * (x + std::log1p(std::exp(-2 * x)));
}

std::vector<double> fredkin_partition(int n, double y) {
  if (n < 0) throw std::invalid_argument("fredkin_partition: n must be non-negative");
  if (!(y >= 0) || !std::isfinite(y))
    throw std::invalid_argument("fredkin_partition: y must be finite and non-negative");
  std::vector<double> z(static_cast<std::size_t>(n) + 1, 0.0);
  z[0] = 1;
  for (int m = 1; m <= n; ++m)
    for (int k = 0; k < m; ++k)
      z[static_cast<std::size_t>(m)] +=
          std::pow(y, 2 * k + 1) * z[static_cast<std::size_t>(k)] * z[static_cast<std::size_t>(m - 1 - k)];
  return z;
}

double fredkin_log_partition(int n, double y) {
  if (n < 0) throw std::invalid_argument("fredkin_log_partition: n must be non-negative");
  if (!(y > 0) || !std::isfinite(y))
    throw std::invalid_argument("fredkin_log_partition: y must be finite and positive");
  // The same recursion on logarithms, each sum by log-sum-exp.
  std::vector<double> lz(static_cast<std::size_t>(n) + 1, 0.0), term;
  const double ly = std::log(y);
  for (int m = 1; m <= n; ++m) {
    term.clear();
    for (int k = 0; k < m; ++k)
      term.push_back((2 * k + 1) * ly + lz[static_cast<std::size_t>(k)] + lz[static_cast<std::size_t>(m - 1 - k)]);
    const double top = *std::max_element(term.begin(), term.end());
    double sum = 0;
    for (double t : term) sum += std::exp(t - top);
    lz[static_cast<std::size_t>(m)] = top + std::log(sum);
  }
  return lz.back();
}

double onsager_energy(double beta) {
  if (!(beta > 0) || !std::isfinite(beta))
    throw std::invalid_argument("onsager_energy: beta must be finite and positive");
  const double s = std::sinh(2 * beta);
  // With s = sinh 2β, k = 2s/(1 + s²) and 2 tanh² 2β − 1 = (s² − 1)/(s² + 1).
  // The ascending Landen transformation K(2√m/(1 + m)) = (1 + m) K(m) with
  // m = min(s², 1/s²) turns the bracket into 1 ± (2/π)(1 − m) K(m) (− below
  // β_c). Near β_c, 1 − m ∝ |s − 1| where 1 − k ∝ (s − 1)², so the modulus
  // keeps its precision, and (1 − m) K(m) → 0 at β_c, where K diverges.
  const double m = s < 1 ? s * s : 1 / (s * s);
  const double gap = s < 1 ? (1 - s) * (1 + s) : s < 2 ? (s - 1) * (s + 1) / (s * s) : 1 - m;
  const double term = m < 1 ? 2 / std::numbers::pi * gap * gsl_sf_ellint_Kcomp(m, GSL_PREC_DOUBLE) : 0.0;
  return -(1 + (s < 1 ? -term : term)) / std::tanh(2 * beta);
}

double onsager_magnetisation(double beta) {
  if (!(beta > 0) || !std::isfinite(beta))
    throw std::invalid_argument("onsager_magnetisation: beta must be finite and positive");
  const double s = std::sinh(2 * beta);
  return s > 1 ? std::pow(1 - std::pow(s, -4), 0.125) : 0.0;
}

}  // namespace twinflow::spin
