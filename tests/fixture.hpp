#pragma once
// Builds a family's experiment and its state spaces from --key=value
// overrides, the way the driver does, and gathers particle ensembles, for
// tests of the PDE and particle sides.
#include <mpi.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/driver.hpp"
#include "app/registry.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/grid/grid.hpp"
#include "twinflow/run/density_twin.hpp"

namespace twinflow::testing {

struct Run {
  Config config;
  std::unique_ptr<Experiment> experiment;
  std::vector<std::unique_ptr<StateSpace>> spaces;
  DensityTwinExperiment* model = nullptr;  ///< the experiment, for the density-twin families
  const Grid* grid = nullptr;              ///< the run's grid, when it has one
};

/// Collective. The run of `family` with the given overrides (--family is added).
inline Run make_run(const std::string& family, std::vector<std::string> overrides) {
  static const OptionSet options = all_options(families());
  if (std::none_of(overrides.begin(), overrides.end(), [](const std::string& o) { return o.rfind("--family=", 0) == 0; }))
    overrides.push_back("--family=" + family);
  Run r;
  r.config = Config::parse(options, "", overrides);
  for (const auto& f : families())
    if (f.name == family) r.experiment = f.make(r.config, PETSC_COMM_WORLD);
  if (!r.experiment) throw std::logic_error("no family " + family);
  r.spaces = r.experiment->spaces(PETSC_COMM_WORLD);
  r.model = dynamic_cast<DensityTwinExperiment*>(r.experiment.get());
  if (const auto* g = dynamic_cast<const GridSpace*>(r.spaces.front().get())) r.grid = &g->grid();
  return r;
}

/// Collective. Every rank's points in global-id order, on every rank.
inline std::vector<double> gather_positions(const Ensemble& e) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(counts.size());
  const int mine = static_cast<int>(e.points() * e.dim);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<double> all(static_cast<std::size_t>(e.total * e.points_per_unit * e.dim));
  MPI_Allgatherv(e.x.data(), mine, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, MPI_COMM_WORLD);
  return all;
}

}  // namespace twinflow::testing
