#pragma once
// The generic stages that families assemble their runs from:
//   PdeStage      a DensitySolver integrated through a list of stop times
//                 (one PETSc solve; every time step a step boundary);
//   SamplerStage  a ParticleSampler advanced to its outputs: a stepping
//                 sampler step by step (every step a step boundary), a
//                 jumping one exactly from output to output (every output a
//                 step boundary), with histograms on a cell space written
//                 as an output series and handed to the twins.
// All member functions are collective.
#include <functional>
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

}  // namespace twinflow
