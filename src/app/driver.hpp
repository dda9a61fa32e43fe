#pragma once
// The `run` subcommand: config → experiment → spaces → stages set up →
// stages run in order (each advancing to its outputs, reporting to the
// output file, the field store and the twins) → twins written and printed →
// HDF5 committed (+ XDMF, tables).
#include <mpi.h>

#include <string>
#include <vector>

#include "twinflow/models/experiment.hpp"

namespace twinflow {

class OptionSet;

/// Every key of a run: the platform's and those of each family.
OptionSet all_options(const std::vector<Family>& families);

/// The `run` arguments split into what they are.
struct RunArguments {
  std::string config_path;             ///< optional INI file
  std::vector<std::string> overrides;  ///< --key=value tokens
  std::vector<std::string> petsc;      ///< -petsc_option [value] tokens
  bool help = false;
};

/// Splits tokens after `run`. `--key value` (a space instead of '=') is
/// taken as `--key=value` for a declared key (for a boolean only when the
/// value is a boolean). Throws UsageError for a second config file.
RunArguments split_run_arguments(const std::vector<std::string>& tokens, const OptionSet& options);

/// Collective over comm (PETSc is initialised). Returns the exit code;
/// throws UsageError or RuntimeFailure identically on every rank.
int run(MPI_Comm comm, const RunArguments& args, const std::vector<Family>& families);

}  // namespace twinflow
