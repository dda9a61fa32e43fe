#include "twinflow/pde/linear_evolution.hpp"

namespace twinflow {

LinearEvolution::LinearEvolution(const Grid& grid, Mat L, Vec p0, double dt, double cell_volume,
                                 Progress* progress, const std::string& name)
    : TsEvolution(grid.dm(), p0, dt, cell_volume, progress, name), L_(L) {
  TSSetProblemType(ts_, TS_LINEAR);
  // Implicit form F = u̇ − L u with J = shift·I − L, rebuilt only when the
  // shift changes (once per step-size change), so the preconditioner is
  // reused across steps instead of being set up again every step.
  petsc_check(MatDuplicate(L_, MAT_DO_NOT_COPY_VALUES, &J_), "MatDuplicate");
  TSSetIFunction(ts_, nullptr, &LinearEvolution::ifunction, this);
  TSSetIJacobian(ts_, J_, J_, &LinearEvolution::ijacobian, this);
  TSSetType(ts_, TSBDF);
  TSBDFSetOrder(ts_, 2);
  SNES snes = nullptr;
  KSP ksp = nullptr;
  TSGetSNES(ts_, &snes);
  SNESGetKSP(snes, &ksp);
  KSPSetTolerances(ksp, 1e-13, 1e-300, PETSC_DEFAULT, 10000);
  finish_setup();
}

LinearEvolution::~LinearEvolution() {
  MatDestroy(&J_);
  MatDestroy(&L_);
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

}  // namespace twinflow
