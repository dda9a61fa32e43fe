#pragma once
// The generic stages that families assemble their runs from:
//   PdeStage      a DensitySolver integrated through a list of stop times
//                 (one PETSc solve; every time step a step boundary);
//   SamplerStage  a ParticleSampler advanced to its outputs: a stepping
//                 sampler step by step (every step a step boundary), a
//                 jumping one exactly from output to output (every output a
//                 step boundary), with histograms on a cell space written
//                 as an output series and handed to the twins;
//   TrainerStage  a Trainable optimised iteration by iteration (every
//                 iteration a step boundary), its loss in the progress lines.
// All member functions are collective.
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "twinflow/models/experiment.hpp"

namespace twinflow {

class PdeStage : public Stage {
 public:
  struct Hooks {
    /// Creates the stage's output series.
    std::function<void(OutputFile& out)> prepare_output;
    /// Called on every rank at stop i (time t) with the solution there.
    std::function<void(std::size_t i, double t, const DensitySolver& pde, StageContext& ctx)> at_stop;
    /// Called once after the last stop.
    std::function<void(const DensitySolver& pde, StageContext& ctx)> finish;
    /// Saves and restores what at_stop accumulates (none when empty).
    std::function<void(CheckpointArchive& archive)> state;
  };
  PdeStage(std::unique_ptr<DensitySolver> pde, std::vector<double> stops, Hooks hooks);
  double clock_end() const override { return stops_.back(); }
  double clock_now() const override { return pde_->time(); }
  void prepare_output(OutputFile& out) override { hooks_.prepare_output(out); }
  bool run(StageContext& ctx) override;
  void checkpoint(CheckpointArchive& archive) override;
  void finish(StageContext& ctx) override { hooks_.finish(*pde_, ctx); }

 private:
  std::unique_ptr<DensitySolver> pde_;
  std::vector<double> stops_;
  std::size_t next_ = 0;
  Hooks hooks_;
};

class SamplerStage : public Stage {
 public:
  struct Plan {
    std::string clock = "t";
    std::vector<double> clocks;       ///< the clock value of each output
    /// A stepping sampler: the step count of each output, and the clock
    /// advance of one step. Empty: the sampler jumps between outputs.
    std::vector<std::int64_t> steps;
    double step_clock = 0;
    std::int64_t units = 0;           ///< units in all (particles.count)
    int dim = 1;                      ///< coordinates per point
    int points_per_unit = 1;          ///< points per unit
    int sites = 0;                    ///< > 0: units are configurations of this many bits
    const CellSpace* space = nullptr;  ///< histograms are made on it (null: none)
    std::string histogram_series;     ///< written as this output series ("": not written)
    std::string axis = "/time";       ///< the output dataset of `clocks` (the series' attribute axis)
  };
  /// Builds the sampler on this rank's units (at begin()).
  using Factory = std::function<std::unique_ptr<ParticleSampler>(Ensemble units)>;
  /// Sees the sampler (and the histogram, when one is made) at output j.
  using Observer = std::function<void(std::size_t j, double clock, const ParticleSampler& sampler,
                                      const std::vector<double>* histogram)>;
  SamplerStage(MPI_Comm comm, Factory make, Plan plan, Observer observer = {});
  std::string clock() const override { return plan_.clock; }
  double clock_begin() const override { return stepping() ? 0.0 : plan_.clocks.front(); }
  double clock_end() const override { return plan_.clocks.back(); }
  double clock_now() const override;
  void prepare_output(OutputFile& out) override;
  void begin(StageContext& ctx) override;
  bool run(StageContext& ctx) override;
  void checkpoint(CheckpointArchive& archive) override;

 private:
  bool stepping() const { return !plan_.steps.empty(); }
  void output(std::size_t j, StageContext& ctx);
  MPI_Comm comm_;
  Factory make_;
  Plan plan_;
  Observer observer_;
  std::unique_ptr<ParticleSampler> sampler_;
  std::size_t next_ = 0;     ///< the next output
  std::int64_t done_ = 0;    ///< steps taken (stepping samplers)
};

/// What a TrainerStage optimises, one deterministic iteration at a time.
/// Its state (parameters, optimiser state, the record of losses) outlives
/// the stage, because the stages after it use the result: the family saves
/// and restores it with its own state (Experiment::checkpoint), which a
/// restart restores before the stage resumes.
class Trainable {
 public:
  virtual ~Trainable() = default;
  virtual std::int64_t iterations() const = 0;
  /// The iterations taken so far.
  virtual std::int64_t iterations_done() const = 0;
  /// Collective. Allocates what the iterations work on; called before every
  /// run of the stage, resumed or not. (Bad input is found when the run is
  /// set up, before it writes anything.)
  virtual void begin_training() {}
  /// Collective. One iteration; returns its loss, the same on every rank.
  virtual double train_iteration() = 0;
  /// Collective. After the last iteration.
  virtual void finish_training() {}
};

class TrainerStage : public Stage {
 public:
  explicit TrainerStage(std::shared_ptr<Trainable> trainee) : trainee_(std::move(trainee)) {}
  std::string clock() const override { return "iteration"; }
  double clock_end() const override { return static_cast<double>(trainee_->iterations()); }
  double clock_now() const override { return static_cast<double>(trainee_->iterations_done()); }
  std::string progress_detail() const override;
  void begin(StageContext&) override { trainee_->begin_training(); }
  bool run(StageContext& ctx) override;
  /// Nothing of its own: the trainee's state is the family's (see Trainable).
  void checkpoint(CheckpointArchive&) override {}
  void finish(StageContext&) override { trainee_->finish_training(); }

 private:
  std::shared_ptr<Trainable> trainee_;
  double last_loss_ = std::numeric_limits<double>::quiet_NaN();  ///< of this process's last iteration
};

}  // namespace twinflow
