// The free Fokker–Planck velocity needs πHρ of the whole density, which on
// several ranks is split in blocks. Two ways, timed per evaluation:
//   gather    what FreeFokkerPlanck does: MPI_Allgatherv of the blocks, then
//             the zero-padded convolution (r2c + c2r of length 2M) on every
//             rank, redundantly;
//   fftw-mpi  the reference run: FFTW's distributed 1-D complex transforms of
//             length 2M (FFTW has no distributed 1-D real transform),
//             forward and backward with the pointwise product, in FFTW's
//             scrambled layouts (its fastest, no final transposes). Only the
//             transforms are timed: the exchanges that would bring the
//             blocks into FFTW's layout and back are left out, so this is a
//             lower bound for that way;
//   gather-complex  the gather with the same complex transforms of length 2M
//             done locally: the like-for-like arithmetic of fftw-mpi.
//
//   mpiexec -n 2 build/benchmarks/bench_free_gather [LOG2_M ...]   (default 12 16 20)
#include <fftw3-mpi.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "models/free/spectral_transforms.hpp"

using twinflow::free::hilbert_kernel;
using twinflow::free::ToeplitzConvolution;

namespace {

// Seconds per call of f, over at least 0.5 s (the same count on every rank).
template <class F>
double per_call(MPI_Comm comm, F&& f) {
  int reps = 1;
  for (;;) {
    MPI_Barrier(comm);
    const double t0 = MPI_Wtime();
    for (int r = 0; r < reps; ++r) f();
    double dt = MPI_Wtime() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, comm);
    if (dt > 0.5) return dt / reps;
    reps *= 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  fftw_mpi_init();
  const MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::vector<int> logs;
  for (int i = 1; i < argc; ++i) logs.push_back(std::atoi(argv[i]));
  if (logs.empty()) logs = {12, 16, 20};
  if (rank == 0)
    std::printf("%d ranks\n%10s %14s %22s %20s %8s %8s\n", size, "M", "gather [ms]", "gather-complex [ms]",
                "fftw-mpi only [ms]", "ratio", "ratio c");
  for (int lg : logs) {
    const std::int64_t m = std::int64_t{1} << lg;
    // The owned block of a 1-D split as PETSc makes it.
    std::vector<int> counts(static_cast<std::size_t>(size)), displs(counts.size());
    for (int r = 0; r < size; ++r) counts[r] = static_cast<int>(m / size + (r < m % size ? 1 : 0));
    for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
    std::vector<double> mine(static_cast<std::size_t>(counts[rank]), 1.0), whole(static_cast<std::size_t>(m)),
        out(whole.size());
    const ToeplitzConvolution conv(m, hilbert_kernel);
    const double gather = per_call(comm, [&] {
      MPI_Allgatherv(mine.data(), counts[rank], MPI_DOUBLE, whole.data(), counts.data(), displs.data(), MPI_DOUBLE,
                     comm);
      conv.apply(whole.data(), out.data());
    });

    const ptrdiff_t p = 2 * m;
    fftw_complex* local = fftw_alloc_complex(static_cast<std::size_t>(p));
    const fftw_plan local_forward = fftw_plan_dft_1d(static_cast<int>(p), local, local, FFTW_FORWARD, FFTW_ESTIMATE);
    const fftw_plan local_backward = fftw_plan_dft_1d(static_cast<int>(p), local, local, FFTW_BACKWARD, FFTW_ESTIMATE);
    const double gather_complex = per_call(comm, [&] {
      MPI_Allgatherv(mine.data(), counts[rank], MPI_DOUBLE, whole.data(), counts.data(), displs.data(), MPI_DOUBLE,
                     comm);
      for (std::int64_t i = 0; i < p; ++i) local[i][0] = i < m ? whole[i] : 0.0, local[i][1] = 0.0;
      fftw_execute(local_forward);
      for (std::int64_t k = 0; k < p; ++k) local[k][0] *= 0.5, local[k][1] *= 0.5;
      fftw_execute(local_backward);
    });
    fftw_destroy_plan(local_forward);
    fftw_destroy_plan(local_backward);
    fftw_free(local);
    ptrdiff_t ni, i0, no, o0;
    const ptrdiff_t alloc = fftw_mpi_local_size_1d(p, comm, FFTW_FORWARD, FFTW_ESTIMATE, &ni, &i0, &no, &o0);
    fftw_complex* data = fftw_alloc_complex(static_cast<std::size_t>(alloc));
    std::vector<double> kernel(static_cast<std::size_t>(2 * no), 0.5);
    const fftw_plan forward = fftw_mpi_plan_dft_1d(p, data, data, comm, FFTW_FORWARD,
                                                   FFTW_ESTIMATE | FFTW_MPI_SCRAMBLED_OUT);
    const fftw_plan backward = fftw_mpi_plan_dft_1d(p, data, data, comm, FFTW_BACKWARD,
                                                    FFTW_ESTIMATE | FFTW_MPI_SCRAMBLED_IN);
    if (!forward || !backward) {
      // FFTW plans no distributed 1-D transform on one process.
      if (rank == 0)
        std::printf("%10lld %14.3f %22.3f %20s\n", static_cast<long long>(m), gather * 1e3, gather_complex * 1e3,
                    "(no plan)");
      fftw_free(data);
      continue;
    }
    for (ptrdiff_t i = 0; i < alloc; ++i) data[i][0] = 1.0, data[i][1] = 0.0;
    const double distributed = per_call(comm, [&] {
      fftw_execute(forward);
      for (ptrdiff_t k = 0; k < no; ++k) {
        const double re = data[k][0] * kernel[2 * k] - data[k][1] * kernel[2 * k + 1];
        const double im = data[k][0] * kernel[2 * k + 1] + data[k][1] * kernel[2 * k];
        data[k][0] = re, data[k][1] = im;
      }
      fftw_execute(backward);
    });
    fftw_destroy_plan(forward);
    fftw_destroy_plan(backward);
    fftw_free(data);
    if (rank == 0)
      std::printf("%10lld %14.3f %22.3f %20.3f %8.2f %8.2f\n", static_cast<long long>(m), gather * 1e3,
                  gather_complex * 1e3, distributed * 1e3, distributed / gather, distributed / gather_complex);
  }
  fftw_mpi_cleanup();
  MPI_Finalize();
  return 0;
}
