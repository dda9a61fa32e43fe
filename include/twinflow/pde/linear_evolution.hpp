#pragma once
// Time integration of a linear, mass-conserving system dp/dt = L p on a DMDA
// with PETSc TS. Defaults: BDF2 with fixed steps (no adaptivity) and a Krylov
// tolerance tight enough for mass conservation to ~1e-12 (the columns of a
// conservative L sum to zero, so mass moves only through the linear-solver
// residual); every -ts_*, -ksp_*, -pc_* option overrides them. All member
// functions are collective.
#include <petscts.h>

#include <cstdint>
#include <string>

#include "twinflow/models/experiment.hpp"

namespace twinflow {

class Progress;

class LinearEvolution : public DensitySolver {
 public:
  /// Takes ownership of L and p0 (references are stolen, not copied). `dt`
  /// is the nominal step; each interval between stops is split into equal
  /// steps no longer than dt. Mass is the sum of p times `cell_volume`.
  LinearEvolution(const Grid& grid, Mat L, Vec p0, double dt, double cell_volume,
                  Progress* progress, const std::string& name);
  ~LinearEvolution() override;

  void advance_to(double t) override;
  Vec density() const override { return state_; }
  double time() const override { return time_; }
  std::int64_t steps() const override { return steps_; }
  double max_mass_drift() const override { return max_drift_; }
  double mass() const;
  TS ts() const { return ts_; }

 private:
  static PetscErrorCode monitor(TS ts, PetscInt step, PetscReal t, Vec u, void* ctx);
  static PetscErrorCode ifunction(TS ts, PetscReal t, Vec u, Vec u_t, Vec f, void* ctx);
  static PetscErrorCode ijacobian(TS ts, PetscReal t, Vec u, Vec u_t, PetscReal shift, Mat J, Mat P, void* ctx);
  const Grid& grid_;
  TS ts_ = nullptr;
  Mat L_ = nullptr, J_ = nullptr;
  double shift_ = -1;  ///< shift of the current J
  Vec state_ = nullptr;
  double dt_, cell_volume_, time_ = 0, mass0_ = 0, max_drift_ = 0;
  std::int64_t steps_ = 0;
  Progress* progress_;
  std::string name_;
  double target_ = 0;
};

}  // namespace twinflow
