#pragma once
// The `run` subcommand: config → experiment → PDE solve ‖ particle runs at
// the snapshot times → histograms → comparison → HDF5 + XDMF + table.
#include <mpi.h>

#include <string>
#include <vector>

namespace twinflow {

class OptionSet;

/// Every key of a run: the general ones and those of each family.
OptionSet all_options();

/// The `run` arguments split into what they are.
struct RunArguments {
  std::string config_path;             ///< optional INI file
  std::vector<std::string> overrides;  ///< --key=value tokens
  std::vector<std::string> petsc;      ///< -petsc_option [value] tokens
  bool help = false;
};

/// Splits tokens after `run`. Throws UsageError for a second config file.
RunArguments split_run_arguments(const std::vector<std::string>& tokens);

/// Collective over comm (PETSc is initialised). Returns the exit code;
/// throws UsageError or RuntimeFailure identically on every rank.
int run(MPI_Comm comm, const RunArguments& args);

}  // namespace twinflow
