#include "free_law.hpp"

#include <algorithm>
#include <boost/math/quadrature/gauss.hpp>
#include <boost/math/tools/roots.hpp>
#include <cmath>
#include <limits>

namespace twinflow::free {
namespace {

using cplx = std::complex<double>;

/// A bracketed root by TOMS 748 to full double precision.
template <class F>
double root(F&& f, double lo, double hi) {
  std::uintmax_t iterations = 200;
  const auto r = boost::math::tools::toms748_solve(f, lo, hi, boost::math::tools::eps_tolerance<double>(52),
                                                   iterations);
  return 0.5 * (r.first + r.second);
}

/// The semicircle SC(c, s)'s Cauchy transform, the branch with G ~ 1/z.
cplx semicircle_cauchy(double c, double s, cplx z) {
  const cplx w = z - c;
  const double r = 2 * std::sqrt(s);
  return (w - std::sqrt(w - r) * std::sqrt(w + r)) / (2 * s);
}

}  // namespace

SpectralMixture SpectralMixture::parse(const std::string& key, const std::string& spec) {
  const GaussianMixture m = GaussianMixture::parse(key, spec, 1);
  std::vector<SpectralComponent> c;
  for (const auto& g : m.components()) c.push_back({g.weight, g.mean[0], g.covariance[0]});
  return SpectralMixture(std::move(c));
}

std::complex<double> SpectralMixture::cauchy(std::complex<double> z) const {
  cplx g = 0;
  for (const auto& c : components_)
    g += c.weight * (c.atom() ? 1.0 / (z - c.centre) : semicircle_cauchy(c.centre, c.variance, z));
  return g;
}

std::vector<double> SpectralMixture::moments() const {
  std::vector<double> m(5, 0.0);
  for (const auto& k : components_) {
    const double c = k.centre, s = k.variance;
    const double mk[5] = {1, c, c * c + s, c * c * c + 3 * c * s, c * c * c * c + 6 * c * c * s + 2 * s * s};
    for (int n = 0; n < 5; ++n) m[n] += k.weight * mk[n];
  }
  return m;
}

double SpectralMixture::cdf(double x) const {
  double f = 0;
  for (const auto& c : components_) f += c.weight * (c.atom() ? (c.centre <= x ? 1.0 : 0.0) : semicircle_cdf(c.variance, x - c.centre));
  return f;
}

double SpectralMixture::quantile(double u) const {
  auto [lo, hi] = support();
  lo -= 1, hi += 1;
  for (int i = 0; i < 200 && hi - lo > 0; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (cdf(mid) >= u ? hi : lo) = mid;
  }
  // An atom the bisection converged on is returned exactly.
  for (const auto& c : components_)
    if (c.atom() && std::abs(c.centre - hi) <= 1e-12 * (1 + std::abs(c.centre))) return c.centre;
  return hi;
}

std::pair<double, double> SpectralMixture::support() const {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& c : components_) {
    const double r = 2 * std::sqrt(c.variance);
    lo = std::min(lo, c.centre - r);
    hi = std::max(hi, c.centre + r);
  }
  return {lo, hi};
}

double FreeOu::a(double t) const { return std::exp(-theta_ * t); }

double FreeOu::v(double t) const { return sigma_ * sigma_ * -std::expm1(-2 * theta_ * t) / (2 * theta_); }

SpectralMixture FreeOu::scaled_data(double t) const {
  const double at = a(t);
  std::vector<SpectralComponent> c = data_.components();
  for (auto& k : c) k.centre *= at, k.variance *= at * at;
  return SpectralMixture(std::move(c));
}

SpectralPoint FreeOu::at_subordinate(double t, double u) const {
  const SpectralMixture mu = scaled_data(t);
  const double vt = v(t);
  // F(w) = ∫ dμ̃/((u − y)² + w²) = −Im G̃(u + iw)/w decreases in w, and
  // F(w) ≤ 1/w², so the root lies below √v.
  const auto excess = [&](double w) { return -mu.cauchy(cplx(u, w)).imag() / w - 1 / vt; };
  const double w_min = 1e-13 * std::sqrt(vt);
  double w = 0;
  if (excess(w_min) > 0) w = root(excess, w_min, std::sqrt(vt));
  const double x = u + vt * mu.cauchy(cplx(u, w)).real();
  return {x, w / (M_PI * vt), 2 * (x - u) / vt};
}

SpectralPoint FreeOu::at(double t, double x) const {
  const auto [lo, hi] = scaled_data(t).support();
  // Re G̃ < 0 left of the support and > 0 right of it, so x(u) − u has the
  // sign that brackets the root between these.
  const double margin = std::sqrt(v(t)) + 1;
  const double u_lo = std::min(x, lo) - margin, u_hi = std::max(x, hi) + margin;
  const double u = root([&](double uu) { return at_subordinate(t, uu).x - x; }, u_lo, u_hi);
  SpectralPoint p = at_subordinate(t, u);
  p.x = x;
  return p;
}

double FreeOu::interval_mass(double t, double lo, double hi) const {
  // ρ_t vanishes beyond the support's edges, where it goes like √distance:
  // the edges inside [lo, hi] are found by bisection between samples of
  // opposite kind (zero, positive), and each piece of support is integrated
  // by Gauss–Legendre in u with x = edge ± L u², which makes √ smooth.
  using GL = boost::math::quadrature::gauss<double, 20>;
  const auto density = [&](double x) { return at(t, x).density; };
  constexpr int kSamples = 16;
  double prev = lo;
  bool prev_positive = density(lo) > 0;
  std::vector<std::pair<double, bool>> pieces;  // (right end, positive) of each piece
  for (int k = 1; k <= kSamples; ++k) {
    const double x = lo + (hi - lo) * k / kSamples;
    const bool positive = density(x) > 0;
    if (positive != prev_positive) {
      double a = prev, b = x;  // density(a) has prev_positive's kind
      for (int it = 0; it < 60 && b - a > 1e-15 * (1 + std::abs(a)); ++it) {
        const double mid = 0.5 * (a + b);
        ((density(mid) > 0) == prev_positive ? a : b) = mid;
      }
      const double edge = 0.5 * (a + b);
      pieces.push_back({edge, prev_positive});
    }
    prev = x;
    prev_positive = positive;
  }
  pieces.push_back({hi, prev_positive});
  double mass = 0, left = lo;
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    const auto [right, positive] = pieces[p];
    if (positive && right > left) {
      const bool left_edge = p > 0, right_edge = p + 1 < pieces.size();
      if (!left_edge && !right_edge) {
        mass += GL::integrate(density, left, right);
      } else if (left_edge && !right_edge) {
        const double len = right - left;
        mass += GL::integrate([&](double u) { return density(left + len * u * u) * 2 * len * u; }, 0.0, 1.0);
      } else if (!left_edge && right_edge) {
        const double len = right - left;
        mass += GL::integrate([&](double u) { return density(right - len * u * u) * 2 * len * u; }, 0.0, 1.0);
      } else {
        const double len = 0.5 * (right - left);
        mass += GL::integrate([&](double u) { return density(left + len * u * u) * 2 * len * u; }, 0.0, 1.0);
        mass += GL::integrate([&](double u) { return density(right - len * u * u) * 2 * len * u; }, 0.0, 1.0);
      }
    }
    left = right;
  }
  return mass;
}

void FreeOu::cell_averages(double t, const Grid& grid, std::vector<double>& owned) const {
  const Box& box = grid.box();
  const OwnedBlock& o = grid.owned();
  const double h = box.spacing(0);
  owned.assign(static_cast<std::size_t>(o.count[0]), 0.0);
  for (std::int64_t i = 0; i < o.count[0]; ++i) {
    const double lo = box.lower[0] + static_cast<double>(o.start[0] + i) * h, hi = lo + h;
    double mass = 0;
    if (t == 0) {
      for (const auto& c : data_.components())
        mass += c.weight * (c.atom() ? face_shared_fraction(c.centre, lo, hi)
                                     : semicircle_cdf(c.variance, hi - c.centre) - semicircle_cdf(c.variance, lo - c.centre));
    } else {
      mass = interval_mass(t, lo, hi);
    }
    owned[static_cast<std::size_t>(i)] = mass / h;
  }
}

std::vector<double> free_cumulants(const std::vector<double>& m) {
  const double m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4];
  return {1.0, m1, m2 - m1 * m1, m3 - 3 * m1 * m2 + 2 * m1 * m1 * m1,
          m4 - 4 * m1 * m3 - 2 * m2 * m2 + 10 * m1 * m1 * m2 - 5 * m1 * m1 * m1 * m1};
}

std::vector<double> moments_from_free_cumulants(const std::vector<double>& k) {
  // Sums over non-crossing partitions of {1..n}.
  const double k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4];
  return {1.0, k1, k2 + k1 * k1, k3 + 3 * k1 * k2 + k1 * k1 * k1,
          k4 + 4 * k1 * k3 + 2 * k2 * k2 + 6 * k1 * k1 * k2 + k1 * k1 * k1 * k1};
}

std::vector<double> FreeOu::moments(double t) const {
  std::vector<double> k = free_cumulants(data_.moments());
  for (int n = 1; n <= 4; ++n) k[n] *= std::pow(a(t), n);
  k[2] += v(t);
  return moments_from_free_cumulants(k);
}

std::pair<double, double> FreeOu::support_bound(double horizon) const {
  // The support of μ ⊞ ν lies in the sum of the supports.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  constexpr int kSamples = 400;
  for (int i = 0; i <= kSamples; ++i) {
    const double t = horizon * i / kSamples;
    const auto [l, h] = scaled_data(t).support();
    lo = std::min(lo, l - 2 * std::sqrt(v(t)));
    hi = std::max(hi, h + 2 * std::sqrt(v(t)));
  }
  return {lo, hi};
}

double semicircle_cdf(double s, double x) {
  const double r = 2 * std::sqrt(s);
  if (x <= -r) return 0;
  if (x >= r) return 1;
  const double th = std::asin(x / r);
  return 0.5 + (th + std::sin(th) * std::cos(th)) / M_PI;
}

double semicircle_quantile(double s, double u) {
  const double r = 2 * std::sqrt(s);
  if (u <= 0) return -r;
  if (u >= 1) return r;
  return root([&](double x) { return semicircle_cdf(s, x) - u; }, -r, r);
}

}  // namespace twinflow::free
