#include "twinflow/models/experiment.hpp"

namespace twinflow {

Ensemble Ensemble::partition(MPI_Comm comm, std::int64_t total, int dim) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  Ensemble e;
  e.dim = dim;
  e.total = total;
  // The first total % size ranks own one extra particle.
  const std::int64_t base = total / size, extra = total % size;
  e.count = base + (rank < extra ? 1 : 0);
  e.first_id = rank * base + std::min<std::int64_t>(rank, extra);
  return e;
}

}  // namespace twinflow
