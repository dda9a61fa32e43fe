#pragma once
// twinflow's command line as a function of the families it knows.
#include <vector>

#include "twinflow/models/experiment.hpp"

namespace twinflow {

/// Runs the command line (MPI and PETSc initialised and finalised here) and
/// returns the process exit code. Collective over MPI_COMM_WORLD.
int cli_main(int argc, char** argv, const std::vector<Family>& families);

}  // namespace twinflow
