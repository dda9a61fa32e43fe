// Time and memory of one particle histogram on the box grid, the way the
// run model makes it (counts reduced straight into each rank's owned block,
// GridSpace::histogram) beside the reference run: the previous way, a
// whole-grid array on every rank, summed with MPI_Allreduce, then cut to the
// owned block. Memory is the rise of the peak resident set (getrusage) over
// the level after setup, the largest over the ranks; each way runs in its
// own process, as the peak never comes down.
//
//   mpiexec -n 2 build/benchmarks/bench_histogram owned|replicated [CELLS_PER_AXIS [PARTICLES]]
//
// Defaults: a 256³ grid and 10⁶ particles (points of a standard Gaussian
// scaled to the box).
#include <mpi.h>
#include <petscsys.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "twinflow/rng/counter_rng.hpp"
#include "twinflow/run/state_space.hpp"

using namespace twinflow;

namespace {

long peak_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// The previous histogram: every rank counts into a whole-grid array, the
// arrays are summed, and each rank keeps its block.
void replicated_histogram(const GridSpace& space, const Ensemble& e, std::vector<double>& owned) {
  const Box& box = space.box();
  std::vector<double> density(static_cast<std::size_t>(box.total_cells()), 0.0);
  for (std::int64_t p = 0; p < e.count; ++p) {
    const std::int64_t c = box.cell_of(&e.x[p * box.dim]);
    if (c >= 0) density[c] += 1.0;
  }
  MPI_Allreduce(MPI_IN_PLACE, density.data(), static_cast<int>(density.size()), MPI_DOUBLE, MPI_SUM, space.comm());
  const double scale = 1.0 / (static_cast<double>(e.total) * box.cell_volume());
  const Slab& s = space.slab();
  owned.resize(static_cast<std::size_t>(s.size()));
  std::int64_t pos = 0;
  for (std::int64_t i = 0; i < s.count[0]; ++i)
    for (std::int64_t j = 0; j < s.count[1]; ++j)
      for (std::int64_t k = 0; k < s.count[2]; ++k, ++pos)
        owned[pos] = scale * density[((s.start[0] + i) * box.cells[1] + s.start[1] + j) * box.cells[2] + s.start[2] + k];
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  PetscInitialize(&argc, &argv, nullptr, nullptr);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::string mode = argc > 1 ? argv[1] : "owned";
  const std::int64_t cells = argc > 2 ? std::atoll(argv[2]) : 256, particles = argc > 3 ? std::atoll(argv[3]) : 1000000;
  {
    Box box;
    box.dim = 3;
    box.lower = {-6, -6, -6};
    box.upper = {6, 6, 6};
    box.cells = {cells, cells, cells};
    const GridSpace space(MPI_COMM_WORLD, box);
    Ensemble e = Ensemble::partition(MPI_COMM_WORLD, particles, 3);
    e.x.resize(static_cast<std::size_t>(e.count * 3));
    const CounterRng rng(1, Stream::kData);
    for (std::int64_t p = 0; p < e.count; ++p) rng.normals(static_cast<std::uint64_t>(e.first_id + p), 0, &e.x[p * 3], 3);
    std::vector<double> owned(static_cast<std::size_t>(space.slab().size()));  // the result, in both ways
    const long before = peak_kb();
    double best = 1e300;
    for (int repeat = 0; repeat < 3; ++repeat) {
      MPI_Barrier(MPI_COMM_WORLD);
      const double t0 = MPI_Wtime();
      if (mode == "replicated")
        replicated_histogram(space, e, owned);
      else
        space.histogram(e, owned);
      best = std::min(best, MPI_Wtime() - t0);
    }
    long rise = peak_kb() - before;
    MPI_Allreduce(MPI_IN_PLACE, &rise, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &best, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    const double block_mb = static_cast<double>(space.slab().size()) * 8 / 1e6;
    if (rank == 0)
      std::printf("%s: %lld^3 cells, %lld particles, %d ranks: %.3f s per histogram, peak memory +%.1f MB per rank "
                  "(owned block %.1f MB, whole grid %.1f MB)\n",
                  mode.c_str(), static_cast<long long>(cells), static_cast<long long>(particles), size, best,
                  static_cast<double>(rise) / 1e3, block_mb, static_cast<double>(box.total_cells()) * 8 / 1e6);
  }
  PetscFinalize();
  MPI_Finalize();
  return 0;
}
