#include "twinflow/core/collective.hpp"

#include <string>

#include "twinflow/core/error.hpp"

namespace twinflow {
namespace {

enum FailureKind : int { kNone = 0, kUsage = 1, kRuntime = 2 };

}  // namespace

void agree(MPI_Comm comm, const std::function<void()>& body) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int kind = kNone;
  std::string message, key;
  try {
    body();
  } catch (const UsageError& e) {
    kind = kUsage;
    message = e.what();
    key = e.key();
  } catch (const RuntimeFailure& e) {
    kind = kRuntime;
    message = e.what();
  }
  int mine = kind == kNone ? size : rank, first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return;
  // Broadcast kind, key and message of the first failing rank.
  MPI_Bcast(&kind, 1, MPI_INT, first, comm);
  for (std::string* s : {&key, &message}) {
    int len = static_cast<int>(s->size());
    MPI_Bcast(&len, 1, MPI_INT, first, comm);
    s->resize(static_cast<std::size_t>(len));
    MPI_Bcast(s->data(), len, MPI_CHAR, first, comm);
  }
  if (kind == kUsage) {
    // The key is already part of the message; rebuild it verbatim.
    const std::string prefix = "option '" + key + "': ";
    throw UsageError(key, message.substr(prefix.size()));
  }
  throw RuntimeFailure(message);
}

void on_root_and_agree(MPI_Comm comm, const std::function<void()>& body) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  agree(comm, [&] {
    if (rank == 0) body();
  });
}

}  // namespace twinflow
