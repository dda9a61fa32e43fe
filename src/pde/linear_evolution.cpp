#include "twinflow/pde/linear_evolution.hpp"

#include <cmath>

#include "twinflow/core/error.hpp"
#include "twinflow/core/timing.hpp"

namespace twinflow {

namespace {
void petsc_check(PetscErrorCode ierr, const char* what) {
  if (ierr) throw RuntimeFailure(std::string("PETSc: ") + what + " failed (error " + std::to_string(ierr) + ")");
}
}  // namespace

LinearEvolution::LinearEvolution(const Grid& grid, Mat L, Vec p0, double dt, double cell_volume,
                                 Progress* progress, const std::string& name)
    : grid_(grid), L_(L), state_(p0), dt_(dt), cell_volume_(cell_volume), progress_(progress), name_(name) {
  petsc_check(TSCreate(grid.comm(), &ts_), "TSCreate");
  TSSetDM(ts_, grid.dm());
  TSSetProblemType(ts_, TS_LINEAR);
  // Implicit form F = u̇ − L u with J = shift·I − L, rebuilt only when the
  // shift changes (once per step-size change), so the preconditioner is
  // reused across steps instead of being set up again every step.
  petsc_check(MatDuplicate(L_, MAT_DO_NOT_COPY_VALUES, &J_), "MatDuplicate");
  TSSetIFunction(ts_, nullptr, &LinearEvolution::ifunction, this);
  TSSetIJacobian(ts_, J_, J_, &LinearEvolution::ijacobian, this);
  TSSetType(ts_, TSBDF);
  TSBDFSetOrder(ts_, 2);
  TSAdapt adapt = nullptr;
  TSGetAdapt(ts_, &adapt);
  TSAdaptSetType(adapt, TSADAPTNONE);
  SNES snes = nullptr;
  KSP ksp = nullptr;
  TSGetSNES(ts_, &snes);
  SNESGetKSP(snes, &ksp);
  KSPSetTolerances(ksp, 1e-13, 1e-300, PETSC_DEFAULT, 10000);
  TSSetTime(ts_, 0.0);
  TSSetTimeStep(ts_, dt_);
  TSSetExactFinalTime(ts_, TS_EXACTFINALTIME_STEPOVER);
  TSMonitorSet(ts_, &LinearEvolution::monitor, this, nullptr);
  petsc_check(TSSetFromOptions(ts_), "TSSetFromOptions");
  petsc_check(TSSetUp(ts_), "TSSetUp");
  mass0_ = mass();
}

LinearEvolution::~LinearEvolution() {
  TSDestroy(&ts_);
  MatDestroy(&J_);
  MatDestroy(&L_);
  VecDestroy(&state_);
}

double LinearEvolution::mass() const {
  PetscScalar s = 0;
  VecSum(state_, &s);
  return s * cell_volume_;
}

PetscErrorCode LinearEvolution::ifunction(TS, PetscReal, Vec u, Vec u_t, Vec f, void* ctx) {
  auto* self = static_cast<LinearEvolution*>(ctx);
  PetscFunctionBeginUser;
  PetscCall(MatMult(self->L_, u, f));
  PetscCall(VecAYPX(f, -1.0, u_t));
  PetscFunctionReturn(0);
}

PetscErrorCode LinearEvolution::ijacobian(TS, PetscReal, Vec, Vec, PetscReal shift, Mat J, Mat, void* ctx) {
  auto* self = static_cast<LinearEvolution*>(ctx);
  PetscFunctionBeginUser;
  if (shift != self->shift_) {
    PetscCall(MatCopy(self->L_, J, SAME_NONZERO_PATTERN));
    PetscCall(MatScale(J, -1.0));
    PetscCall(MatShift(J, shift));
    self->shift_ = shift;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode LinearEvolution::monitor(TS, PetscInt, PetscReal t, Vec u, void* ctx) {
  auto* self = static_cast<LinearEvolution*>(ctx);
  PetscFunctionBeginUser;
  PetscScalar s = 0;
  PetscCall(VecSum(u, &s));
  const double m = s * self->cell_volume_;
  if (self->mass0_ != 0) self->max_drift_ = std::max(self->max_drift_, std::abs(m - self->mass0_) / std::abs(self->mass0_));
  if (self->progress_ && t > self->time_) self->progress_->update(self->name_, t, self->target_, self->steps_);
  PetscFunctionReturn(0);
}

void LinearEvolution::advance_to(double t) {
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
