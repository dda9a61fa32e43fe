#pragma once
// The interface that joins a model family to the driver. A family reads its
// config section and declares its run: the state spaces, the ordered
// stages, and the twins (run/stage.hpp, run/twin.hpp). The driver runs the
// stages, computes the twins and writes everything. A new family is one
// folder under src/models and one line in src/app/families.def.
//
// Families built on a PDE density and particles share two kinds of
// dynamics that the generic stages drive (run/stages.hpp):
//   DensitySolver   the PDE side, integrated through a list of stop times;
//   ParticleSampler particles (units) advanced to output points.
#include <petscvec.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "twinflow/grid/grid.hpp"
#include "twinflow/run/ensemble.hpp"
#include "twinflow/run/stage.hpp"
#include "twinflow/run/twin.hpp"

namespace twinflow {

class CheckpointArchive;
class Config;
class OptionSet;
class OutputFile;

/// PDE side. All member functions are collective over the grid's communicator.
class DensitySolver {
 public:
  virtual ~DensitySolver() = default;
  /// Called on every rank after every time step with the time reached;
  /// returning true stops the integration at that step boundary.
  using StepHook = std::function<bool(double t)>;
  /// Called on every rank when stop `i` of the list is reached (the time is
  /// then exactly stops[i] and density() is the solution there).
  using StopHook = std::function<void(std::size_t i)>;
  /// Integrates through the ascending `stops` from stop `next` on, in equal
  /// steps no longer than the nominal step between consecutive stops, in one
  /// PETSc solve: at each stop advances `next` and calls at_stop with the
  /// stop's index, and calls `boundary` after every step. Returns true when
  /// the last stop is reached and `boundary` did not ask to stop, false when
  /// it did (also at the last step); calling again with the same list
  /// continues with the same steps.
  virtual bool advance_through(const std::vector<double>& stops, std::size_t& next, const StopHook& at_stop,
                               const StepHook& boundary) = 0;
  /// Integrates to t (>= time()) with no hooks.
  bool advance_to(double t);
  /// Saves or restores all the state a continuation needs, so that a
  /// restored solver takes bit-identical steps at the same rank count.
  virtual void checkpoint(CheckpointArchive& archive) = 0;
  /// The density (dof 1 global Vec on the grid), valid until the next advance.
  virtual Vec density() const = 0;
  virtual double time() const = 0;
  /// Total time steps taken so far and the largest relative mass drift seen
  /// at any step.
  virtual std::int64_t steps() const = 0;
  virtual double max_mass_drift() const = 0;

  /// Fields written beside the density at every snapshot as /pde/<name>,
  /// with `components` values per cell (a trailing axis when more than one).
  struct Field {
    std::string name;
    int components = 1;
  };
  virtual std::vector<Field> extra_fields() const { return {}; }
  /// This rank's owned block of an extra field (C order, components fastest).
  virtual void extra_field(const std::string& /*name*/, std::vector<double>& /*owned*/) const {}
};

/// Particle side: this rank's units, advanced by local computation, except
/// where a score or velocity taken from the field store is prepared (which
/// is collective, so every rank calls advance_to, also one with no unit).
/// The result for a unit id does not depend on the rank count.
class ParticleSampler {
 public:
  virtual ~ParticleSampler() = default;
  /// Advances to output `index`; forward samplers to time t, stepping
  /// samplers to step `index` (t is then the reverse time reached).
  virtual void advance_to(std::int64_t index, double t) = 0;
  virtual const Ensemble& ensemble() const = 0;
  /// Collective. Saves or restores the units' state (in global-id order,
  /// so a sampler built on any partition restores its own ids).
  virtual void checkpoint(CheckpointArchive& archive) = 0;
};

class Experiment {
 public:
  virtual ~Experiment() = default;
  /// Collective. Work done once per run before its spaces and stages are
  /// set up, such as training a model the stages use. `restored`: a restart
  /// has just restored that work's result (checkpoint_prepared), which is
  /// then not done again.
  virtual void prepare(bool /*restored*/) {}
  /// Collective. Saves what prepare() computed, with every checkpoint, or
  /// restores it on a restart, before prepare(true).
  virtual void checkpoint_prepared(CheckpointArchive& /*archive*/) {}
  /// Collective. The state spaces of this run (a DMDA is built here, with
  /// the -da_* options applied).
  virtual std::vector<std::unique_ptr<StateSpace>> spaces(MPI_Comm comm) = 0;
  /// The stages of this run, in the order they run.
  virtual std::vector<std::string> stages() const = 0;
  /// Collective. Sets up stage `name` (solvers are created here, so bad
  /// PETSc options are found before any stage runs). Called for every
  /// stage, in order, before the first one runs.
  virtual std::unique_ptr<Stage> make_stage(const std::string& name, RunSetup& setup) = 0;
  /// The twins of this run (after every stage is set up).
  virtual std::vector<Twin> twins(RunSetup& setup) = 0;
  /// Collective. A fresh run's output was just created (provenance and the
  /// spaces' axes are in): the family's axes, such as the times of its
  /// outputs.
  virtual void prepare_output(OutputFile& /*out*/) {}
  /// Collective. Saves or restores what the family accumulates across stages.
  virtual void checkpoint(CheckpointArchive& /*archive*/) {}
  /// Collective. After the last stage: the family's own datasets and lines
  /// of the printed report (after the twin tables).
  virtual std::string report(OutputFile& /*out*/) { return {}; }
  /// Collective. After the output is complete under its final name: files
  /// written beside it (the XDMF sidecar of a grid run).
  virtual void write_sidecars(MPI_Comm /*comm*/, const std::string& /*output*/) const {}
};

/// A family: its keys and how to build it from a resolved config.
struct Family {
  std::string name, summary;
  std::function<void(OptionSet&)> declare_options;
  /// Validates the family's keys (throws UsageError) and builds it.
  std::function<std::unique_ptr<Experiment>(const Config&, MPI_Comm)> make;
  /// Whether the family computes the `sampler_law` report.
  bool has_sampler_law = false;
  /// Platform keys whose default differs for this family (key, value).
  std::vector<std::pair<std::string, std::string>> defaults = {};
};

}  // namespace twinflow
