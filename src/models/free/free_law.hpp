#pragma once
// The free Ornstein–Uhlenbeck process on spectral measures (docs/free.md
// (F1), (F3), (F4)): dX = −θX dt + σ dS, whose law is
//   μ_t = D_{a_t} μ_0 ⊞ SC(0, v_t),  a_t = e^{−θt},  v_t = σ²(1 − e^{−2θt})/(2θ),
// for data μ_0 a mixture of atoms δ_c and semicircles SC(c, s) (density
// √(4s − (x−c)²)/(2πs)). Everything here is closed form or a scalar root
// solve; nothing is collective.
#include <complex>
#include <cstdint>
#include <vector>

#include "twinflow/grid/grid.hpp"
#include "twinflow/math/gaussian_mixture.hpp"

namespace twinflow::free {

/// One component of the data: weight, centre and semicircle variance
/// (variance 0: an atom).
struct SpectralComponent {
  double weight = 1, centre = 0, variance = 0;
  bool atom() const { return variance == 0; }
};

/// A mixture of atoms and semicircles.
class SpectralMixture {
 public:
  explicit SpectralMixture(std::vector<SpectralComponent> components) : components_(std::move(components)) {}
  /// From the `free.data` syntax, which is the mixture syntax of the other
  /// families with variances read as semicircle variances (UsageError).
  static SpectralMixture parse(const std::string& key, const std::string& spec);
  const std::vector<SpectralComponent>& components() const { return components_; }
  /// Cauchy transform G(z) = ∫ dμ(y)/(z − y), Im z > 0.
  std::complex<double> cauchy(std::complex<double> z) const;
  /// Moments m_1..m_4 (index n holds m_n, m_0 = 1).
  std::vector<double> moments() const;
  /// Distribution function μ((−∞, x]) (an atom at x counted whole).
  double cdf(double x) const;
  /// The smallest x with cdf(x) ≥ u, 0 < u < 1.
  double quantile(double u) const;
  /// [min, max] of the support.
  std::pair<double, double> support() const;

 private:
  std::vector<SpectralComponent> components_;
};

/// A point of the free-convolution density: x, ρ_t(x) and the free score
/// J_t(x) = 2πHρ_t(x).
struct SpectralPoint {
  double x = 0, density = 0, score = 0;
};

class FreeOu {
 public:
  FreeOu(double theta, double sigma, SpectralMixture data) : theta_(theta), sigma_(sigma), data_(std::move(data)) {}
  double theta() const { return theta_; }
  double sigma() const { return sigma_; }
  const SpectralMixture& data() const { return data_; }
  double a(double t) const;
  double v(double t) const;
  /// The equilibrium variance s* = σ²/(2θ).
  double stationary_variance() const { return sigma_ * sigma_ / (2 * theta_); }
  /// D_{a_t} μ_0: centres scaled by a_t, variances by a_t².
  SpectralMixture scaled_data(double t) const;

  /// The subordination recipe (docs/free.md (F3)) at u (t > 0): w ≥ 0 solving
  /// ∫ dμ̃(y)/((u − y)² + w²) = 1/v (w = 0 when the left side stays below),
  /// μ̃ = D_{a_t} μ_0; then x = u + v Re G̃(u + iw), ρ = w/(πv), J = 2(x − u)/v.
  /// x is increasing in u.
  SpectralPoint at_subordinate(double t, double u) const;
  /// ρ_t and J_t at x (t > 0), by solving x(u) = x.
  SpectralPoint at(double t, double x) const;
  /// Cell averages of ρ_t on this rank's block of the grid (t > 0; at t = 0
  /// semicircles by their CDF and atoms into the cell that holds them, a
  /// face shared evenly).
  void cell_averages(double t, const Grid& grid, std::vector<double>& owned) const;
  /// μ_t([lo, hi]) for t > 0, by quadrature that resolves the support's
  /// edges (ρ ~ √distance there).
  double interval_mass(double t, double lo, double hi) const;
  /// Moments m_0..m_4 of μ_t (free cumulants add: κ_n(μ_t) = a_t^n κ_n(μ_0)
  /// + v_t δ_{n2}); they solve the moment ODE.
  std::vector<double> moments(double t) const;
  /// An interval holding the support of μ_t for every t in [0, T].
  std::pair<double, double> support_bound(double horizon) const;

 private:
  double theta_, sigma_;
  SpectralMixture data_;
};

/// Free cumulants κ_1..κ_4 from moments m_0..m_4, and back.
std::vector<double> free_cumulants(const std::vector<double>& m);
std::vector<double> moments_from_free_cumulants(const std::vector<double>& k);

/// The semicircle SC(0, s): CDF and quantile.
double semicircle_cdf(double s, double x);
double semicircle_quantile(double s, double u);

}  // namespace twinflow::free
