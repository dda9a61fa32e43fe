// The spin family's master equation on all 2^L states, on the ranks it is
// started on (mpiexec -n 2 bench_spin_master [L ...], default 20 22 24):
// the time of one RK4 step of ∂_t P = 𝕎P (four matrix-free generator
// applications with their VecScatter ghost exchanges, and the TS's vector
// updates) and the memory per rank (the state, RK4's work vectors, the
// ghosts, and the process's peak resident size), beside the memory-traffic
// floor of a step timed as a stream copy of the same bytes on every rank:
// 23 passes over the block (per stage a read of the state and a write of
// the rate, and the stage and final combinations of RK4).
#include <mpi.h>
#include <petscsys.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "models/spin/master_equation.hpp"
#include "models/spin/mps.hpp"

using namespace twinflow;
using namespace twinflow::spin;

namespace {

constexpr int kSteps = 4;
constexpr double kStepPasses = 23;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double max_over_ranks(double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return v;
}

void run(int sites, int rank, int size) {
  const StateVectorSpace space(MPI_COMM_WORLD, "states", sites);
  const std::int64_t owned = space.slab().count[0];
  std::vector<double> p(static_cast<std::size_t>(owned));
  ising1d(sites, 0.5, 1.0, 0.0).probabilities(space.slab().start[0], owned, p.data());
  Vec v = space.create_vector();
  PetscScalar* a = nullptr;
  VecGetArray(v, &a);
  std::copy(p.begin(), p.end(), a);
  VecRestoreArray(v, &a);
  const double dt = 0.01;  // below the stability limit 1/(γL)
  ForwardMasterEquation me(space, 1.0, v, dt);
  me.advance_to(dt);  // the TS's work vectors are made in the first step
  MPI_Barrier(MPI_COMM_WORLD);
  auto t0 = std::chrono::steady_clock::now();
  me.advance_to((kSteps + 1) * dt);
  const double step = max_over_ranks(seconds_since(t0)) / kSteps;

  std::vector<double> from(static_cast<std::size_t>(owned), 1.0), to(from.size());
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = std::chrono::steady_clock::now();
  const int copies = static_cast<int>(kStepPasses / 2 + 0.5);
  for (int k = 0; k < copies; ++k) {
    std::memcpy(to.data(), from.data(), from.size() * sizeof(double));
    from[static_cast<std::size_t>(k) % from.size()] = to[0] + 1;
  }
  const double floor = max_over_ranks(seconds_since(t0)) * kStepPasses / (2.0 * copies);

  rusage use{};
  getrusage(RUSAGE_SELF, &use);
  const double block_mib = static_cast<double>(owned) * 8 / 1048576.0;
  const double ghosts_mib = max_over_ranks(static_cast<double>(me.flips().ghost_doubles()) * 8 / 1048576.0);
  const double rss_mib = max_over_ranks(static_cast<double>(use.ru_maxrss) / 1024.0);
  if (rank == 0)
    std::printf("L = %2d, %d ranks: %10.4f s per RK4 step | traffic floor %8.4f s | ratio %5.1f | block %7.1f MiB, "
                "ghosts %7.1f MiB, peak resident %7.1f MiB per rank\n",
                sites, size, step, floor, step / floor, block_mib, ghosts_mib, rss_mib);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::stoi(argv[i]));
  if (sizes.empty()) sizes = {20, 22, 24};
  int no_args = 1;
  char* none[] = {argv[0], nullptr};
  char** petsc_argv = none;
  PetscInitialize(&no_args, &petsc_argv, nullptr, nullptr);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (int sites : sizes) run(sites, rank, size);
  PetscFinalize();
  MPI_Finalize();
  return 0;
}
