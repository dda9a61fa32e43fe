#pragma once
// The run of a family whose PDE side is a density on the box grid and whose
// particle side runs forward and then generates (ou, kinetic, kac):
//
//   stages  pde      the density through the snapshot times t_j = jT/(n−1),
//                    the reverse outputs' T − s_j and the times the family
//                    publishes fields at (/pde/density, /reverse/pde_density,
//                    the field store);
//           forward  the forward particles, jumping from snapshot to snapshot;
//           reverse  the generative sampler, N steps of S/N over a span
//                    S (T, or T − t_min for a family whose reverse must stop
//                    short of t = 0) with outputs at the steps k_j nearest
//                    to jN/(n−1), s_j = k_j S/N;
//           with the family's own stages before (a trainer whose result
//           the samplers use) and after them.
//   twins   forward  forward particles vs the PDE density at t_j (or the
//                    closed form without the PDE), at /compare/<metric>;
//           reverse  generated particles vs the density at T − s_j, at
//                    /compare/reverse/<metric>.
//
// When the state has more than 3 dimensions there is no grid and no PDE:
// both twins compare samples with laws on the sample space.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "twinflow/grid/grid.hpp"
#include "twinflow/models/experiment.hpp"
#include "twinflow/run/stages.hpp"

namespace twinflow {

class DensityTwinExperiment : public Experiment {
 public:
  /// The PDE solver on the grid at t = 0 (collective; families and tests).
  virtual std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid) = 0;
  /// The closed-form density at time t as cell averages on this rank's
  /// block; false when the family has none for this configuration.
  virtual bool exact_density(double t, const Grid& grid, std::vector<double>& owned) const = 0;

  std::vector<std::unique_ptr<StateSpace>> spaces(MPI_Comm comm) override;
  std::vector<std::string> stages() const override;
  std::unique_ptr<Stage> make_stage(const std::string& name, RunSetup& setup) override;
  std::vector<Twin> twins(RunSetup& setup) override;
  void prepare_output(OutputFile& out) override;
  void write_sidecars(MPI_Comm comm, const std::string& output) const override;

  /// The state dimension (the grid's when there is one).
  int dim() const { return dim_; }
  bool has_grid() const { return dim_ <= 3; }

  /// The shape of the run beyond the platform keys.
  struct Layout {
    int dim = 1;                     ///< the state's (kinetic: 2·grid.dim)
    std::int64_t reverse_steps = 0;  ///< N (0: no reverse stage)
    std::int64_t units = -1;         ///< particle units (−1: particles.count)
    int points_per_unit = 1;         ///< points a unit carries (free: a matrix's N eigenvalues)
    double reverse_span = -1;        ///< S, the reverse time covered (−1: T)
  };

 protected:
  /// Reads the platform keys of the layout (time, pde, particles, seed).
  /// Throws UsageError for a PDE asked for without a grid.
  DensityTwinExperiment(const Config& c, const Layout& layout);
  DensityTwinExperiment(const Config& c, int dim, std::int64_t reverse_steps)
      : DensityTwinExperiment(c, Layout{dim, reverse_steps}) {}

  /// Forward particles at t = 0 on this rank's units.
  virtual std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble units) = 0;
  /// The generative sampler at step 0 (after the PDE has run, so it may take
  /// fields from the store); needed when the family has reverse steps.
  virtual std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble units, FieldStore& store);
  /// A PDE field the reverse sampler (or a later stage) reads from the
  /// store: the density or one of the solver's extra fields, at given times.
  struct Publication {
    std::string name;
    int components = 1;
    std::vector<double> times;
  };
  virtual std::vector<Publication> publications() const { return {}; }
  /// A line about the PDE solver as set up (printed once), or "".
  virtual std::string describe_solver(const DensitySolver& /*pde*/) const { return {}; }
  /// More times the PDE stops at (beyond snapshots, reverse outputs and
  /// publications), and the density at every stop (collective), e.g. for
  /// time derivatives of a diagnostic by differences.
  virtual std::vector<double> extra_stops() const { return {}; }
  virtual void observe_stop(double /*t*/, const GridSpace& /*grid*/, const std::vector<double>& /*density*/) {}
  /// Sees the PDE density at snapshot j (collective).
  virtual void observe_snapshot(std::size_t /*j*/, double /*t*/, const GridSpace& /*grid*/,
                                const std::vector<double>& /*density*/) {}
  /// Sees the forward or reverse particles at their output j (collective);
  /// `histogram` on the grid when there is one.
  virtual void observe_samples(std::size_t /*j*/, double /*clock*/, bool /*reverse*/, const ParticleSampler& /*s*/,
                               const std::vector<double>* /*histogram*/) {}
  /// The sample-space laws of the forward particles at t and of the
  /// generated ones after `step` reverse steps (s = step T/N); a family
  /// without them (null) runs on a grid only.
  virtual std::unique_ptr<ReferenceLaw> forward_law(double /*t*/) const { return nullptr; }
  virtual std::unique_ptr<ReferenceLaw> reverse_law(std::int64_t /*step*/, double /*s*/) const { return nullptr; }
  /// Adjusts the two twins (atoms, expected errors, columns) and adds the
  /// family's own.
  virtual void customise_twins(Twin& /*forward*/, Twin& /*reverse*/, std::vector<Twin>& /*more*/,
                               RunSetup& /*setup*/) {}
  /// The family's stages before and after the three of the layout.
  virtual std::vector<std::string> leading_stages() const { return {}; }
  virtual std::vector<std::string> family_stages() const { return {}; }
  virtual std::unique_ptr<Stage> make_family_stage(const std::string& name, RunSetup& setup);

  double horizon() const { return horizon_; }
  std::uint64_t seed() const { return seed_; }
  /// Particle units (each carries Layout::points_per_unit points).
  std::int64_t particle_count() const { return particles_; }
  /// The reverse span S and its step S / N.
  double reverse_span() const { return reverse_span_; }
  double reverse_step() const { return reverse_span_ / static_cast<double>(reverse_steps_); }
  bool pde_on() const { return pde_on_; }
  bool particles_on() const { return particles_on_; }
  /// Snapshot times t_j and reverse outputs (steps k_j, times s_j).
  const std::vector<double>& snapshot_times() const { return times_; }
  const std::vector<std::int64_t>& reverse_output_steps() const { return rev_steps_; }
  const std::vector<double>& reverse_output_times() const { return rev_times_; }
  /// The PDE's nominal step T / pde.steps.
  double pde_step() const { return horizon_ / static_cast<double>(pde_steps_); }
  /// Collective. dp/dt = L p (pde/linear_evolution.hpp) from the closed form
  /// at t = 0, with the nominal step; takes ownership of L.
  std::unique_ptr<DensitySolver> linear_density_solver(const Grid& grid, Mat L) const;
  /// The run's grid (after spaces()); null without one.
  const GridSpace* grid() const { return grid_; }

 private:
  std::unique_ptr<Stage> make_pde_stage(RunSetup& setup);
  int dim_;
  double horizon_;
  std::int64_t pde_steps_, particles_, reverse_steps_;
  int points_per_unit_;
  double reverse_span_;
  std::uint64_t seed_;
  bool pde_on_, particles_on_;
  std::vector<double> times_, rev_times_;
  std::vector<std::int64_t> rev_steps_;
  std::optional<Box> box_;
  const GridSpace* grid_ = nullptr;
  // What the PDE stage reports at its end.
  std::vector<double> pde_mass_, pde_exact_l1_;
};

/// The output-side clock values of the density-twin layout: snapshot j of
/// n on [0, T], and the reverse output steps k_j of an N-step sampler.
std::vector<double> snapshot_times(double horizon, std::int64_t snapshots);
std::vector<std::int64_t> reverse_output_steps(std::int64_t snapshots, std::int64_t steps);

}  // namespace twinflow
