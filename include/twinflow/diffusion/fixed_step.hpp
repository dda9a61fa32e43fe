#pragma once
// Fixed-step reverse schemes of a linear diffusion (docs/kinetic.md (K5)). With
// h = T/N and the score s(σ, y) = ∇log p_σ(y) evaluated at σ_k = T − k h
// (never at 0), the reverse SDE dY = (−A Y + D s) ds + Σ dB becomes
//   REL-EI  Y' = e^{hAᵀ} Y + Φ_h D (s + Y) + ξ,  Φ_h = ∫_0^h e^{uAᵀ} du,  Cov ξ = I − e^{hAᵀ} e^{hA}
//   ABS-EI  Y' = e^{−hA} Y + Ψ_h D s + ξ,        Ψ_h = ∫_0^h e^{−uA} du,  Cov ξ = e^{−hA} e^{−hAᵀ} − I
//   EM      Y' = (I − hA) Y + h D s + ξ,                                 Cov ξ = h D
// (the relative score s + Y is the score of the density relative to γ), so
// each is Y' = M Y + N s(σ_k, Y) + ξ: a deterministic map followed by
// Gaussian noise. The probability-flow ODE dY/ds = −A Y + ½ D s is
// integrated with the explicit midpoint rule (no noise). For `ou` these are
// exactly the formulas docs/ou.md (O5). Nothing here is collective.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "twinflow/diffusion/linear_diffusion.hpp"

namespace twinflow {

enum class Scheme { kRelEi, kAbsEi, kEm, kPfOde };
Scheme parse_scheme(const std::string& name);
std::string scheme_name(Scheme s);

/// Source of ∇log p_σ for the reverse samplers.
class ScoreField {
 public:
  virtual ~ScoreField() = default;
  /// Collective. Called on every rank before score_block is used at σ (a
  /// score taken from the field store gathers its field here).
  virtual void prepare(double /*sigma*/) {}
  /// ∇log p_σ at MixtureScore::kBlock points stored by coordinate
  /// (x[a * kBlock + j] is coordinate a of point j). Not collective.
  virtual void score_block(double sigma, const double* x, double* s) = 0;
};

class FixedStepScheme {
 public:
  FixedStepScheme(const LinearDiffusion& diffusion, Scheme scheme, double horizon, std::int64_t steps);

  Scheme scheme() const { return scheme_; }
  int dim() const { return n_; }
  double step() const { return h_; }
  std::int64_t steps() const { return steps_; }
  /// σ_k = T − k h, the time of the score used by step k.
  double sigma(std::int64_t k) const;

  /// Collective. Prepares the score for every σ step k evaluates it at.
  void prepare_step(ScoreField& score, std::int64_t k) const;
  /// The deterministic part of step k applied to MixtureScore::kBlock points
  /// stored by coordinate: out = M y + N s(σ_k, y), or the midpoint map.
  void map_block(ScoreField& score, std::int64_t k, const double* y, double* out) const;
  /// M and N of Y' = M Y + N s + ξ (for the ODE: F = −A and G = ½D of
  /// dY/ds = F Y + G s).
  const LinearDiffusion::Matrix& state_gain() const { return m_; }
  const LinearDiffusion::Matrix& score_gain() const { return score_gain_; }
  /// Lower-triangular L with L Lᵀ = Cov ξ (row-major n × n; zero for the ODE).
  const std::vector<double>& noise_factor() const { return noise_factor_; }
  const LinearDiffusion::Matrix& noise_covariance() const { return noise_; }
  bool has_noise() const { return scheme_ != Scheme::kPfOde; }

  /// Exact law of Y_N from γ^n when every p_σ is one Gaussian N(m_σ, C_σ)
  /// (so every step is affine, docs/ou.md (O7) and docs/kinetic.md (K7)): returns mean and
  /// covariance. `marginal(σ)` gives (m_σ, C_σ).
  struct Gaussian {
    Eigen::VectorXd mean;
    LinearDiffusion::Matrix covariance;
  };
  /// `steps`: the law after that many steps instead (0 is γ^n itself).
  Gaussian affine_law(const std::function<Gaussian(double)>& marginal, std::int64_t steps = -1) const;

 private:
  Scheme scheme_;
  int n_;
  double horizon_, h_;
  std::int64_t steps_;
  LinearDiffusion::Matrix m_, score_gain_, noise_;  ///< M, N (or F = −A, G = ½D for the ODE), Cov ξ
  std::vector<double> m_rows_, gain_rows_, noise_factor_;
};

/// KL(N0 | N1) between two Gaussians.
double gaussian_kl(const FixedStepScheme::Gaussian& p, const FixedStepScheme::Gaussian& q);

}  // namespace twinflow
