#include "jko.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "free_law.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/petsc_error.hpp"

namespace twinflow::free {

JkoScheme::JkoScheme(double theta, double sigma, std::vector<double> points)
    : theta_(theta), sigma_(sigma), x_(std::move(points)) {
  const auto m = static_cast<PetscInt>(x_.size());
  TF_CHECK_PETSC(VecCreateSeq(PETSC_COMM_SELF, m, &vx_));
  TF_CHECK_PETSC(VecDuplicate(vx_, &vf_));
  TF_CHECK_PETSC(MatCreateSeqDense(PETSC_COMM_SELF, m, m, nullptr, &hessian_));
  TF_CHECK_PETSC(SNESCreate(PETSC_COMM_SELF, &snes_));
  TF_CHECK_PETSC(SNESSetOptionsPrefix(snes_, "jko_"));
  TF_CHECK_PETSC(SNESSetType(snes_, SNESNEWTONLS));
  TF_CHECK_PETSC(SNESSetFunction(snes_, vf_, &JkoScheme::residual, this));
  TF_CHECK_PETSC(SNESSetJacobian(snes_, hessian_, hessian_, &JkoScheme::jacobian, this));
  KSP ksp = nullptr;
  PC pc = nullptr;
  TF_CHECK_PETSC(SNESGetKSP(snes_, &ksp));
  TF_CHECK_PETSC(KSPSetType(ksp, KSPPREONLY));
  TF_CHECK_PETSC(KSPGetPC(ksp, &pc));
  TF_CHECK_PETSC(PCSetType(pc, PCLU));
  SNESLineSearch ls = nullptr;
  TF_CHECK_PETSC(SNESGetLineSearch(snes_, &ls));
  TF_CHECK_PETSC(SNESLineSearchSetType(ls, SNESLINESEARCHBT));
  TF_CHECK_PETSC(SNESLineSearchSetPreCheck(ls, &JkoScheme::keep_order, this));
  TF_CHECK_PETSC(SNESSetTolerances(snes_, 1e-13, 1e-10, 1e-14, 100, 10000));
  petsc_check_options(SNESSetFromOptions(snes_), "SNESSetFromOptions (-jko_snes_*, -jko_ksp_*, -jko_pc_*)");
}

JkoScheme::~JkoScheme() {
  SNESDestroy(&snes_);
  MatDestroy(&hessian_);
  VecDestroy(&vx_);
  VecDestroy(&vf_);
}

PetscErrorCode JkoScheme::residual(SNES, Vec x, Vec f, void* ctx) {
  // ∂/∂x_i of M × the step's objective.
  auto* self = static_cast<JkoScheme*>(ctx);
  const PetscScalar* xa = nullptr;
  PetscScalar* fa = nullptr;
  PetscFunctionBeginUser;
  PetscCall(VecGetArrayRead(x, &xa));
  PetscCall(VecGetArray(f, &fa));
  const auto m = static_cast<PetscInt>(self->x_.size());
  const double c = self->sigma_ * self->sigma_ / static_cast<double>(m);
  for (PetscInt i = 0; i < m; ++i) {
    double r = 0;
    for (PetscInt j = 0; j < m; ++j)
      if (j != i) r += 1 / (xa[i] - xa[j]);
    fa[i] = self->theta_ * xa[i] - c * r + (xa[i] - self->anchor_[i]) / self->tau_;
  }
  PetscCall(VecRestoreArray(f, &fa));
  PetscCall(VecRestoreArrayRead(x, &xa));
  PetscFunctionReturn(0);
}

PetscErrorCode JkoScheme::jacobian(SNES, Vec x, Mat a, Mat, void* ctx) {
  auto* self = static_cast<JkoScheme*>(ctx);
  const PetscScalar* xa = nullptr;
  PetscScalar* h = nullptr;
  PetscFunctionBeginUser;
  PetscCall(VecGetArrayRead(x, &xa));
  PetscCall(MatDenseGetArray(a, &h));
  const auto m = static_cast<PetscInt>(self->x_.size());
  const double c = self->sigma_ * self->sigma_ / static_cast<double>(m);
  for (PetscInt j = 0; j < m; ++j) {
    double diag = self->theta_ + 1 / self->tau_;
    for (PetscInt i = 0; i < m; ++i) {
      if (i == j) continue;
      const double d = xa[i] - xa[j], e = c / (d * d);
      h[j * m + i] = -e;
      diag += e;
    }
    h[j * m + j] = diag;
  }
  PetscCall(MatDenseRestoreArray(a, &h));
  PetscCall(VecRestoreArrayRead(x, &xa));
  PetscFunctionReturn(0);
}

PetscErrorCode JkoScheme::keep_order(SNESLineSearch, Vec x, Vec y, PetscBool* changed, void*) {
  // The line search tries x − λy, λ ≤ 1: shorten y so that no gap between
  // neighbours shrinks by more than 90 %.
  const PetscScalar* xa = nullptr;
  PetscScalar* ya = nullptr;
  PetscInt m = 0;
  PetscFunctionBeginUser;
  PetscCall(VecGetLocalSize(x, &m));
  PetscCall(VecGetArrayRead(x, &xa));
  PetscCall(VecGetArray(y, &ya));
  double alpha = 1;
  for (PetscInt i = 0; i + 1 < m; ++i) {
    const double gap = xa[i + 1] - xa[i], closing = ya[i + 1] - ya[i];
    if (closing > 0) alpha = std::min(alpha, 0.9 * gap / closing);
  }
  *changed = PETSC_FALSE;
  if (alpha < 1) {
    for (PetscInt i = 0; i < m; ++i) ya[i] *= alpha;
    *changed = PETSC_TRUE;
  }
  PetscCall(VecRestoreArray(y, &ya));
  PetscCall(VecRestoreArrayRead(x, &xa));
  PetscFunctionReturn(0);
}

void JkoScheme::step(double tau) {
  tau_ = tau;
  anchor_ = x_;
  // The initial guess must be ordered strictly: points tied on an atom of
  // mass p start spread as SC(c, p σ² τ), the free OU law of an atom over a
  // short time, narrowed to stay clear of the neighbouring points.
  const auto m = static_cast<std::int64_t>(x_.size());
  std::vector<double> guess = x_;
  for (std::int64_t i = 0; i < m;) {
    std::int64_t j = i + 1;
    while (j < m && x_[j] - x_[i] <= 1e-12 * (1 + std::abs(x_[i]))) ++j;
    const std::int64_t g = j - i;
    if (g > 1) {
      double room = std::numeric_limits<double>::infinity();
      if (i > 0) room = std::min(room, x_[i] - x_[i - 1]);
      if (j < m) room = std::min(room, x_[j] - x_[i]);
      const double radius = std::min(2 * std::sqrt(static_cast<double>(g) / static_cast<double>(m) * sigma_ * sigma_ * tau),
                                     0.45 * room);
      for (std::int64_t r = 0; r < g; ++r)
        guess[i + r] = x_[i] + semicircle_quantile(radius * radius / 4,
                                                   (static_cast<double>(r) + 0.5) / static_cast<double>(g));
    }
    i = j;
  }
  PetscScalar* a = nullptr;
  TF_CHECK_PETSC(VecGetArray(vx_, &a));
  std::copy(guess.begin(), guess.end(), a);
  TF_CHECK_PETSC(VecRestoreArray(vx_, &a));
  petsc_check(SNESSolve(snes_, nullptr, vx_), "SNESSolve (JKO step)");
  SNESConvergedReason reason;
  TF_CHECK_PETSC(SNESGetConvergedReason(snes_, &reason));
  if (reason < 0)
    throw RuntimeFailure("the JKO step at t = " + std::to_string(time_) + " did not converge (SNES reason " +
                         std::to_string(reason) + "); accepted: a smaller free.jko_tau");
  PetscInt its = 0;
  TF_CHECK_PETSC(SNESGetIterationNumber(snes_, &its));
  iterations_ += its;
  const PetscScalar* r = nullptr;
  TF_CHECK_PETSC(VecGetArrayRead(vx_, &r));
  std::copy(r, r + m, x_.begin());
  TF_CHECK_PETSC(VecRestoreArrayRead(vx_, &r));
  time_ += tau;
}

void JkoScheme::advance_to(double t, double tau) {
  if (t <= time_) return;
  const auto n = static_cast<std::int64_t>(std::ceil((t - time_) / tau - 1e-9));
  const double start = time_, h = (t - start) / static_cast<double>(n);
  for (std::int64_t k = 0; k < n; ++k) step(h);
  time_ = t;
}

}  // namespace twinflow::free
