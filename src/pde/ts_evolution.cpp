#include "twinflow/pde/ts_evolution.hpp"

#include <cmath>

#include "twinflow/core/error.hpp"
#include "twinflow/core/timing.hpp"

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
  if (self->progress_ && t > self->time_) self->progress_->update(self->name_, t, self->target_, self->steps_);
  PetscFunctionReturn(0);
}

void TsEvolution::advance_to(double t) {
  if (t <= time_) return;
  target_ = t;
  // Equal steps no longer than dt across the interval, stopped by the step
  // count rather than by matching the time: matching leaves a round-off
  // sliver step (~1e-17) whose step ratio ruins variable-step BDF.
  const auto n = static_cast<PetscInt>(std::ceil((t - time_) / dt_ - 1e-9));
  PetscInt before = 0, after = 0;
  TSGetStepNumber(ts_, &before);
  const double step = (t - time_) / static_cast<double>(n);
  TSSetTimeStep(ts_, step);
  TSSetMaxSteps(ts_, before + n);
  TSSetMaxTime(ts_, t + 0.5 * step);
  petsc_check(TSSolve(ts_, state_), "TSSolve");
  TSConvergedReason reason;
  TSGetConvergedReason(ts_, &reason);
  if (reason < 0) throw RuntimeFailure("PETSc TS diverged (reason " + std::to_string(reason) + ") at t = " + std::to_string(time_));
  TSGetStepNumber(ts_, &after);
  steps_ += after - before;
  TSSetTime(ts_, t);
  time_ = t;
}

}  // namespace twinflow
