#include "kac_law.hpp"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_bessel.h>

#include <boost/math/quadrature/gauss.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "twinflow/grid/grid.hpp"
#include "twinflow/math/gaussian_mixture.hpp"

namespace twinflow::kac {
namespace {

using Rule = boost::math::quadrature::gauss<double, 16>;

// Calls f(x, w) at the 16 Gauss–Legendre nodes of [lo, hi].
template <class F>
void gauss_legendre(double lo, double hi, F&& f) {
  const double half = 0.5 * (hi - lo), mid = 0.5 * (hi + lo);
  for (std::size_t i = 0; i < Rule::abscissa().size(); ++i) {
    const double x = Rule::abscissa()[i], w = Rule::weights()[i] * half;
    f(mid + half * x, w);
    if (x != 0) f(mid - half * x, w);
  }
}

// Calls f(x, w) at the nodes of composite 16-point Gauss–Legendre on [lo, hi]
// with equal panels no wider than `width` (at most 16384 panels).
template <class F>
void composite_gauss_legendre(double lo, double hi, double width, F&& f) {
  const auto panels = static_cast<int>(std::clamp(std::ceil((hi - lo) / width), 1.0, 16384.0));
  const double step = (hi - lo) / panels;
  for (int p = 0; p < panels; ++p) gauss_legendre(lo + p * step, lo + (p + 1) * step, f);
}

double normal_pdf(double x, double s) {
  return std::exp(-0.5 * (x / s) * (x / s)) / (s * std::sqrt(2 * std::numbers::pi));
}

// The Bessel part shared by u_c, j_c and v_K at |x| < ct: e = e^{z − at}
// (<= 1 since z <= at), I_0e(z) and q = I_1e(z)/r (→ a/(2c) as r → 0).
struct BesselTerms {
  double e, i0e, q;
};

BesselTerms bessel_terms(double a, double c, double t, double x) {
  const double ax = std::abs(x), ct = c * t;
  const double r = std::sqrt((ct - ax) * (ct + ax));
  const double z = a * r / c;
  BesselTerms b;
  b.e = std::exp(z - a * t);
  b.i0e = gsl_sf_bessel_I0_scaled(z);
  b.q = r > 0 ? gsl_sf_bessel_I1_scaled(z) / r : a / (2 * c);
  return b;
}

}  // namespace

KacLaw::KacLaw(double rate, double speed) : a_(rate), c_(speed) {
  // GSL's default handler aborts on range errors; scaled Bessel functions
  // of z >= 0 have none, and an abort is never the right way to report one.
  gsl_set_error_handler_off();
}

double KacLaw::atom_mass(double t) const { return 0.5 * std::exp(-a_ * t); }

void KacLaw::density_flux(double t, double x, double& u, double& j) const {
  if (!(std::abs(x) < c_ * t)) {
    u = j = 0;
    return;
  }
  const BesselTerms b = bessel_terms(a_, c_, t, x);
  u = a_ / (2 * c_) * b.e * (b.i0e + c_ * t * b.q);
  j = 0.5 * a_ * x * b.e * b.q;
}

double KacLaw::density(double t, double x) const {
  double u = 0, j = 0;
  density_flux(t, x, u, j);
  return u;
}

double KacLaw::conditional_velocity(double t, double x) const {
  if (!(std::abs(x) < c_ * t)) return x > 0 ? c_ : (x < 0 ? -c_ : 0.0);
  const BesselTerms b = bessel_terms(a_, c_, t, x);
  // (r/c) I_0(z)/I_1(z) = I_0e(z) / (c q).
  return x / (t + b.i0e / (c_ * b.q));
}

double KacLaw::second_moment(double t) const {
  return c_ * c_ / a_ * t + c_ * c_ / (2 * a_ * a_) * std::expm1(-2 * a_ * t);
}

double KacLaw::length_scale(double t) const { return std::min(c_ * t, std::sqrt(c_ * c_ * t / a_)); }

KacQuadrature KacLaw::quadrature(double t, double panel) const {
  KacQuadrature q;
  const double ct = c_ * t;
  if (!(ct > 0)) return q;
  composite_gauss_legendre(-ct, ct, std::min(panel, 0.25 * length_scale(t)), [&](double k, double w) {
    double u = 0, j = 0;
    density_flux(t, k, u, j);
    q.node.push_back(k);
    q.density_weight.push_back(w * u);
    q.flux_weight.push_back(w * j);
  });
  return q;
}

double KacLaw::interval_probability(double t, double m, double s, double lo, double hi) const {
  const double ct = c_ * t, am = atom_mass(t);
  if (s > 0) {
    double p = am * (normal_interval_probability(m + ct, s, lo, hi) + normal_interval_probability(m - ct, s, lo, hi));
    const KacQuadrature q = quadrature(t, 0.5 * s);
    for (std::size_t i = 0; i < q.node.size(); ++i)
      p += q.density_weight[i] * normal_interval_probability(m + q.node[i], s, lo, hi);
    return p;
  }
  double p = 0;
  for (double atom : {m + ct, m - ct}) p += am * face_shared_fraction(atom, lo, hi);
  if (ct == 0) return p;  // the two atoms are the point mass at m
  // Continuous part over [lo, hi) ∩ (m − ct, m + ct) by composite Gauss–Legendre.
  const double from = std::max(lo - m, -ct), to = std::min(hi - m, ct);
  if (!(to > from)) return p;
  composite_gauss_legendre(from, to, 0.25 * length_scale(t), [&](double x, double w) { p += w * density(t, x); });
  return p;
}

void KacLaw::smoothed_density_flux(const KacQuadrature& q, double t, double m, double s, double x, double& g,
                                   double& h) const {
  const double ct = c_ * t, am = atom_mass(t);
  const double right = normal_pdf(x - m - ct, s), left = normal_pdf(x - m + ct, s);
  g = am * (right + left);
  h = am * c_ * (right - left);
  for (std::size_t i = 0; i < q.node.size(); ++i) {
    const double phi = normal_pdf(x - m - q.node[i], s);
    g += q.density_weight[i] * phi;
    h += q.flux_weight[i] * phi;
  }
}

}  // namespace twinflow::kac
