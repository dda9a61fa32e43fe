#include "twinflow/pde/linear_evolution.hpp"

namespace twinflow {

LinearImplicitTerm::LinearImplicitTerm(Mat L, Refill refill) : L_(L), refill_(std::move(refill)) {
  TF_CHECK_PETSC(MatDuplicate(L_, MAT_DO_NOT_COPY_VALUES, &J_));
}

LinearImplicitTerm::~LinearImplicitTerm() {
  MatDestroy(&J_);
  MatDestroy(&L_);
}

void LinearImplicitTerm::attach(TS ts, CallbackFailures& failures) {
  failures_ = &failures;
  TF_CHECK_PETSC(TSSetProblemType(ts, TS_LINEAR));
  TF_CHECK_PETSC(TSSetIFunction(ts, nullptr, &LinearImplicitTerm::ifunction, this));
  TF_CHECK_PETSC(TSSetIJacobian(ts, J_, J_, &LinearImplicitTerm::ijacobian, this));
  SNES snes = nullptr;
  KSP ksp = nullptr;
  TF_CHECK_PETSC(TSGetSNES(ts, &snes));
  TF_CHECK_PETSC(SNESGetKSP(snes, &ksp));
  TF_CHECK_PETSC(KSPSetTolerances(ksp, 1e-13, 1e-300, PETSC_DEFAULT, 10000));
}

void LinearImplicitTerm::operator_at(double t) {
  if (!refill_ || t == time_) return;
  refill_(t, L_);
  time_ = t;
}

PetscErrorCode LinearImplicitTerm::ifunction(TS, PetscReal t, Vec u, Vec u_t, Vec f, void* ctx) {
  auto* self = static_cast<LinearImplicitTerm*>(ctx);
  return self->failures_->guarded([&] {
    self->operator_at(t);
    TF_CHECK_PETSC(MatMult(self->L_, u, f));
    TF_CHECK_PETSC(VecAYPX(f, -1.0, u_t));
  });
}

PetscErrorCode LinearImplicitTerm::ijacobian(TS, PetscReal t, Vec, Vec, PetscReal shift, Mat J, Mat, void* ctx) {
  auto* self = static_cast<LinearImplicitTerm*>(ctx);
  return self->failures_->guarded([&] {
    self->operator_at(t);
    if (shift != self->shift_ || (self->refill_ && t != self->jacobian_time_)) {
      TF_CHECK_PETSC(MatCopy(self->L_, J, SAME_NONZERO_PATTERN));
      TF_CHECK_PETSC(MatScale(J, -1.0));
      TF_CHECK_PETSC(MatShift(J, shift));
      self->shift_ = shift;
      self->jacobian_time_ = t;
    }
  });
}

LinearEvolution::LinearEvolution(const Grid& grid, Mat L, Vec p0, double dt, double cell_volume)
    : LinearEvolution(grid, L, {}, p0, dt, cell_volume) {}

LinearEvolution::LinearEvolution(const Grid& grid, Mat L, LinearImplicitTerm::Refill refill, Vec p0, double dt,
                                 double cell_volume, const std::string& options_prefix)
    : TsEvolution(grid.dm(), p0, dt, cell_volume), term_(L, std::move(refill)) {
  term_.attach(ts_, callback_failures());
  // A one-step scheme (state = the Vec, so checkpoints resume bit-identically):
  // ARKIMEX L2, whose implicit part is the L-stable two-stage SDIRK2.
  TF_CHECK_PETSC(TSSetType(ts_, TSARKIMEX));
  TF_CHECK_PETSC(TSARKIMEXSetType(ts_, TSARKIMEXL2));
  finish_setup(options_prefix);
}

}  // namespace twinflow
