#include "twinflow/pde/linear_evolution.hpp"

namespace twinflow {

LinearImplicitTerm::LinearImplicitTerm(Mat L) : L_(L) {
  petsc_check(MatDuplicate(L_, MAT_DO_NOT_COPY_VALUES, &J_), "MatDuplicate");
}

LinearImplicitTerm::~LinearImplicitTerm() {
  MatDestroy(&J_);
  MatDestroy(&L_);
}

void LinearImplicitTerm::attach(TS ts) {
  TSSetProblemType(ts, TS_LINEAR);
  TSSetIFunction(ts, nullptr, &LinearImplicitTerm::ifunction, this);
  TSSetIJacobian(ts, J_, J_, &LinearImplicitTerm::ijacobian, this);
  SNES snes = nullptr;
  KSP ksp = nullptr;
  TSGetSNES(ts, &snes);
  SNESGetKSP(snes, &ksp);
  KSPSetTolerances(ksp, 1e-13, 1e-300, PETSC_DEFAULT, 10000);
}

PetscErrorCode LinearImplicitTerm::ifunction(TS, PetscReal, Vec u, Vec u_t, Vec f, void* ctx) {
  auto* self = static_cast<LinearImplicitTerm*>(ctx);
  PetscFunctionBeginUser;
  PetscCall(MatMult(self->L_, u, f));
  PetscCall(VecAYPX(f, -1.0, u_t));
  PetscFunctionReturn(0);
}

PetscErrorCode LinearImplicitTerm::ijacobian(TS, PetscReal, Vec, Vec, PetscReal shift, Mat J, Mat, void* ctx) {
  auto* self = static_cast<LinearImplicitTerm*>(ctx);
  PetscFunctionBeginUser;
  if (shift != self->shift_) {
    PetscCall(MatCopy(self->L_, J, SAME_NONZERO_PATTERN));
    PetscCall(MatScale(J, -1.0));
    PetscCall(MatShift(J, shift));
    self->shift_ = shift;
  }
  PetscFunctionReturn(0);
}

LinearEvolution::LinearEvolution(const Grid& grid, Mat L, Vec p0, double dt, double cell_volume,
                                 Progress* progress, const std::string& name)
    : TsEvolution(grid.dm(), p0, dt, cell_volume, progress, name), term_(L) {
  term_.attach(ts_);
  // A one-step scheme (state = the Vec, so checkpoints resume bit-identically):
  // ARKIMEX L2, whose implicit part is the L-stable two-stage SDIRK2.
  TSSetType(ts_, TSARKIMEX);
  TSARKIMEXSetType(ts_, TSARKIMEXL2);
  finish_setup();
}

}  // namespace twinflow
