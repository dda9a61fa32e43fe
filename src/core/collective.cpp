#include "twinflow/core/collective.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <typeinfo>

namespace twinflow {
namespace {

enum FailureKind : int { kNone = 0, kUsage = 1, kRuntime = 2 };

int channel_keyval() {
  static int keyval = [] {
    int k = MPI_KEYVAL_INVALID;
    MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, MPI_COMM_NULL_DELETE_FN, &k, nullptr);
    return k;
  }();
  return keyval;
}

// The agreement channel attached to comm, or comm itself.
MPI_Comm channel_of(MPI_Comm comm) {
  void* value = nullptr;
  int found = 0;
  MPI_Comm_get_attr(comm, channel_keyval(), &value, &found);
  return found ? *static_cast<MPI_Comm*>(value) : comm;
}

std::string& failure_context() {
  static std::string where;
  return where;
}

std::string demangled(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && d ? d.get() : name;
}

}  // namespace

FailureChannel::FailureChannel(MPI_Comm comm) : comm_(comm) {
  auto* channel = new MPI_Comm(MPI_COMM_NULL);
  MPI_Comm_dup(comm, channel);
  MPI_Comm_set_attr(comm, channel_keyval(), channel);
}

FailureChannel::~FailureChannel() {
  void* value = nullptr;
  int found = 0;
  MPI_Comm_get_attr(comm_, channel_keyval(), &value, &found);
  if (!found) return;
  auto* channel = static_cast<MPI_Comm*>(value);
  MPI_Comm_delete_attr(comm_, channel_keyval());
  MPI_Comm_free(channel);
  delete channel;
}

void set_failure_context(const std::string& where) { failure_context() = where; }

std::string describe(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return std::string("out of memory (") + e.what() + ")";
  if (dynamic_cast<const RuntimeFailure*>(&e) || dynamic_cast<const UsageError*>(&e)) return e.what();
  return std::string(e.what()) + " (" + demangled(typeid(e).name()) + ")";
}

void broadcast(MPI_Comm comm, std::string& text, int root) {
  int length = static_cast<int>(text.size());
  MPI_Bcast(&length, 1, MPI_INT, root, comm);
  text.resize(static_cast<std::size_t>(length));
  MPI_Bcast(text.data(), length, MPI_CHAR, root, comm);
}

void agree(MPI_Comm comm, std::exception_ptr failure) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int kind = kNone;
  std::string message, key;
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const PeerFailure&) {
      throw;  // agreed already: every rank is raising it
    } catch (const UsageError& e) {
      kind = kUsage;
      message = e.what();
      key = e.key();
    } catch (const std::exception& e) {
      kind = kRuntime;
      message = describe(e);
    } catch (...) {
      kind = kRuntime;
      message = "an unknown exception";
    }
    if (kind == kRuntime) {
      const std::string& where = failure_context();
      message = "rank " + std::to_string(rank) + (where.empty() ? "" : " " + where) + ": " + message;
    }
  }
  const MPI_Comm channel = channel_of(comm);
  int mine = kind == kNone ? size : rank, first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, channel);
  if (first == size) return;
  MPI_Bcast(&kind, 1, MPI_INT, first, channel);
  broadcast(channel, key, first);
  broadcast(channel, message, first);
  if (kind == kUsage) {
    // The key is already part of the message; rebuild it verbatim.
    const std::string prefix = "option '" + key + "': ";
    throw UsageError(key, message.substr(prefix.size()));
  }
  throw PeerFailure(message, first);
}

void agree(MPI_Comm comm, const std::function<void()>& body) {
  std::exception_ptr failure;
  try {
    body();
  } catch (...) {
    failure = std::current_exception();
  }
  agree(comm, failure);
}

void on_root_and_agree(MPI_Comm comm, const std::function<void()>& body) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  agree(comm, [&] {
    if (rank == 0) body();
  });
}

void collective_point(MPI_Comm comm) { agree(comm, std::exception_ptr()); }

void sum_over_ranks(MPI_Comm comm, double* values, int n) {
  collective_point(comm);
  MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, comm);
}

double max_over_ranks(MPI_Comm comm, double value) {
  collective_point(comm);
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, comm);
  return value;
}

void sum_over_ranks(MPI_Comm comm, std::int64_t* values, int n) {
  collective_point(comm);
  MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_INT64_T, MPI_SUM, comm);
}

}  // namespace twinflow
