#pragma once
// The free Fokker–Planck equation as the Wasserstein gradient flow of
//   F(ρ) = (θ/2) ∫ x² dρ − (σ²/2) ∫∫ log|x − y| dρ dρ,
// by minimising movements (JKO): ρ_{k+1} = argmin F(ρ) + W₂²(ρ, ρ_k)/(2τ).
// In one dimension, in quantile coordinates, ρ is M ordered points of mass
// 1/M and the step is the strictly convex problem
//   min_x Σ_i [θ x_i²/2 + (x_i − x_i^k)²/(2τ)] − (σ²/(2M)) Σ_{i≠j} log|x_i − x_j|
// (times 1/M), solved by PETSc SNES (Newton on the gradient with the dense
// Hessian, LU) with a pre-check that shortens a Newton step so the points
// keep their order (the logarithm is a barrier between them). Its fixed
// point is the deterministic Dyson equilibrium, scaled Hermite zeros.
// Runs on PETSC_COMM_SELF: every rank computes the same points redundantly
// (they are few), so nothing here is collective.
#include <petscsnes.h>

#include <cstdint>
#include <vector>

namespace twinflow::free {

class JkoScheme {
 public:
  /// From ordered points (ties allowed: an atom's share of the points).
  JkoScheme(double theta, double sigma, std::vector<double> points);
  ~JkoScheme();
  JkoScheme(const JkoScheme&) = delete;
  JkoScheme& operator=(const JkoScheme&) = delete;
  /// One step of length tau from the current points.
  void step(double tau);
  /// To time t in equal steps no longer than tau.
  void advance_to(double t, double tau);
  const std::vector<double>& points() const { return x_; }
  std::vector<double>& points() { return x_; }
  double time() const { return time_; }
  /// Restores the clock and the iteration count (the points are points()).
  void restore(double t, std::int64_t newton_iterations) { time_ = t, iterations_ = newton_iterations; }
  /// Newton iterations over all steps so far.
  std::int64_t newton_iterations() const { return iterations_; }

 private:
  static PetscErrorCode residual(SNES snes, Vec x, Vec f, void* ctx);
  static PetscErrorCode jacobian(SNES snes, Vec x, Mat a, Mat p, void* ctx);
  static PetscErrorCode keep_order(SNESLineSearch ls, Vec x, Vec y, PetscBool* changed, void* ctx);
  double theta_, sigma_, tau_ = 0, time_ = 0;
  std::vector<double> x_, anchor_;
  std::int64_t iterations_ = 0;
  SNES snes_ = nullptr;
  Vec vx_ = nullptr, vf_ = nullptr;
  Mat hessian_ = nullptr;
};

}  // namespace twinflow::free
