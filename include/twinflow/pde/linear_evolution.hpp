#pragma once
// Time integration of a linear, mass-conserving system dp/dt = L p on a DMDA
// with PETSc TS. Defaults: BDF2 with fixed steps and a Krylov tolerance tight
// enough for mass conservation to ~1e-12 (the columns of a conservative L
// sum to zero, so mass moves only through the linear-solver residual); every
// -ts_*, -ksp_*, -pc_* option overrides them. All member functions are
// collective.
#include "twinflow/pde/ts_evolution.hpp"

namespace twinflow {

class LinearEvolution : public TsEvolution {
 public:
  /// Takes ownership of L and p0 (references are stolen, not copied). `dt`
  /// is the nominal step; each interval between stops is split into equal
  /// steps no longer than dt. Mass is the sum of p times `cell_volume`.
  LinearEvolution(const Grid& grid, Mat L, Vec p0, double dt, double cell_volume,
                  Progress* progress, const std::string& name);
  ~LinearEvolution() override;

  Vec density() const override { return state_; }

 private:
  static PetscErrorCode ifunction(TS ts, PetscReal t, Vec u, Vec u_t, Vec f, void* ctx);
  static PetscErrorCode ijacobian(TS ts, PetscReal t, Vec u, Vec u_t, PetscReal shift, Mat J, Mat P, void* ctx);
  Mat L_ = nullptr, J_ = nullptr;
  double shift_ = -1;  ///< shift of the current J
};

}  // namespace twinflow
