#include "twinflow/run/ensemble.hpp"

#include <algorithm>

namespace twinflow {
namespace {

void split(MPI_Comm comm, Ensemble& e, std::int64_t units) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  e.total = units;
  const std::int64_t base = units / size, extra = units % size;
  e.count = base + (rank < extra ? 1 : 0);
  e.first_id = rank * base + std::min<std::int64_t>(rank, extra);
}

}  // namespace

Ensemble Ensemble::partition(MPI_Comm comm, std::int64_t units, int dim, int points_per_unit) {
  Ensemble e;
  e.dim = dim;
  e.points_per_unit = points_per_unit;
  split(comm, e, units);
  return e;
}

Ensemble Ensemble::partition_bits(MPI_Comm comm, std::int64_t units, int sites) {
  Ensemble e;
  e.dim = 0;
  e.points_per_unit = 0;
  e.sites = sites;
  split(comm, e, units);
  e.bits.assign(static_cast<std::size_t>(e.count * e.words_per_unit()), 0);
  return e;
}

}  // namespace twinflow
