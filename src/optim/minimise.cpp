#include "twinflow/optim/minimise.hpp"

#include <petsctao.h>

#include <algorithm>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/petsc_error.hpp"
#include "twinflow/pde/ts_evolution.hpp"

namespace twinflow {
namespace {

struct Objective {
  const std::function<double(const std::vector<double>&, std::vector<double>&)>* f;
  std::vector<double> x, g;
  std::int64_t evaluations = 0;
  CallbackFailures failures;
};

PetscErrorCode objective_and_gradient(Tao, Vec x, PetscReal* f, Vec g, void* context) {
  auto* o = static_cast<Objective*>(context);
  PetscFunctionBeginUser;
  PetscCall(o->failures.guarded(
      [&] {
        const PetscScalar* xs = nullptr;
        TF_CHECK_PETSC(VecGetArrayRead(x, &xs));
        std::copy(xs, xs + o->x.size(), o->x.begin());
        TF_CHECK_PETSC(VecRestoreArrayRead(x, &xs));
        *f = (*o->f)(o->x, o->g);
        ++o->evaluations;
        PetscScalar* gs = nullptr;
        TF_CHECK_PETSC(VecGetArray(g, &gs));
        std::copy(o->g.begin(), o->g.end(), gs);
        TF_CHECK_PETSC(VecRestoreArray(g, &gs));
      },
      true));
  PetscFunctionReturn(0);
}

void copy_into(Vec v, const std::vector<double>& values) {
  PetscScalar* a = nullptr;
  TF_CHECK_PETSC(VecGetArray(v, &a));
  std::copy(values.begin(), values.end(), a);
  TF_CHECK_PETSC(VecRestoreArray(v, &a));
}

}  // namespace

MinimiseResult minimise(MPI_Comm comm, std::vector<double>& x,
                        const std::function<double(const std::vector<double>&, std::vector<double>&)>& f,
                        const MinimiseSettings& settings) {
  const auto n = static_cast<PetscInt>(x.size());
  Vec solution = nullptr, lower = nullptr, upper = nullptr;
  Tao tao = nullptr;
  struct Release {
    Vec *solution, *lower, *upper;
    Tao* tao;
    ~Release() {
      VecDestroy(solution);
      VecDestroy(lower);
      VecDestroy(upper);
      TaoDestroy(tao);
    }
  } release{&solution, &lower, &upper, &tao};
  TF_CHECK_PETSC(VecCreateSeq(PETSC_COMM_SELF, n, &solution));
  copy_into(solution, x);
  Objective o{&f, x, std::vector<double>(x.size()), 0, {}};
  TF_CHECK_PETSC(TaoCreate(PETSC_COMM_SELF, &tao));
  TF_CHECK_PETSC(TaoSetType(tao, settings.tao_type.c_str()));
  TF_CHECK_PETSC(TaoSetOptionsPrefix(tao, settings.options_prefix.c_str()));
  TF_CHECK_PETSC(TaoSetSolution(tao, solution));
  if (settings.bound) {
    TF_CHECK_PETSC(VecDuplicate(solution, &lower));
    TF_CHECK_PETSC(VecDuplicate(solution, &upper));
    TF_CHECK_PETSC(VecSet(lower, -*settings.bound));
    TF_CHECK_PETSC(VecSet(upper, *settings.bound));
    TF_CHECK_PETSC(TaoSetVariableBounds(tao, lower, upper));
  }
  TF_CHECK_PETSC(TaoSetObjectiveAndGradient(tao, nullptr, objective_and_gradient, &o));
  TF_CHECK_PETSC(TaoSetMaximumIterations(tao, static_cast<PetscInt>(settings.max_iterations)));
  TF_CHECK_PETSC(TaoSetTolerances(tao, settings.gradient_tolerance, 0, 0));
  petsc_check_options(TaoSetFromOptions(tao), "TaoSetFromOptions");
  collective_point(comm);
  const PetscErrorCode ierr = TaoSolve(tao);
  // A kept failure was agreed inside the objective: every rank holds one.
  if (std::exception_ptr kept = o.failures.take()) std::rethrow_exception(kept);
  petsc_check(ierr, "TaoSolve");
  PetscInt its = 0;
  PetscReal value = 0, gnorm = 0, cnorm = 0, xdiff = 0;
  TaoConvergedReason reason;
  TF_CHECK_PETSC(TaoGetSolutionStatus(tao, &its, &value, &gnorm, &cnorm, &xdiff, &reason));
  const PetscScalar* s = nullptr;
  TF_CHECK_PETSC(VecGetArrayRead(solution, &s));
  std::copy(s, s + n, x.begin());
  TF_CHECK_PETSC(VecRestoreArrayRead(solution, &s));
  return {its, o.evaluations, value, TaoConvergedReasons[reason]};
}

}  // namespace twinflow
