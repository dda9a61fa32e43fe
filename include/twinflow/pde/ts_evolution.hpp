#pragma once
// The part of a PDE solver shared by every family: a PETSc TS that advances a
// state Vec to each stop in equal steps no longer than the nominal dt,
// counted steps, a mass monitor and progress lines. A family's solver sets
// the TS type and its functions in its own constructor, then calls
// finish_setup(). All member functions are collective.
//
// Checkpoints: the state Vec, the TS time and step number and the interval
// in progress are saved; the default schemes (ARKIMEX) are one-step methods
// that carry nothing else from one step to the next, so a restored solver
// continues bit-identically at the same rank count. A multistep scheme
// chosen with -ts_type (bdf) restarts its history on resume and then agrees
// to its local error only.
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

  bool advance_to(double t, const StepHook& stop = nullptr) override;
  void checkpoint(CheckpointArchive& archive) override;
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
  static PetscErrorCode post_step(TS ts);
  double dt_, cell_volume_, time_ = 0, mass0_ = 0, max_drift_ = 0;
  std::int64_t steps_ = 0;
  // The interval in progress: its end, its equal step, and the TS step
  // number at which it ends.
  double interval_target_ = -1, interval_step_ = 0;
  std::int64_t interval_last_step_ = 0;
  const StepHook* stop_ = nullptr;
  Progress* progress_;
  std::string name_;
};

/// Collective. Saves or restores a TS's time and step number.
void checkpoint_ts_clock(CheckpointArchive& archive, TS ts);

/// Throws RuntimeFailure naming `what` when a PETSc call failed.
void petsc_check(PetscErrorCode ierr, const char* what);

}  // namespace twinflow
