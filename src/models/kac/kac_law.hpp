#pragma once
// The one-dimensional Kac process K_t from 0 with switching rate a and speed
// c (docs/kac.md (C1), (C3)–(C5)): two atoms of mass e^{−at}/2 at ±ct and a continuous part
// u_c on (−ct, ct) with flux j_c. The d-dimensional process is the product
// of d independent copies, so every closed form of the family is built from
// these. Bessel functions are GSL's exponentially scaled I_0, I_1, so
// nothing overflows for large a t. Not collective.
#include <vector>

namespace twinflow::kac {

/// Nodes for ∫ f(k) u_c(t, k) dk and ∫ f(k) j_c(t, k) dk over (−ct, ct):
/// Σ_q density_weight[q] f(node[q]) and Σ_q flux_weight[q] f(node[q]).
struct KacQuadrature {
  std::vector<double> node, density_weight, flux_weight;
};

class KacLaw {
 public:
  KacLaw(double rate, double speed);
  double rate() const { return a_; }
  double speed() const { return c_; }

  /// Mass of each of the two atoms, e^{−at}/2.
  double atom_mass(double t) const;
  /// u_c(t, x) = (a e^{−at}/(2c)) [I_0(z) + (ct/r) I_1(z)], r = √(c²t² − x²),
  /// z = a r / c, for |x| < ct; 0 elsewhere.
  double density(double t, double x) const;
  /// u_c(t, x) and the flux j_c(t, x) = a x e^{−at} I_1(z) / (2r) for
  /// |x| < ct, 0 elsewhere, from one pair of Bessel evaluations.
  void density_flux(double t, double x, double& u, double& j) const;
  /// v_K(t, x) = x / (t + (r/c) I_0(z)/I_1(z)) for |x| < ct (odd in x,
  /// |v_K| < c), and sign(x) c on and beyond the fronts.
  double conditional_velocity(double t, double x) const;
  /// E K_t² = (c²/a) t − (c²/(2a²))(1 − e^{−2at}).
  double second_moment(double t) const;

  /// P(lo <= m + K_t + s Z < hi) with Z standard normal independent of K_t
  /// (s = 0: no smoothing; an atom on lo or hi counts half, as it is shared
  /// with the neighbouring cell).
  double interval_probability(double t, double m, double s, double lo, double hi) const;
  /// Density g and flux h at x of m + K_t + s Z, s > 0 (the data component
  /// N(m, s²) carried by the Kac process); q = quadrature(t, s / 2).
  void smoothed_density_flux(const KacQuadrature& q, double t, double m, double s, double x, double& g,
                             double& h) const;
  /// Composite Gauss–Legendre nodes on (−ct, ct) with panels no wider than
  /// `panel` and than a quarter of the law's own length scale.
  KacQuadrature quadrature(double t, double panel) const;

 private:
  /// The length over which u_c(t, ·) changes: min(ct, √(c² t / a)).
  double length_scale(double t) const;
  double a_, c_;
};

}  // namespace twinflow::kac
