#pragma once
// Gaussian mixtures μ = Σ_i w_i N(m_i, Σ_i): the data laws of several
// families (docs/conventions.md, "Gaussian mixtures") and, evolved under
// the OU semigroup, the closed-form oracle of docs/ou.md (O3). A component
// with Σ_i = 0 is a point mass. Nothing here is collective.
#include <cstdint>
#include <string>
#include <vector>

#include "twinflow/rng/counter_rng.hpp"

namespace twinflow {

class Grid;

/// P(lo <= X <= hi) for X ~ N(m, s²), s >= 0 (s = 0: a point mass at m,
/// shared evenly by two cells when it sits on the face between them).
double normal_interval_probability(double m, double s, double lo, double hi);

struct GaussianComponent {
  double weight = 1.0;
  std::vector<double> mean;        ///< d entries
  std::vector<double> covariance;  ///< d*d, row-major, symmetric positive semidefinite
  /// True when the covariance is 0: a point mass at the mean.
  bool point_mass() const {
    for (double v : covariance)
      if (v != 0.0) return false;
    return true;
  }
};

class GaussianMixture {
 public:
  GaussianMixture() = default;
  /// Validates weights (> 0, summing to 1 within 1e-6; renormalised) and covariances (symmetric; positive
  /// definite, or diagonal with non-negative entries). key names the option
  /// in error messages (UsageError).
  GaussianMixture(const std::string& key, int dim, std::vector<GaussianComponent> components);

  /// Parses the `ou.target` syntax: components "weight:mean:variance" joined
  /// by ';', mean a comma list (one entry per dimension, or one for all),
  /// variance a scalar (isotropic) or a comma list (diagonal); or "file:PATH"
  /// with one component per line "weight m_1..m_d C_11 C_12 .. C_dd".
  static GaussianMixture parse(const std::string& key, const std::string& spec, int dim);

  int dim() const { return dim_; }
  const std::vector<GaussianComponent>& components() const { return components_; }
  bool diagonal() const;
  /// True when every covariance is positive definite (so the density exists).
  bool has_density() const;

  /// Law of X_t under dX = −X dt + √2 dB from this law (O1), (O3).
  GaussianMixture ou_marginal(double t) const;

  /// Probability of the box [lo, hi] (a point mass on a face shared evenly
  /// by the cells touching it, as the particle histograms share it). Exact
  /// (erf) for diagonal covariances, 4-point Gauss–Legendre per dimension
  /// otherwise.
  double box_probability(const double* lo, const double* hi) const;

  /// P(X_axis <= x), the marginal CDF along one axis.
  double marginal_cdf(int axis, double x) const;

  /// Mean and per-coordinate second moment E[X_k^2].
  std::vector<double> mean() const;
  std::vector<double> second_moment() const;

  /// Draws X_0 for particle `id` (counter-based: a function of seed and id)
  /// and returns the index of the component it came from.
  std::size_t sample(const CounterRng& rng, std::uint64_t id, double* x) const;

 private:
  int dim_ = 0;
  std::vector<GaussianComponent> components_;
  std::vector<std::vector<double>> cholesky_;  ///< lower factor of each covariance (0 rows allowed)
};

/// The law's cell averages P(cell) / |cell| on this rank's block of the grid
/// (C order). Not collective.
void cell_averages(const GaussianMixture& law, const Grid& grid, std::vector<double>& owned);

/// Density and score of a mixture with positive definite covariances,
/// precomputed for fast evaluation (log-sum-exp over components).
class MixtureScore {
 public:
  /// Particles per block of score_block(): fixed so that every particle is
  /// computed by the same instruction sequence wherever it sits in an array.
  static constexpr int kBlock = 8;

  explicit MixtureScore(const GaussianMixture& mixture);
  int dim() const { return dim_; }
  double log_density(const double* x) const;
  /// ∇ log p at one point x (d entries) into s.
  void score(const double* x, double* s) const;
  /// ∇ log p for kBlock points stored by coordinate: x[k*kBlock + j] is
  /// coordinate k of point j. Same result as score() up to rounding.
  void score_block(const double* x, double* s) const;

 private:
  int dim_ = 0, ncomp_ = 0;
  std::vector<double> mean_;       ///< ncomp × d
  std::vector<double> precision_;  ///< ncomp × d × d
  std::vector<double> log_norm_;   ///< log w_i − ½ log det(2π C_i)
};

}  // namespace twinflow
