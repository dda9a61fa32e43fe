#pragma once
// Makes every rank agree on the outcome of a step that may fail on some ranks
// only (a file check, a validation), so that all ranks raise the same error
// together: no hang, no rank left waiting in a collective.
#include <mpi.h>

#include <functional>

namespace twinflow {

/// Collective over comm. Runs body on every rank. If it throws UsageError or
/// RuntimeFailure on any rank, the message of the lowest failing rank is
/// broadcast and every rank rethrows the same exception type and text.
void agree(MPI_Comm comm, const std::function<void()>& body);

/// Collective over comm. Runs body on rank 0 only, then as agree().
void on_root_and_agree(MPI_Comm comm, const std::function<void()>& body);

}  // namespace twinflow
