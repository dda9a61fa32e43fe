#pragma once
// PDE side of the `kinetic` family (docs/kinetic.md (K3)): the phase-space
// Fokker–Planck equation of the kinetic OU process for d = 1 on the (x, v)
// grid (axis 0 = x, axis 1 = v),
//   ∂_t p = −v ∂_x p + ∂_v((x + 2v) p) + 2 ∂_vv p,   zero-flux walls.
// The x-transport has no diffusion (the equation is degenerate in x), so it
// is treated like a hyperbolic term: explicit finite volumes with MUSCL
// reconstruction and the monotonised-central limiter (second order where the
// solution is smooth, no new extrema). The v-part, 2 ∂_v(∂_v p + ((x + 2v)/2) p),
// is stiff and handled implicitly with the Scharfetter–Gummel flux (exact for
// the local Gaussian equilibrium, an M-matrix). The default scheme is
// PETSc's ARKIMEX PRSSP2 (SSP explicit part, stiffly accurate implicit
// part); the step is lowered to keep the Courant number max|v| dt/Δx at most
// max_courant(). -ts_*, -ksp_*, -pc_* options override. Mass is conserved up
// to the Krylov tolerance: both fluxes telescope. All member functions are
// collective.
#include <memory>

#include "twinflow/pde/linear_evolution.hpp"

namespace twinflow::kinetic {

class PhaseSpaceFokkerPlanck : public TsEvolution {
 public:
  /// `p0`: the initial density as this rank's owned block of the 2-D `grid`.
  PhaseSpaceFokkerPlanck(const Grid& grid, const std::vector<double>& p0, double dt);
  ~PhaseSpaceFokkerPlanck() override;

  static constexpr double max_courant() { return 0.5; }
  Vec density() const override;

 private:
  PhaseSpaceFokkerPlanck(const Grid& grid, std::unique_ptr<Grid> wide, const std::vector<double>& p0, double dt);
  static PetscErrorCode transport(TS ts, PetscReal t, Vec p, Vec f, void* ctx);
  const Grid& grid_;
  std::unique_ptr<Grid> wide_;  ///< the same cells with two ghost layers, for MUSCL
  LinearImplicitTerm velocity_part_;
  Vec density_ = nullptr;
};

}  // namespace twinflow::kinetic
