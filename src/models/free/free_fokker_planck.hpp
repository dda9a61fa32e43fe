#pragma once
// The free Fokker–Planck equation ∂_t ρ + ∂_x(ρ v) = 0, v = −θx + σ²πHρ
// (docs/free.md (F2)) on the 1-D grid: finite volumes, MUSCL reconstruction with
// the monotonised-central limiter and upwind fluxes, zero flux through the
// box's ends, and PETSc's SSP Runge–Kutta (rks3, 4 stages) in time with a
// step under the CFL limit of the current velocity. Conservative; positive
// under the Courant number used (0.6 < 2 · ½, the SSP coefficient times the
// forward-Euler limit of the limited scheme).
//
// The Hilbert transform needs the whole density: every RHS evaluation
// gathers it on every rank (VecScatterCreateToAll; in 1-D the DMDA's order
// is the natural one) and each rank computes the velocity of the whole line
// redundantly, then the fluxes of its own cells. So the solution does not
// depend on the rank count, bit for bit. (The README's free section gives
// the measurement behind a gather over FFTW's MPI transforms.) All member
// functions are collective.
#include <memory>
#include <vector>

#include "spectral_transforms.hpp"
#include "twinflow/pde/ts_evolution.hpp"

namespace twinflow::free {

class FreeFokkerPlanck : public TsEvolution {
 public:
  /// Courant number of the step: max|v| dt / h.
  static constexpr double kCourant = 0.6;
  /// From the cell averages `initial` of this rank's block; `dt` bounds
  /// every step (the CFL limit bounds it further).
  FreeFokkerPlanck(const Grid& grid, double theta, double sigma, const std::vector<double>& initial, double dt);
  ~FreeFokkerPlanck() override;
  Vec density() const override { return state_; }
  std::vector<Field> extra_fields() const override { return {{"J", 1}}; }
  /// J = 2πHρ on this rank's block.
  void extra_field(const std::string& name, std::vector<double>& owned) const override;
  double stable_step() override;
  /// The whole density in natural order, on every rank.
  const std::vector<double>& gather() const;
  const SpectralTransforms& transforms() const { return transforms_; }
  /// v at the cell centres of the whole line from a whole density.
  void velocity(const std::vector<double>& rho, std::vector<double>& v) const;

 private:
  static PetscErrorCode rhs(TS ts, PetscReal t, Vec u, Vec f, void* ctx);
  // Fluxes and their divergence for the owned cells from the whole density.
  void divergence(const std::vector<double>& rho, double* f) const;
  // The whole of Vec u into full_.
  void gather(Vec u) const;
  const Grid& grid_;
  double theta_, sigma_;
  SpectralTransforms transforms_;
  VecScatter to_all_ = nullptr;
  Vec all_ = nullptr;
  mutable std::vector<double> full_, v_, work_;
};

}  // namespace twinflow::free
