// Kernels of the `free` family, each beside a named reference run:
//   * πHρ on M = 2^14 cells by the zero-padded FFT convolution against the
//     direct O(M²) sum of the same kernel (same values to round-off);
//   * eigenvalues of N×N GUE matrices the way the sampler takes them
//     (MatrixStack: a copy, then LAPACK zheevd without vectors) against
//     bare LAPACKE_zheevd on the same matrices (a memcpy and the call);
//   * one free Fokker–Planck step (4 SSP stages: gather, Hilbert transform,
//     fluxes) on 2^16 cells against the memory-traffic bound of a step
//     (per stage one read of the state and one write of the rate), timed as
//     a stream copy of the same bytes, and against the FFT floor (the two
//     transforms of length 2^17 of each velocity: 4 stages and the CFL
//     step's).
// Run on one rank; per-core figures.
#include <benchmark/benchmark.h>
#include <fftw3.h>
#include <petscts.h>

#include <complex>
#define lapack_complex_float std::complex<float>
#define lapack_complex_double std::complex<double>
#include <lapacke.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "models/free/free_fokker_planck.hpp"
#include "models/free/free_law.hpp"
#include "models/free/matrix_samplers.hpp"
#include "models/free/spectral_transforms.hpp"
#include "twinflow/grid/grid.hpp"

using namespace twinflow;
using namespace twinflow::free;

namespace {

constexpr std::int64_t kHilbertCells = 1 << 14;
constexpr std::int64_t kPdeCells = 1 << 16;

std::vector<double> semicircle_on(std::int64_t m) {
  std::vector<double> rho(static_cast<std::size_t>(m));
  const double h = 6.0 / static_cast<double>(m);
  for (std::int64_t i = 0; i < m; ++i) {
    const double lo = -3 + static_cast<double>(i) * h;
    rho[i] = (semicircle_cdf(1.0, lo + h) - semicircle_cdf(1.0, lo)) / h;
  }
  return rho;
}

void BM_HilbertFft(benchmark::State& state) {
  const auto rho = semicircle_on(kHilbertCells);
  SpectralTransforms tr(kHilbertCells, 6.0 / kHilbertCells);
  std::vector<double> out(rho.size());
  for (auto _ : state) {
    tr.hilbert(rho.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kHilbertCells);
}

void BM_HilbertDirectSum(benchmark::State& state) {
  const auto rho = semicircle_on(kHilbertCells);
  const std::int64_t m = kHilbertCells;
  std::vector<double> kernel(static_cast<std::size_t>(2 * m - 1)), out(rho.size());
  for (std::int64_t q = -(m - 1); q < m; ++q) kernel[q + m - 1] = hilbert_kernel(q);
  const double c = 0.5 * std::log(2.0);
  for (auto _ : state) {
    for (std::int64_t i = 0; i < m; ++i) {
      double s = 0;
      const double* k = kernel.data() + (i + m - 1);
      for (std::int64_t j = 0; j < m; ++j) s += k[-j] * rho[j];
      const double right = i + 1 < m ? rho[i + 1] : 0.0, left = i > 0 ? rho[i - 1] : 0.0;
      out[i] = s - c * (right - left);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * m);
}

// 64 GUE matrices of size N (one unit each), as the sampler holds them.
MatrixStack gue_stack(int n) {
  MatrixStack s(2, n, 64);
  const CounterRng rng(7, kMatrixStream);
  for (std::int64_t u = 0; u < 64; ++u) s.wigner_step(u, 0.0, 1.0, rng, static_cast<std::uint64_t>(u), 0);
  return s;
}

void BM_EigenvaluesSampler(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const MatrixStack s = gue_stack(n);
  std::vector<double> lambda(static_cast<std::size_t>(n));
  for (auto _ : state)
    for (std::int64_t u = 0; u < 64; ++u) {
      s.eigenvalues(u, lambda.data());
      benchmark::DoNotOptimize(lambda.data());
    }
  state.SetItemsProcessed(state.iterations() * 64);
}

void BM_EigenvaluesBareLapack(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const MatrixStack s = gue_stack(n);
  std::vector<std::complex<double>> a(static_cast<std::size_t>(n) * n);
  std::vector<double> lambda(static_cast<std::size_t>(n));
  for (auto _ : state)
    for (std::int64_t u = 0; u < 64; ++u) {
      std::memcpy(a.data(), s.matrix(u), a.size() * sizeof(std::complex<double>));
      LAPACKE_zheevd(LAPACK_COL_MAJOR, 'N', 'U', n, a.data(), n, lambda.data());
      benchmark::DoNotOptimize(lambda.data());
    }
  state.SetItemsProcessed(state.iterations() * 64);
}

struct PdeSetup {
  Box box = [] {
    Box b;
    b.dim = 1;
    b.lower[0] = -3;
    b.upper[0] = 3;
    b.cells[0] = kPdeCells;
    return b;
  }();
  Grid grid{PETSC_COMM_WORLD, box};
};
std::unique_ptr<PdeSetup> the_setup;  // destroyed before PetscFinalize

void BM_FreePdeStep(benchmark::State& state) {
  if (!the_setup) the_setup = std::make_unique<PdeSetup>();
  const FreeOu law(0.5, 1.0, SpectralMixture::parse("bench", "1:0:1"));
  std::vector<double> rho0;
  law.cell_averages(0.0, the_setup->grid, rho0);
  FreeFokkerPlanck pde(the_setup->grid, 0.5, 1.0, rho0, 1.0);
  double t = 0;
  for (auto _ : state) {
    t += pde.stable_step();
    pde.advance_to(t);
  }
  state.counters["cells"] = static_cast<double>(kPdeCells);
  state.counters["steps"] = static_cast<double>(pde.steps());
}

void BM_StreamCopyOfAStep(benchmark::State& state) {
  // A step's least traffic: 4 stages × (read + write) of 2^16 doubles.
  const std::size_t n = kPdeCells;
  std::vector<double> a(n, 1.0), b(n);
  for (auto _ : state)
    for (int stage = 0; stage < 4; ++stage) {
      std::memcpy(b.data(), a.data(), n * sizeof(double));
      benchmark::DoNotOptimize(b.data());
    }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(4 * 2 * n * sizeof(double)));
}

void BM_FftFloorOfAStep(benchmark::State& state) {
  // Each velocity (4 stages and the CFL step's) costs one r2c and one c2r
  // of length 2M.
  const int p = static_cast<int>(2 * kPdeCells);
  double* real = fftw_alloc_real(p);
  fftw_complex* spec = fftw_alloc_complex(p / 2 + 1);
  fftw_plan f = fftw_plan_dft_r2c_1d(p, real, spec, FFTW_ESTIMATE), b = fftw_plan_dft_c2r_1d(p, spec, real, FFTW_ESTIMATE);
  for (int i = 0; i < p; ++i) real[i] = 0;
  for (auto _ : state)
    for (int velocity = 0; velocity < 5; ++velocity) {
      fftw_execute(f);
      fftw_execute(b);
      benchmark::DoNotOptimize(real);
    }
  fftw_destroy_plan(f);
  fftw_destroy_plan(b);
  fftw_free(real);
  fftw_free(spec);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  PetscInitialize(&argc, &argv, nullptr, nullptr);
  BENCHMARK(BM_HilbertFft)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_HilbertDirectSum)->Unit(benchmark::kMillisecond)->MinTime(2.0);
  BENCHMARK(BM_EigenvaluesSampler)->Arg(100)->Arg(400)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_EigenvaluesBareLapack)->Arg(100)->Arg(400)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_FreePdeStep)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_StreamCopyOfAStep)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_FftFloorOfAStep)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  the_setup.reset();
  PetscFinalize();
  return 0;
}
