#include "twinflow/pde/ts_evolution.hpp"

#include <cmath>
#include <limits>
#include <utility>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"

namespace twinflow {

bool DensitySolver::advance_to(double t) {
  std::size_t next = 0;
  return advance_through({t}, next, [](std::size_t) {}, [](double) { return false; });
}

TsEvolution::TsEvolution(DM dm, Vec state, double dt, double cell_volume)
    : state_(state), has_dm_(dm != nullptr), dt_(dt), cell_volume_(cell_volume) {
  // A solver on a DM may create its state after this; one without a DM
  // gives its state here.
  TF_CHECK_PETSC(PetscObjectGetComm(dm ? reinterpret_cast<PetscObject>(dm) : reinterpret_cast<PetscObject>(state), &comm_));
  TF_CHECK_PETSC(TSCreate(comm_, &ts_));
  if (dm)
    TF_CHECK_PETSC(TSSetDM(ts_, dm));
  else
    TF_CHECK_PETSC(TSSetSolution(ts_, state_));
  TSAdapt adapt = nullptr;
  TF_CHECK_PETSC(TSGetAdapt(ts_, &adapt));
  TF_CHECK_PETSC(TSAdaptSetType(adapt, TSADAPTNONE));
  TF_CHECK_PETSC(TSSetTime(ts_, 0.0));
  TF_CHECK_PETSC(TSSetTimeStep(ts_, dt_));
  TF_CHECK_PETSC(TSSetExactFinalTime(ts_, TS_EXACTFINALTIME_STEPOVER));
  TF_CHECK_PETSC(TSMonitorSet(ts_, &TsEvolution::monitor, this, nullptr));
  TF_CHECK_PETSC(TSSetApplicationContext(ts_, this));
  TF_CHECK_PETSC(TSSetPostStep(ts_, &TsEvolution::post_step));
}

void TsEvolution::finish_setup(const std::string& options_prefix) {
  if (!options_prefix.empty()) TF_CHECK_PETSC(TSSetOptionsPrefix(ts_, options_prefix.c_str()));
  const std::string& p = options_prefix;
  const std::string what = "TSSetFromOptions (-" + p + "ts_*, -" + p + "snes_*, -" + p + "ksp_*, -" + p + "pc_*)";
  petsc_check_options(TSSetFromOptions(ts_), what.c_str());
  petsc_check_options(TSSetUp(ts_), "TSSetUp");
  mass0_ = mass();
}

TsEvolution::~TsEvolution() {
  TSDestroy(&ts_);
  VecDestroy(&state_);
}

double TsEvolution::mass() const {
  PetscScalar s = 0;
  collective_point(comm_);
  TF_CHECK_PETSC(VecSum(state_, &s));
  return s * cell_volume_;
}

PetscErrorCode TsEvolution::monitor(TS, PetscInt, PetscReal, Vec u, void* ctx) {
  auto* self = static_cast<TsEvolution*>(ctx);
  return self->guarded([&] {
    PetscScalar s = 0;
    TF_CHECK_PETSC(VecSum(u, &s));
    const double m = s * self->cell_volume_;
    if (self->mass0_ != 0)
      self->max_drift_ = std::max(self->max_drift_, std::abs(m - self->mass0_) / std::abs(self->mass0_));
  });
}

void TsEvolution::plan_interval(double target, double stable) {
  // Equal steps across the interval, counted rather than matched by time:
  // matching leaves a round-off sliver step (~1e-17) that ruins
  // variable-step multistep schemes.
  const double dt = std::min(dt_, stable);
  const auto n = static_cast<PetscInt>(std::max(std::ceil((target - time_) / dt - 1e-9), 1.0));
  PetscInt step = 0;
  TF_CHECK_PETSC(TSGetStepNumber(ts_, &step));
  interval_target_ = target;
  interval_step_ = (target - time_) / static_cast<double>(n);
  interval_last_step_ = step + n;
  TF_CHECK_PETSC(TSSetTimeStep(ts_, interval_step_));
}

bool TsEvolution::plan_next() {
  while (*next_ < stops_->size()) {
    const double target = (*stops_)[*next_];
    // A stop within round-off of the current time (T − s computed two
    // ways) takes no step.
    if (target > time_ && std::ceil((target - time_) / dt_ - 1e-9) > 0) {
      plan_interval(target, stable_step());
      return true;
    }
    if (target > time_) {
      TF_CHECK_PETSC(TSSetTime(ts_, target));
      time_ = target;
    }
    (*at_stop_)((*next_)++);
  }
  return false;
}

void TsEvolution::after_step() {
  // Callbacks of the step just taken may have kept a failure on some rank.
  agree(comm_, failures_.take());
  ++steps_;
  PetscInt step = 0;
  TF_CHECK_PETSC(TSGetStepNumber(ts_, &step));
  if (step >= interval_last_step_) {
    TF_CHECK_PETSC(TSSetTime(ts_, interval_target_));
    time_ = interval_target_;
    (*at_stop_)((*next_)++);
    if (!plan_next()) TF_CHECK_PETSC(TSSetConvergedReason(ts_, TS_CONVERGED_USER));
  } else {
    PetscReal t = 0;
    TF_CHECK_PETSC(TSGetTime(ts_, &t));
    time_ = t;
    if (const double stable = stable_step(); std::isfinite(stable)) plan_interval(interval_target_, stable);
  }
  if ((*boundary_)(time_)) {
    stopped_ = true;
    TF_CHECK_PETSC(TSSetConvergedReason(ts_, TS_CONVERGED_USER));
  }
  // A failure of this rank's stop or boundary code is agreed here at the
  // latest, before the next step's collectives.
  collective_point(comm_);
}

PetscErrorCode TsEvolution::post_step(TS ts) {
  TsEvolution* self = nullptr;
  PetscFunctionBeginUser;
  PetscCall(TSGetApplicationContext(ts, &self));
  // A failure here returns an error at once: the stop and boundary code
  // agrees with the other ranks before anything collective.
  PetscCall(self->failures_.guarded([&] { self->after_step(); }, true));
  PetscFunctionReturn(0);
}

void checkpoint_ts_clock(CheckpointArchive& a, TS ts) {
  PetscReal t = 0;
  PetscInt step = 0;
  TF_CHECK_PETSC(TSGetTime(ts, &t));
  TF_CHECK_PETSC(TSGetStepNumber(ts, &step));
  double time = t;
  std::int64_t steps = step;
  a.value("ts_time", time);
  a.value("ts_step", steps);
  if (a.saving()) return;
  TF_CHECK_PETSC(TSSetTime(ts, time));
  TF_CHECK_PETSC(TSSetStepNumber(ts, static_cast<PetscInt>(steps)));
}

bool TsEvolution::advance_through(const std::vector<double>& stops, std::size_t& next, const StopHook& at_stop,
                                  const StepHook& boundary) {
  stops_ = &stops;
  next_ = &next;
  at_stop_ = &at_stop;
  boundary_ = &boundary;
  struct Clear {
    TsEvolution* self;
    ~Clear() { self->stops_ = nullptr, self->next_ = nullptr, self->at_stop_ = nullptr, self->boundary_ = nullptr; }
  } clear{this};
  // An interval in progress (of a restored solver) continues with its
  // steps; otherwise the stops that need no step are reached and the next
  // interval planned.
  const bool in_progress = next < stops.size() && stops[next] == interval_target_ && time_ < interval_target_;
  if (!in_progress && !plan_next()) return true;
  TF_CHECK_PETSC(TSSetTimeStep(ts_, interval_step_));
  // The solve ends at the last stop (after_step says so); the limits only
  // keep PETSc from stopping sooner.
  TF_CHECK_PETSC(TSSetMaxSteps(ts_, std::numeric_limits<PetscInt>::max() - 1));
  TF_CHECK_PETSC(TSSetMaxTime(ts_, stops.back() + 0.5 * dt_));
  TF_CHECK_PETSC(TSSetConvergedReason(ts_, TS_CONVERGED_ITERATING));
  stopped_ = false;
  collective_point(comm_);
  const PetscErrorCode ierr = TSSolve(ts_, state_);
  // A kept failure (its own or agreed with the others) explains a PETSc
  // error or a diverged step better than PETSc's message does.
  agree(comm_, failures_.take());
  petsc_check(ierr, "TSSolve");
  TSConvergedReason reason;
  TF_CHECK_PETSC(TSGetConvergedReason(ts_, &reason));
  if (reason < 0)
    throw RuntimeFailure("PETSc TS diverged (reason " + std::to_string(reason) + ") at t = " + std::to_string(time_));
  // A stop asked for at the last step still stops: the stage resumes (and
  // ends at once) from the checkpoint just written.
  return next >= stops.size() && !stopped_;
}

void TsEvolution::checkpoint(CheckpointArchive& a) {
  DM dm = nullptr;
  if (has_dm_) {
    TF_CHECK_PETSC(TSGetDM(ts_, &dm));
    a.grid_vector("state", dm, state_);
  } else {
    a.plain_vector("state", state_);
  }
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
