#pragma once
// The part of a PDE solver shared by every family: a PETSc TS that advances a
// state Vec to each stop in equal steps no longer than the nominal dt,
// counted steps, a mass monitor and progress lines. A family's solver sets
// the TS type and its functions in its own constructor, then calls
// finish_setup(). All member functions are collective.
#include <petscts.h>

#include <cstdint>
#include <string>

#include "twinflow/models/experiment.hpp"

namespace twinflow {

class Progress;

class TsEvolution : public DensitySolver {
 public:
  ~TsEvolution() override;
  TsEvolution(const TsEvolution&) = delete;
  TsEvolution& operator=(const TsEvolution&) = delete;

  void advance_to(double t) override;
  double time() const override { return time_; }
  std::int64_t steps() const override { return steps_; }
  double max_mass_drift() const override { return max_drift_; }
  /// Sum of every entry of the state times the cell volume.
  double mass() const;
  TS ts() const { return ts_; }
  /// The TS state (all unknowns of the owned cells).
  Vec state() const { return state_; }
  /// The nominal step: the longest step taken.
  double nominal_step() const { return dt_; }

 protected:
  /// Takes ownership of `state`. Creates the TS on `dm` with fixed steps (no
  /// adaptivity) and the monitor; the caller chooses the scheme.
  TsEvolution(DM dm, Vec state, double dt, double cell_volume, Progress* progress, std::string name);
  /// Applies -ts_* options, sets the TS up and records the initial mass.
  void finish_setup();

  TS ts_ = nullptr;
  Vec state_ = nullptr;

 private:
  static PetscErrorCode monitor(TS ts, PetscInt step, PetscReal t, Vec u, void* ctx);
  double dt_, cell_volume_, time_ = 0, mass0_ = 0, max_drift_ = 0, target_ = 0;
  std::int64_t steps_ = 0;
  Progress* progress_;
  std::string name_;
};

/// Throws RuntimeFailure naming `what` when a PETSc call failed.
void petsc_check(PetscErrorCode ierr, const char* what);

}  // namespace twinflow
