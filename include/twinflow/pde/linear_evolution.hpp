#pragma once
// Linear, mass-conserving PDE terms with PETSc TS. All member functions are
// collective.
#include <functional>
#include <limits>

#include "twinflow/pde/ts_evolution.hpp"

namespace twinflow {

/// A linear term u̇ = L(t) u given to a TS in implicit form: F = u̇ − L u
/// with J = shift·I − L. A constant L keeps J until the shift changes (once
/// per step-size change), so the preconditioner is reused across steps; an
/// L that changes in time is refilled at each new stage time, and J with it.
class LinearImplicitTerm {
 public:
  /// Collective. Overwrites the entries of L (same nonzero pattern) with
  /// those of L(t).
  using Refill = std::function<void(double t, Mat L)>;
  /// Takes ownership of L: the constant operator, or (with `refill`) the
  /// one whose entries refill sets at every time the TS asks for.
  explicit LinearImplicitTerm(Mat L, Refill refill = {});
  ~LinearImplicitTerm();
  LinearImplicitTerm(const LinearImplicitTerm&) = delete;
  LinearImplicitTerm& operator=(const LinearImplicitTerm&) = delete;

  /// Sets the TS's IFunction and IJacobian, marks the problem linear and
  /// asks the Krylov solver for a residual tight enough for mass
  /// conservation to ~1e-12 (the columns of a conservative L sum to zero,
  /// so mass moves only through the residual); -ksp_* options override.
  /// The callbacks keep their failures in `failures` (the solver's).
  void attach(TS ts, CallbackFailures& failures);

 private:
  static PetscErrorCode ifunction(TS ts, PetscReal t, Vec u, Vec u_t, Vec f, void* ctx);
  static PetscErrorCode ijacobian(TS ts, PetscReal t, Vec u, Vec u_t, PetscReal shift, Mat J, Mat P, void* ctx);
  // L at time t (refilled when it changes in time and t is new).
  void operator_at(double t);
  Mat L_ = nullptr, J_ = nullptr;
  Refill refill_;
  static constexpr double kNever = std::numeric_limits<double>::quiet_NaN();
  double time_ = kNever;                    ///< time of L (refilled operators)
  double shift_ = -1, jacobian_time_ = kNever;  ///< shift and time of the current J
  CallbackFailures* failures_ = nullptr;
};

/// dp/dt = L p on a DMDA, by default with ARKIMEX L2 (L-stable SDIRK2, fully
/// implicit here) and fixed steps; every
/// -ts_*, -ksp_*, -pc_* option overrides.
class LinearEvolution : public TsEvolution {
 public:
  /// Takes ownership of L and p0 (references are stolen, not copied). `dt`
  /// is the nominal step; each interval between stops is split into equal
  /// steps no longer than dt. Mass is the sum of p times `cell_volume`.
  LinearEvolution(const Grid& grid, Mat L, Vec p0, double dt, double cell_volume);
  /// dp/dt = L(t) p, with L refilled by `refill` (see LinearImplicitTerm);
  /// a non-empty `options_prefix` makes the solver read -<prefix>ts_* etc.
  LinearEvolution(const Grid& grid, Mat L, LinearImplicitTerm::Refill refill, Vec p0, double dt, double cell_volume,
                  const std::string& options_prefix = {});

  Vec density() const override { return state_; }

 private:
  LinearImplicitTerm term_;
};

}  // namespace twinflow
