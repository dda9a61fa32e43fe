#include "twinflow/run/flow_sampler.hpp"

#include <algorithm>
#include <cmath>

#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"

namespace twinflow {

void StoredField::prepare(const std::vector<double>& times) {
  fields_.clear();
  for (double t : times) store_.gather(name_, t, fields_[t]);
}

double StoredField::at(double t, int component, const double* x) const {
  // The PDE stopped at every time the flow uses: look it up exactly (up to
  // round-off in T − s).
  const double tol = 1e-9 * (1 + std::abs(t));  // t is T − s from PETSc's accumulated time
  auto it = fields_.lower_bound(t - tol);
  if (it == fields_.end() || std::abs(it->first - t) > tol)
    throw RuntimeFailure("no PDE field '" + name_ + "' prepared at t = " + std::to_string(t));
  return interpolate_cells(grid_.box(), it->second.data(), components_, component, x);
}

void StoredVelocity::evaluate(double t, const double* x, std::int64_t n, double* v) {
  const int d = field_.grid().box().dim;
  for (std::int64_t p = 0; p < n; ++p)
    for (int i = 0; i < d; ++i) v[p * d + i] = field_.at(t, i, x + p * d);
}

std::vector<double> stage_fractions(const std::string& rk_type) {
  TS ts = nullptr;
  TF_CHECK_PETSC(TSCreate(PETSC_COMM_SELF, &ts));
  std::vector<double> out;
  try {
    TF_CHECK_PETSC(TSSetType(ts, TSRK));
    TF_CHECK_PETSC(TSRKSetType(ts, rk_type.c_str()));
    PetscInt stages = 0;
    const PetscReal* c = nullptr;
    TF_CHECK_PETSC(TSRKGetTableau(ts, &stages, nullptr, nullptr, &c, nullptr, nullptr, nullptr, nullptr));
    out.assign(c, c + stages);
  } catch (...) {
    TSDestroy(&ts);
    throw;
  }
  TSDestroy(&ts);
  return out;
}

std::vector<double> flow_stage_times(double horizon, double span, std::int64_t steps, const std::string& rk_type) {
  const double h = span / static_cast<double>(steps);
  const std::vector<double> stages = stage_fractions(rk_type);
  std::vector<double> times;
  for (std::int64_t k = 0; k < steps; ++k)
    for (double ci : stages)
      times.push_back(std::max(horizon - (static_cast<double>(k) + ci) * h, 0.0));
  return times;
}

FlowSampler::FlowSampler(Ensemble start, double horizon, double span, std::int64_t steps, const std::string& rk_type,
                         std::shared_ptr<VelocityModel> velocity)
    : ens_(std::move(start)),
      horizon_(horizon),
      span_(span),
      steps_(steps),
      stages_(stage_fractions(rk_type)),
      velocity_(std::move(velocity)) {
  // The TS integrates the ensemble's own array in place.
  TF_CHECK_PETSC(VecCreateSeqWithArray(PETSC_COMM_SELF, 1, static_cast<PetscInt>(ens_.x.size()), ens_.x.data(), &x_));
  TF_CHECK_PETSC(TSCreate(PETSC_COMM_SELF, &ts_));
  TF_CHECK_PETSC(TSSetType(ts_, TSRK));
  TF_CHECK_PETSC(TSRKSetType(ts_, rk_type.c_str()));
  TF_CHECK_PETSC(TSSetRHSFunction(ts_, nullptr, &FlowSampler::rhs, this));
  TF_CHECK_PETSC(TSSetApplicationContext(ts_, this));
  TF_CHECK_PETSC(TSSetPreStep(ts_, &FlowSampler::pre_step));
  TF_CHECK_PETSC(TSSetPostStep(ts_, &FlowSampler::post_step));
  TSAdapt adapt = nullptr;
  TF_CHECK_PETSC(TSGetAdapt(ts_, &adapt));
  TF_CHECK_PETSC(TSAdaptSetType(adapt, TSADAPTNONE));
  TF_CHECK_PETSC(TSSetTime(ts_, 0.0));
  TF_CHECK_PETSC(TSSetTimeStep(ts_, step_length()));
  TF_CHECK_PETSC(TSSetExactFinalTime(ts_, TS_EXACTFINALTIME_STEPOVER));
}

FlowSampler::~FlowSampler() {
  TSDestroy(&ts_);
  VecDestroy(&x_);
}

PetscErrorCode FlowSampler::rhs(TS, PetscReal s, Vec x, Vec f, void* ctx) {
  auto* self = static_cast<FlowSampler*>(ctx);
  return self->failures_.guarded(
      [&] {
        const PetscScalar* xa = nullptr;
        PetscScalar* fa = nullptr;
        PetscInt n = 0;
        TF_CHECK_PETSC(VecGetLocalSize(x, &n));
        TF_CHECK_PETSC(VecGetArrayRead(x, &xa));
        TF_CHECK_PETSC(VecGetArray(f, &fa));
        const double t = std::max(self->horizon_ - s, 0.0);
        self->velocity_->evaluate(t, xa, n / self->ens_.dim, fa);
        for (PetscInt i = 0; i < n; ++i) fa[i] = -fa[i];
        TF_CHECK_PETSC(VecRestoreArray(f, &fa));
        TF_CHECK_PETSC(VecRestoreArrayRead(x, &xa));
      },
      true);
}

PetscErrorCode FlowSampler::pre_step(TS ts) {
  FlowSampler* self = nullptr;
  PetscFunctionBeginUser;
  PetscCall(TSGetApplicationContext(ts, &self));
  PetscCall(TSGetTime(ts, &self->s_before_));
  PetscCall(self->failures_.guarded([&] { self->before_ = self->ens_.x; }, true));
  PetscFunctionReturn(0);
}

PetscErrorCode FlowSampler::post_step(TS ts) {
  FlowSampler* self = nullptr;
  PetscReal s = 0;
  PetscFunctionBeginUser;
  PetscCall(TSGetApplicationContext(ts, &self));
  PetscCall(TSGetTime(ts, &s));
  const double t_before = std::max(self->horizon_ - self->s_before_, 0.0), t = std::max(self->horizon_ - s, 0.0);
  PetscCall(self->failures_.guarded(
      [&] { self->velocity_->after_step(t_before, self->before_.data(), t, self->ens_.x.data(), self->ens_.points()); },
      true));
  // after_step may move points, so a first-same-as-last scheme (dp5) must
  // not reuse the last stage's slope; restarting also makes every step
  // boundary a point a checkpoint resumes from bit-identically.
  PetscCall(TSRestartStep(ts));
  PetscFunctionReturn(0);
}

void FlowSampler::checkpoint(CheckpointArchive& a) {
  a.particles("x", ens_, ens_.x, ens_.dim * ens_.points_per_unit);
  checkpoint_ts_clock(a, ts_);
}

void FlowSampler::advance_to(std::int64_t step, double) {
  PetscInt done = 0;
  TF_CHECK_PETSC(TSGetStepNumber(ts_, &done));
  // One TSSolve per step (fixed steps of T/N, stopped by the step count, as
  // the PDE side does), after the velocity is prepared for its stages.
  const double h = step_length();
  for (std::int64_t k = done; k < step; ++k) {
    std::vector<double> times;
    for (double c : stages_) times.push_back(std::max(horizon_ - (static_cast<double>(k) + c) * h, 0.0));
    velocity_->prepare(times);
    TF_CHECK_PETSC(TSSetMaxSteps(ts_, static_cast<PetscInt>(k + 1)));
    TF_CHECK_PETSC(TSSetMaxTime(ts_, (static_cast<double>(k + 1) + 0.5) * h));
    const PetscErrorCode ierr = TSSolve(ts_, x_);
    if (auto kept = failures_.take()) std::rethrow_exception(kept);
    petsc_check(ierr, "TSSolve (particle flow)");
  }
}

}  // namespace twinflow
