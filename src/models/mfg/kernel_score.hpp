#pragma once
// The WPO-informed kernel score model of the mfg family: a terminal
// potential η_T = (1/M) Σ_i N(x; x_i, Σ_i) on M fixed centres x_i with
// learned precisions P_i = Σ_i^{−1} = L_i L_iᵀ + δ I (L_i lower triangular),
// propagated exactly by the heat equation of diffusion β:
//   η(x, t) = (1/M) Σ_i N(x; x_i, Σ_i + 2β (T − t) I).
// The Σ_i are trained by implicit score matching on held-out samples x ~ π.
// The target is ∇log η_T = c ∇log π with c = 1/(2β) (η_T = π^{1/(2β)}), so
//   E|∇log η_T − c ∇log π|² = E[2c Δlog η_T + |∇log η_T|²] + const,
// which for β = ½ is L = E[2 Δlog η_T + |∇log η_T|²]. Per sample, with
// u_i = x − x_i, g_i = −P_i u_i, responsibilities r_i, s = Σ r_i g_i and
// f_i = |g_i|² − tr P_i:
//   Δlog η_T = Σ r_i f_i − |s|²,   ℓ = 2c Σ r_i f_i + (1 − 2c) |s|².
// Its gradient in P_k (symmetric), with A_k = ½(Σ_k − u_k u_kᵀ) = ∂log φ_k/∂P_k
// and f̄ = Σ r_i f_i:
//   G_k = r_k { 2c [(f_k − f̄) A_k − (u_k g_kᵀ + g_k u_kᵀ) − I]
//             + 2(1 − 2c) [(g_k·s − |s|²) A_k − ½(s u_kᵀ + u_k sᵀ)] },
// and ∂ℓ/∂L_k = 2 G_k L_k (lower triangle). One centre at 0, data
// N(0, τ² I_d), Σ = σ² I: L(σ²) = d τ²/σ⁴ − 2c d/σ², minimum at
// σ² = τ²/c = 2β τ², value −c² d/τ² (β = ½: σ² = τ², −d/τ²).
//
// Two parametrisations. With one L_i per centre the loss on finitely many
// samples is unbounded below: a kernel narrowing on a sample near its
// centre gains about −d²/|x − x_i|², and the nearest such pair is ever
// closer as M grows, so training fits the samples, not π (the tests measure
// it). With one L shared by every centre (Σ_i = Σ) narrowing costs every
// sample far from a centre, the loss has one minimiser, and training
// reaches it from any starting bandwidth: the kernel density estimate whose
// bandwidth matrix implicit score matching selects. Its gradient is the sum
// of the per-centre gradients.
//
// Sums over samples are exact (core/exact_sum.hpp): loss and gradient are
// the same bits for any partition of the samples over the ranks.
#include <mpi.h>

#include <cstdint>
#include <vector>

#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/optim/minimise.hpp"

namespace twinflow::mfg {

class KernelScoreModel {
 public:
  /// One L shared by every centre, or one L_i per centre.
  enum class Covariance { kShared, kPerCentre };
  /// `centres`: M points of `dim` coordinates, point-major. L_i starts at
  /// I / bandwidth (Σ_i ≈ bandwidth² I).
  KernelScoreModel(int dim, std::vector<double> centres, double delta, double beta, double bandwidth,
                   Covariance covariance = Covariance::kPerCentre);
  int dim() const { return dim_; }
  std::int64_t centres() const { return m_; }
  /// d(d+1)/2 entries of each L_i (rows of the lower triangle), centre-major;
  /// one block when the covariance is shared.
  std::vector<double>& parameters() { return theta_; }
  const std::vector<double>& parameters() const { return theta_; }
  /// P_i as a row-major d × d matrix.
  std::vector<double> precision(std::int64_t i) const;
  /// η_T as a law: (1/M) Σ_i N(x_i, P_i⁻¹). Not collective.
  GaussianMixture terminal_law() const;

  /// Collective. The mean implicit score-matching loss over every rank's
  /// samples (this rank's `count` points, point-major) and, when `gradient`
  /// is not null, its gradient in the parameters; identical bits on every rank.
  double loss(MPI_Comm comm, const double* samples, std::int64_t count, std::vector<double>* gradient) const;
  /// Collective. Minimises the loss of the samples from the current
  /// parameters with PETSc TAO (default BLMVM, a limited-memory quasi-Newton
  /// method with bounds, on the full batch: every entry of L_i within
  /// kWidthRange / bandwidth, so that no kernel narrows below about
  /// bandwidth / kWidthRange and every term of the loss stays in the range
  /// of the exact sums; -mfg_kernel_tao_* options reach it).
  MinimiseResult train(MPI_Comm comm, const double* samples, std::int64_t count, std::int64_t iterations);

 private:
  static constexpr double kWidthRange = 100;
  /// The parameter block of centre i.
  std::int64_t block(std::int64_t i) const { return blocks_ == 1 ? 0 : i; }
  int dim_;
  std::int64_t m_, blocks_;
  std::vector<double> centres_, theta_;
  double delta_, c_, bandwidth_;
};

}  // namespace twinflow::mfg
