#pragma once
// Builds a family's experiment and its grid from --key=value overrides, the
// way the driver does, and gathers particle ensembles, for tests of the PDE
// and particle sides.
#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "app/driver.hpp"
#include "models/kac/experiment.hpp"
#include "models/kinetic/experiment.hpp"
#include "models/ou/experiment.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/grid/grid.hpp"

namespace twinflow::testing {

struct Run {
  Config config;
  std::unique_ptr<Experiment> experiment;
  std::unique_ptr<Grid> grid;
};

inline Run make_run(const Family& family, const std::vector<std::string>& overrides) {
  static const OptionSet options = all_options();
  Run r;
  r.config = Config::parse(options, "", overrides);
  r.experiment = family.make(r.config, PETSC_COMM_WORLD);
  r.grid = std::make_unique<Grid>(PETSC_COMM_WORLD, Box::from_config(r.config, r.experiment->dim()));
  return r;
}

inline Run make_ou(const std::vector<std::string>& overrides) { return make_run(ou::family(), overrides); }
inline Run make_kac(const std::vector<std::string>& overrides) { return make_run(kac::family(), overrides); }
inline const Family& kinetic_family() {
  static const Family f = kinetic::family();
  return f;
}

/// Collective. Every rank's positions in global-id order, on every rank.
inline std::vector<double> gather_positions(const Ensemble& e) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(counts.size());
  const int mine = static_cast<int>(e.count * e.dim);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<double> all(static_cast<std::size_t>(e.total * e.dim));
  MPI_Allgatherv(e.x.data(), mine, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, MPI_COMM_WORLD);
  return all;
}

}  // namespace twinflow::testing
