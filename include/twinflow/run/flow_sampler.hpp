#pragma once
// A generative flow of particles: dx/ds = −v(T − s, x) in reverse time s,
// from the points given at s = 0 (t = T) over [0, span] in N fixed steps of
// a PETSc explicit Runge–Kutta scheme (kac's Kac flow, free's reverse flow
// of eigenvalues). The velocity comes from a VelocityModel: a family's
// closed form, or a PDE field read from the field store (StoredField).
// Local computation, but for preparing a velocity taken from the field
// store, which is collective; a point's trajectory depends on its own
// values alone, so results do not depend on the rank count.
#include <petscts.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "twinflow/models/experiment.hpp"
#include "twinflow/pde/ts_evolution.hpp"
#include "twinflow/run/field_store.hpp"

namespace twinflow {

/// Source of the forward velocity v(t, x) whose reverse the flow follows.
class VelocityModel {
 public:
  virtual ~VelocityModel() = default;
  /// Collective. Called on every rank before a step evaluates v at `times`.
  virtual void prepare(const std::vector<double>& /*times*/) {}
  /// v(t, ·) at n points (point-major, dim entries each) into v. Not collective.
  virtual void evaluate(double t, const double* x, std::int64_t n, double* v) = 0;
  /// Called after each step of the flow from t_before to t < t_before, with
  /// the points before and after it: may move points onto features of the
  /// flow that a step cannot resolve. Does nothing by default.
  virtual void after_step(double /*t_before*/, const double* /*x_before*/, double /*t*/, double* /*x*/,
                          std::int64_t /*n*/) {}
};

/// A field of the store on the grid at the exact times a step asks for:
/// prepare() gathers them (collective); values are interpolated
/// multilinearly between cell centres (not collective).
class StoredField {
 public:
  StoredField(const FieldStore& store, const GridSpace& grid, std::string name, int components)
      : store_(store), grid_(grid), name_(std::move(name)), components_(components) {}
  void prepare(const std::vector<double>& times);
  /// Component `component` at time t (one of the prepared times, to
  /// round-off in T − s; RuntimeFailure otherwise) and point x.
  double at(double t, int component, const double* x) const;
  const GridSpace& grid() const { return grid_; }

 private:
  const FieldStore& store_;
  const GridSpace& grid_;
  std::string name_;
  int components_;
  std::map<double, std::vector<double>> fields_;  ///< the current step's
};

/// v read from the store as a field of dim components ("velocity").
class StoredVelocity : public VelocityModel {
 public:
  StoredVelocity(const FieldStore& store, const GridSpace& grid, const std::string& name)
      : field_(store, grid, name, grid.box().dim) {}
  void prepare(const std::vector<double>& times) override { field_.prepare(times); }
  void evaluate(double t, const double* x, std::int64_t n, double* v) override;

 private:
  StoredField field_;
};

/// The c_i of a PETSc TSRK scheme's tableau: where its stages sit in a step.
std::vector<double> stage_fractions(const std::string& rk_type);
/// The forward times t = T − (k + c_i) h of every stage of an N-step flow
/// over [0, span] (h = span / N), clamped at 0: where it reads v.
std::vector<double> flow_stage_times(double horizon, double span, std::int64_t steps, const std::string& rk_type);

class FlowSampler : public ParticleSampler {
 public:
  /// `start` holds the points at s = 0; steps of span / N.
  FlowSampler(Ensemble start, double horizon, double span, std::int64_t steps, const std::string& rk_type,
              std::shared_ptr<VelocityModel> velocity);
  ~FlowSampler() override;
  FlowSampler(const FlowSampler&) = delete;
  FlowSampler& operator=(const FlowSampler&) = delete;
  void advance_to(std::int64_t step, double s) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;

 private:
  static PetscErrorCode rhs(TS ts, PetscReal s, Vec x, Vec f, void* ctx);
  static PetscErrorCode pre_step(TS ts);
  static PetscErrorCode post_step(TS ts);
  double step_length() const { return span_ / static_cast<double>(steps_); }
  Ensemble ens_;
  std::vector<double> before_;  ///< positions at the start of the current step
  double s_before_ = 0;
  double horizon_, span_;
  std::int64_t steps_;
  std::vector<double> stages_;  ///< where the scheme's stages sit in a step
  std::shared_ptr<VelocityModel> velocity_;
  TS ts_ = nullptr;
  Vec x_ = nullptr;
  CallbackFailures failures_;
};

}  // namespace twinflow
