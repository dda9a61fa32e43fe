#pragma once
// Builds the `ou` experiment and its grid from --key=value overrides, the
// way the driver does, for tests of the PDE and particle sides.
#include <memory>
#include <string>
#include <vector>

#include "app/driver.hpp"
#include "models/ou/experiment.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/grid/grid.hpp"

namespace twinflow::testing {

struct OuRun {
  Config config;
  std::unique_ptr<Experiment> experiment;
  std::unique_ptr<Grid> grid;
};

inline OuRun make_ou(const std::vector<std::string>& overrides) {
  static const OptionSet options = all_options();
  OuRun r;
  r.config = Config::parse(options, "", overrides);
  r.experiment = ou::family().make(r.config, PETSC_COMM_WORLD);
  r.grid = std::make_unique<Grid>(PETSC_COMM_WORLD, Box::from_config(r.config));
  return r;
}

}  // namespace twinflow::testing
