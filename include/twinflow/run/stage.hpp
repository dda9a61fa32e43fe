#pragma once
// A run is an ordered list of named stages that the family declares; the
// driver runs the list. A stage is one resumable loop with its own output
// points: a PDE solve, a forward or reverse sampler, a trainer, a closing
// computation. The driver gives every stage the same services through a
// StageContext: step boundaries (where signals, checkpoint.walltime and
// checkpoint.every act and checkpoints are written), the twins of its
// samples, the output file, the field store, progress, and its row in the
// timing table (and PETSc log event tf_<name>).
//
// Between two calls into the context a stage does local work, or collective
// PETSc work whose callbacks keep their failures (pde/ts_evolution.hpp), so
// that a failure on one rank reaches the others at the next collective
// point (core/collective.hpp).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "twinflow/run/ensemble.hpp"
#include "twinflow/run/field_store.hpp"
#include "twinflow/run/state_space.hpp"

namespace twinflow {

class CheckpointArchive;
class Config;
class OutputFile;
class PhaseTimer;
class Progress;

/// What the driver gives a running stage. Collective unless noted.
class StageContext {
 public:
  virtual ~StageContext() = default;
  /// A step boundary at the stage's clock value: prints progress, and when
  /// a checkpoint is due writes it (calling the stage's checkpoint()).
  /// Returns true when the stage must return from run() now, in a state from
  /// which a restored stage continues.
  virtual bool boundary(double clock) = 0;
  /// The stage's samples at its output j (clock value `clock`): the driver
  /// computes this stage's twins there. `histogram` is their density on
  /// `space` when the stage made one (both null otherwise).
  virtual void samples(std::size_t j, double clock, const Ensemble& e, const CellSpace* space,
                       const std::vector<double>* histogram) = 0;
  virtual OutputFile& out() = 0;
  virtual FieldStore& store() = 0;
  virtual PhaseTimer& timer() = 0;
  /// Not collective.
  virtual Progress& progress() = 0;
};

class Stage {
 public:
  virtual ~Stage() = default;
  /// The name of the stage's clock in progress lines and failure messages
  /// ("t", "s", "step", "iteration") and its range.
  virtual std::string clock() const { return "t"; }
  virtual double clock_begin() const { return 0.0; }
  virtual double clock_end() const = 0;
  /// The clock value reached so far (after a restore: where it resumes).
  virtual double clock_now() const = 0;
  /// Not collective. What a progress line shows beside the clock (a
  /// trainer's loss), or "".
  virtual std::string progress_detail() const { return {}; }
  /// Collective. Creates the stage's output series in a fresh run's output,
  /// before any stage runs (so that a file interrupted at any point holds
  /// every series, its unwritten entries NaN).
  virtual void prepare_output(OutputFile& /*out*/) {}
  /// Collective. Allocates what the stage works on. Called once before
  /// run(), also before a resumed stage's state is restored.
  virtual void begin(StageContext& /*ctx*/) {}
  /// Collective. Runs the loop from where the stage is. Returns true when
  /// it is complete, false when ctx.boundary() asked it to stop (a
  /// checkpoint has been written).
  virtual bool run(StageContext& ctx) = 0;
  /// Collective. Saves or restores everything run() needs to continue.
  virtual void checkpoint(CheckpointArchive& archive) = 0;
  /// Collective. Called once after run() completed: the stage's last writes.
  virtual void finish(StageContext& /*ctx*/) {}
};

/// What a family sees of a run while it sets up its stages.
struct RunSetup {
  const Config& config;
  MPI_Comm comm;
  std::vector<const StateSpace*> spaces;
  FieldStore& store;
  Progress& progress;

  /// The space of that name; throws std::logic_error when the run has none.
  const StateSpace& space(const std::string& name) const;
  template <class S>
  const S& space_as(const std::string& name) const {
    return dynamic_cast<const S&>(space(name));
  }
  bool has_space(const std::string& name) const;
};

}  // namespace twinflow
