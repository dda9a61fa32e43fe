#pragma once
// The interface that joins a model family to the driver. An experiment reads
// its config section and owns the PDE side (a DensitySolver on the grid) and
// the particle side (ParticleSamplers). The driver advances both to the
// shared output times, histograms the particles on the grid and writes both
// plus the metrics. A new family is one folder under src/models and one line
// in the registry (src/app/registry.cpp).
#include <petscvec.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "twinflow/grid/grid.hpp"

namespace twinflow {

class CheckpointArchive;
class Config;
class OptionSet;
class OutputFile;
class Progress;

/// PDE side. All member functions are collective over the grid's communicator.
class DensitySolver {
 public:
  virtual ~DensitySolver() = default;
  /// Called on every rank after every time step with the time reached;
  /// returning true stops the integration at that step boundary (to write a
  /// checkpoint).
  using StepHook = std::function<bool(double t)>;
  /// Integrates from time() towards t (t >= time()). Returns true when t is
  /// reached, false when `stop` asked to stop first; calling again continues
  /// the same interval with the same steps.
  virtual bool advance_to(double t, const StepHook& stop = nullptr) = 0;
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

/// This rank's particles: global ids [first_id, first_id + count) of `total`,
/// positions point-major (count × dim). Ownership is a contiguous id range
/// per rank, so a rank may own none.
struct Ensemble {
  int dim = 1;
  std::int64_t first_id = 0, count = 0, total = 0;
  std::vector<double> x;

  /// Even split of `total` ids over the ranks of comm (not collective).
  static Ensemble partition(MPI_Comm comm, std::int64_t total, int dim);
};

/// Particle side. advance_to is local computation (no communication); the
/// result for a given particle id does not depend on the rank count.
class ParticleSampler {
 public:
  virtual ~ParticleSampler() = default;
  /// Advances to output `index`; forward samplers at time t, reverse
  /// samplers at reverse step `step` (see Experiment::reverse_steps).
  virtual void advance_to(std::int64_t step, double t) = 0;
  virtual const Ensemble& ensemble() const = 0;
  /// Collective. Saves or restores the particles' state (in global-id order,
  /// so a sampler built on any partition restores its own ids).
  virtual void checkpoint(CheckpointArchive& archive) = 0;
};

class Experiment {
 public:
  virtual ~Experiment() = default;
  virtual int dim() const = 0;
  /// Collective. Builds the PDE side on the grid at t = 0; progress may be null.
  virtual std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid, Progress* progress) = 0;
  /// Forward particles at t = 0 (local).
  virtual std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble ensemble) = 0;
  /// Number of steps of the generative (reverse) sampler over [0, T], or 0
  /// when the family has none.
  virtual std::int64_t reverse_steps() const = 0;
  /// Generative sampler at reverse step 0; called after the PDE has run to T.
  virtual std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble ensemble) = 0;
  /// Extra times at which the PDE must stop and be shown to observe_pde().
  virtual std::vector<double> pde_observation_times() const { return {}; }
  /// Collective. Sees the PDE at each of pde_observation_times().
  virtual void observe_pde(double /*t*/, const Grid& /*grid*/, const DensitySolver& /*pde*/) {}
  /// Collective. Sees the PDE density (owned block) at forward snapshot j.
  virtual void observe_snapshot(std::size_t /*j*/, double /*t*/, const Grid& /*grid*/,
                                const std::vector<double>& /*density*/) {}
  /// Collective. Sees the particles and their histogram (owned block) at
  /// forward snapshot j (time t) or reverse output j (reverse time t).
  virtual void observe_particles(std::size_t /*j*/, double /*t*/, bool /*reverse*/, const Grid& /*grid*/,
                                 const std::vector<double>& /*histogram*/, const ParticleSampler& /*sampler*/) {}
  /// Collective. Runs after both sides: writes the family's own comparisons
  /// (under /compare/<family>/) and returns lines for the printed table.
  virtual std::string finish(OutputFile& /*out*/, const Grid& /*grid*/, Progress& /*progress*/) { return {}; }
  /// Collective. Saves or restores what the observe_* calls accumulated.
  virtual void checkpoint(CheckpointArchive& /*archive*/) {}
  /// True when the family computes the `sampler_law` report (the exact law
  /// of its generative sampler on the grid).
  virtual bool has_sampler_law() const { return false; }
  /// The closed-form density at time t as cell averages on this rank's owned
  /// block; false when the family has none for this configuration.
  virtual bool exact_density(double /*t*/, const Grid& /*grid*/, std::vector<double>& /*owned*/) const {
    return false;
  }
};

/// A family: its keys and how to build it from a resolved config.
struct Family {
  std::string name, summary;
  std::function<void(OptionSet&)> declare_options;
  /// Validates the family's keys (throws UsageError) and builds it.
  std::function<std::unique_ptr<Experiment>(const Config&, MPI_Comm)> make;
};

}  // namespace twinflow
