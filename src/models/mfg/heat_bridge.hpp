#pragma once
// The exact transition of the mfg particles for a terminal law H that is a
// Gaussian mixture Σ_i w_i N(m_i, Σ_i) (point masses allowed). The
// generative SDE dX = 2β ∇log η dt + √(2β) dW with η(·, t) = H * N(0, 2βτ I),
// τ = T − t, is the heat process started from H and run backwards, so over
// a step from τ to τ' = τ − h its transition is the posterior of the
// forward pair (X_τ', X_τ): pick component i with its responsibility at
// (x, τ), then draw
//   X_τ' ~ N(m_i + C' C⁻¹ (x − m_i), C' − C' C⁻¹ C'),
//   C = Σ_i + 2βτ I,  C' = Σ_i + 2βτ' I.
// Exact in law for any step, so it keeps the time step's error out of what
// the scores are measured by. Not collective.
#include <cstdint>
#include <vector>

#include "twinflow/math/gaussian_mixture.hpp"

namespace twinflow::mfg {

class HeatBridge {
 public:
  /// The largest dimension (grid.dim's).
  static constexpr int kMaxDim = 64;
  /// Throws std::invalid_argument unless beta > 0 and dim <= kMaxDim.
  HeatBridge(const GaussianMixture& terminal, double beta);
  int dim() const { return dim_; }
  /// Prepares the step from τ to τ' (0 <= τ' < τ).
  void prepare(double tau, double tau_next);
  /// x at τ to x at τ', given a uniform u in (0, 1] (the component) and
  /// dim() standard normals z. `scratch` holds one entry per component.
  void step(double* x, double u, const double* z, std::vector<double>& scratch) const;

 private:
  int dim_;
  double beta_;
  std::size_t count_;
  /// Every Σ_i a multiple of I (point masses included): C⁻¹ is then a
  /// scalar per component and the responsibilities need no matrix product.
  bool isotropic_;
  std::vector<double> means_, covariances_, log_weights_;  ///< per component: d, d × d (row-major), 1
  /// Prepared per component: C⁻¹ (d × d, or its scalar when isotropic),
  /// C' C⁻¹ and a square root of C' − C' C⁻¹ C' (d × d), and
  /// log w_i − ½ log det(2π C).
  std::vector<double> precision_, gain_, noise_, log_norm_;
};

}  // namespace twinflow::mfg
