#pragma once
// The part of a PDE solver shared by every family: a PETSc TS that
// integrates a state Vec through a list of stop times in one TSSolve, in
// equal steps no longer than the nominal dt between consecutive stops, with
// counted steps and a mass monitor. A solver whose stable step changes with
// the solution (a CFL limit of a nonlinear velocity) says so through
// stable_step(): after every step the rest of the interval is planned again
// in equal steps no longer than it. A family's solver sets the TS type and
// its functions in its own constructor, then calls finish_setup(). All
// member functions are collective.
//
// No C++ exception crosses a PETSc callback. A callback runs its body
// through guarded(): on a TS over many ranks an exception is kept and the
// callback returns 0, so that no rank leaves PETSc's collectives early; after
// every step all ranks agree on kept failures (core/collective.hpp) and the
// solve ends with the kept message raised again on every rank. What a
// callback communicates (its ghost exchange) must therefore be done by
// every rank before its local work, which is what may fail. A TS on
// PETSC_COMM_SELF (a sampler's) may return the error at once.
//
// Checkpoints: the state Vec, the TS time and step number and the interval
// in progress are saved; the default schemes (ARKIMEX) are one-step methods
// that carry nothing else from one step to the next, so a restored solver
// continues bit-identically at the same rank count. A multistep scheme
// chosen with -ts_type (bdf) restarts its history on resume and then agrees
// to its local error only.
#include <petscts.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <string>

#include "twinflow/core/petsc_error.hpp"
#include "twinflow/models/experiment.hpp"

namespace twinflow {

/// The first exception raised inside the PETSc callbacks of one TS, kept to
/// be raised again after TSSolve. Not collective.
class CallbackFailures {
 public:
  /// Runs body; an exception is kept. Returns 0 (`stop` false: keep going)
  /// or PETSC_ERR_USER (`stop` true: make PETSc return now).
  template <class F>
  PetscErrorCode guarded(F&& body, bool stop = false) noexcept {
    try {
      body();
      return 0;
    } catch (...) {
      if (!kept_) kept_ = std::current_exception();
      return stop ? PETSC_ERR_USER : 0;
    }
  }
  /// The kept exception (null when none), cleared.
  std::exception_ptr take() { return std::exchange(kept_, nullptr); }

 private:
  std::exception_ptr kept_;
};

class TsEvolution : public DensitySolver {
 public:
  ~TsEvolution() override;
  TsEvolution(const TsEvolution&) = delete;
  TsEvolution& operator=(const TsEvolution&) = delete;

  bool advance_through(const std::vector<double>& stops, std::size_t& next, const StopHook& at_stop,
                       const StepHook& boundary) override;
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
  /// Takes ownership of `state`. Creates the TS (on `dm`, whose solver may
  /// set state_ later; or with no DM for a plain Vec: dm null and the state
  /// given here) with fixed steps (no adaptivity) and the monitor;
  /// the caller chooses the scheme.
  TsEvolution(DM dm, Vec state, double dt, double cell_volume);
  /// Applies -ts_* options, or -<prefix>ts_* when `options_prefix` is not
  /// empty (a bad one is a UsageError), sets the TS up and records the
  /// initial mass.
  void finish_setup(const std::string& options_prefix = {});
  /// Runs a callback body of this (collective) TS: an exception is kept
  /// and 0 returned, see above.
  template <class F>
  PetscErrorCode guarded(F&& body) noexcept {
    return failures_.guarded(std::forward<F>(body), false);
  }
  /// Where this TS's callbacks keep their failures (for terms that set
  /// callbacks of their own on it).
  CallbackFailures& callback_failures() { return failures_; }
  /// Collective. The longest stable step from the current state (the same
  /// on every rank and a function of the state alone, so that a restored
  /// solver plans the same steps); infinite when only the nominal step
  /// limits it.
  virtual double stable_step() { return std::numeric_limits<double>::infinity(); }

  TS ts_ = nullptr;
  Vec state_ = nullptr;

 private:
  static PetscErrorCode monitor(TS ts, PetscInt step, PetscReal t, Vec u, void* ctx);
  static PetscErrorCode post_step(TS ts);
  // After a step: stop handling and the step boundary.
  void after_step();
  // From the current time: reaches the stops that need no step, then plans
  // the interval to the next stop. False when every stop is reached.
  bool plan_next();
  // Plans the rest of the interval to `target` from the current time in
  // equal steps no longer than the nominal and the stable step.
  void plan_interval(double target, double stable);
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool has_dm_;
  double dt_, cell_volume_, time_ = 0, mass0_ = 0, max_drift_ = 0;
  std::int64_t steps_ = 0;
  // The interval in progress: its end, its equal step, and the TS step
  // number at which it ends.
  double interval_target_ = -1, interval_step_ = 0;
  std::int64_t interval_last_step_ = 0;
  // The solve in progress (advance_through's arguments).
  const std::vector<double>* stops_ = nullptr;
  std::size_t* next_ = nullptr;
  const StopHook* at_stop_ = nullptr;
  const StepHook* boundary_ = nullptr;
  bool stopped_ = false;  ///< the boundary asked the solve in progress to stop
  CallbackFailures failures_;
};

/// Collective. Saves or restores a TS's time and step number.
void checkpoint_ts_clock(CheckpointArchive& archive, TS ts);

}  // namespace twinflow
