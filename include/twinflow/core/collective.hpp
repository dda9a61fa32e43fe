#pragma once
// Failures agreed by all ranks. A rank that fails (a user error, a runtime
// failure, a PETSc or HDF5 error, std::bad_alloc, any std::exception) must
// not leave the others waiting in a collective. Every collective point of
// twinflow therefore starts with an agreement: one small MPI_Allreduce on a
// channel of its own (a duplicate of the run's communicator, so it never
// matches a data collective) in which every rank says whether it failed.
// A rank that failed in local work joins the agreement the others reach
// next, wherever in the code that is, and all ranks raise the same error
// together: the message of the lowest failing rank, naming that rank and
// where the run was (set_failure_context).
//
// The channel exists while a FailureChannel object lives; without one (unit
// tests that build objects directly) agreements run on the communicator
// itself. Between two collective points, code may do local work or PETSc
// collective work whose callbacks keep their failures instead of raising
// them (pde/ts_evolution.hpp): that is what lets a failure reach the next
// point instead of a PETSc-internal collective.
#include <mpi.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>

#include "twinflow/core/error.hpp"

namespace twinflow {

/// A failure that every rank raised together after an agreement. A catch
/// that sees it must not agree again: the other ranks already know.
class PeerFailure : public RuntimeFailure {
 public:
  PeerFailure(const std::string& message, int rank) : RuntimeFailure(message), rank_(rank) {}
  /// The rank whose failure this is.
  int rank() const { return rank_; }

 private:
  int rank_;
};

/// The agreement channel of a run's communicator, for its lifetime.
/// Collective over comm (construction and destruction).
class FailureChannel {
 public:
  explicit FailureChannel(MPI_Comm comm);
  ~FailureChannel();
  FailureChannel(const FailureChannel&) = delete;
  FailureChannel& operator=(const FailureChannel&) = delete;

 private:
  MPI_Comm comm_;
};

/// Where this rank is, for failure messages ("stage 'reverse' at s = 0.42").
/// Not collective; empty leaves it out.
void set_failure_context(const std::string& where);

/// Collective over comm. Agrees on `failure` (null: this rank is fine). If
/// any rank failed, every rank throws the failure of the lowest failing
/// rank: a UsageError as it was raised (user errors are the same on every
/// rank and name the key), anything else as a PeerFailure whose message
/// names the rank and its failure context.
void agree(MPI_Comm comm, std::exception_ptr failure);

/// Collective over comm. Runs body on every rank, then agrees on how it
/// ended (any exception counts).
void agree(MPI_Comm comm, const std::function<void()>& body);

/// Collective over comm. Runs body on rank 0 only, then as agree().
void on_root_and_agree(MPI_Comm comm, const std::function<void()>& body);

/// Collective over comm. A collective point with nothing of its own to
/// report: throws if another rank failed since the last one.
void collective_point(MPI_Comm comm);

/// Collective over comm. Element-wise sums over the ranks, in place, after
/// a collective point.
void sum_over_ranks(MPI_Comm comm, double* values, int n);
void sum_over_ranks(MPI_Comm comm, std::int64_t* values, int n);
/// Collective over comm. The largest of the ranks' values, after a
/// collective point.
double max_over_ranks(MPI_Comm comm, double value);

/// Collective over comm. Broadcasts rank `root`'s string to every rank.
void broadcast(MPI_Comm comm, std::string& text, int root = 0);

/// The one-line description of an exception for a failure message.
std::string describe(const std::exception& e);

}  // namespace twinflow
