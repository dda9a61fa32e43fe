#include "twinflow/pde/ts_evolution.hpp"

#include <cmath>

#include "twinflow/core/error.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/io/checkpoint.hpp"

namespace twinflow {

void petsc_check(PetscErrorCode ierr, const char* what) {
  if (ierr) throw RuntimeFailure(std::string("PETSc: ") + what + " failed (error " + std::to_string(ierr) + ")");
}

TsEvolution::TsEvolution(DM dm, Vec state, double dt, double cell_volume, Progress* progress, std::string name)
    : state_(state), dt_(dt), cell_volume_(cell_volume), progress_(progress), name_(std::move(name)) {
  MPI_Comm comm = MPI_COMM_NULL;
  PetscObjectGetComm(reinterpret_cast<PetscObject>(dm), &comm);
  petsc_check(TSCreate(comm, &ts_), "TSCreate");
  TSSetDM(ts_, dm);
  TSAdapt adapt = nullptr;
  TSGetAdapt(ts_, &adapt);
  TSAdaptSetType(adapt, TSADAPTNONE);
  TSSetTime(ts_, 0.0);
  TSSetTimeStep(ts_, dt_);
  TSSetExactFinalTime(ts_, TS_EXACTFINALTIME_STEPOVER);
  TSMonitorSet(ts_, &TsEvolution::monitor, this, nullptr);
  TSSetApplicationContext(ts_, this);
  TSSetPostStep(ts_, &TsEvolution::post_step);
}

void TsEvolution::finish_setup() {
  petsc_check(TSSetFromOptions(ts_), "TSSetFromOptions");
  petsc_check(TSSetUp(ts_), "TSSetUp");
  mass0_ = mass();
}

TsEvolution::~TsEvolution() {
  TSDestroy(&ts_);
  VecDestroy(&state_);
}

double TsEvolution::mass() const {
  PetscScalar s = 0;
  VecSum(state_, &s);
  return s * cell_volume_;
}

PetscErrorCode TsEvolution::monitor(TS, PetscInt, PetscReal t, Vec u, void* ctx) {
  auto* self = static_cast<TsEvolution*>(ctx);
  PetscFunctionBeginUser;
  PetscScalar s = 0;
  PetscCall(VecSum(u, &s));
  const double m = s * self->cell_volume_;
  if (self->mass0_ != 0) self->max_drift_ = std::max(self->max_drift_, std::abs(m - self->mass0_) / std::abs(self->mass0_));
  if (self->progress_ && t > self->time_)
    self->progress_->update(self->name_, t, self->interval_target_, self->steps_);
  PetscFunctionReturn(0);
}

PetscErrorCode TsEvolution::post_step(TS ts) {
  TsEvolution* self = nullptr;
  PetscFunctionBeginUser;
  PetscCall(TSGetApplicationContext(ts, &self));
  PetscReal t = 0;
  PetscCall(TSGetTime(ts, &t));
  bool stop = false;
  try {
    stop = self->stop_ && *self->stop_ && (*self->stop_)(t);
  } catch (...) {
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "step hook failed");
  }
  if (stop) PetscCall(TSSetConvergedReason(ts, TS_CONVERGED_USER));
  PetscFunctionReturn(0);
}

void checkpoint_ts_clock(CheckpointArchive& a, TS ts) {
  PetscReal t = 0;
  PetscInt step = 0;
  TSGetTime(ts, &t);
  TSGetStepNumber(ts, &step);
  double time = t;
  std::int64_t steps = step;
  a.value("ts_time", time);
  a.value("ts_step", steps);
  if (a.saving()) return;
  TSSetTime(ts, time);
  TSSetStepNumber(ts, static_cast<PetscInt>(steps));
}

bool TsEvolution::advance_to(double t, const StepHook& stop) {
  if (t <= time_) return true;
  PetscInt before = 0, after = 0;
  TSGetStepNumber(ts_, &before);
  if (t != interval_target_) {
    // Equal steps no longer than dt across the interval, stopped by the step
    // count rather than by matching the time: matching leaves a round-off
    // sliver step (~1e-17) that ruins variable-step multistep schemes.
    const auto n = static_cast<PetscInt>(std::ceil((t - time_) / dt_ - 1e-9));
    interval_target_ = t;
    interval_step_ = (t - time_) / static_cast<double>(n);
    interval_last_step_ = before + n;
  }
  TSSetTimeStep(ts_, interval_step_);
  TSSetMaxSteps(ts_, static_cast<PetscInt>(interval_last_step_));
  TSSetMaxTime(ts_, t + 0.5 * interval_step_);
  stop_ = &stop;
  const PetscErrorCode ierr = TSSolve(ts_, state_);
  stop_ = nullptr;
  petsc_check(ierr, "TSSolve");
  TSConvergedReason reason;
  TSGetConvergedReason(ts_, &reason);
  if (reason < 0) throw RuntimeFailure("PETSc TS diverged (reason " + std::to_string(reason) + ") at t = " + std::to_string(time_));
  TSGetStepNumber(ts_, &after);
  steps_ += after - before;
  if (after < interval_last_step_) return false;
  TSSetTime(ts_, t);
  time_ = t;
  return true;
}

void TsEvolution::checkpoint(CheckpointArchive& a) {
  DM dm = nullptr;
  TSGetDM(ts_, &dm);
  a.grid_vector("state", dm, state_);
  checkpoint_ts_clock(a, ts_);
  a.value("time", time_);
  a.value("steps", steps_);
  a.value("initial_mass", mass0_);
  a.value("max_relative_mass_drift", max_drift_);
  a.value("interval_target", interval_target_);
  a.value("interval_step", interval_step_);
  a.value("interval_last_step", interval_last_step_);
}

}  // namespace twinflow
