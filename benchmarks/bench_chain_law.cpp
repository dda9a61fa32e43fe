// Cost of one step of the exact chain law (sampler_law), each beside a named
// reference run:
//   * 1-D, 4096 cells, ou REL-EI on bimodal data: the reference is the
//     straightforward step, the direct sum p'(y_i) = Σ_j p(y_j) Δy
//     φ_Q(y_i − T(y_j)) over all pairs (O(M²) exponentials), which gives the
//     same values;
//   * 2-D phase space, 256² cells, kinetic REL-EI: the reference is the floor
//     of the transforms alone, one r2c on the 512² gridding grid and one c2r
//     on 256² (what remains is the map, the score and the Gaussian gridding).
// Run on one rank.
#include <benchmark/benchmark.h>
#include <fftw3.h>
#include <petscsys.h>

#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

#include "twinflow/diffusion/chain_law.hpp"
#include "twinflow/diffusion/samplers.hpp"

using namespace twinflow;

namespace {

const char* const kBimodal = "0.5:-1.5:0.25;0.5:1.5:0.25";

Box square(int dim, std::int64_t cells) {
  Box b;
  b.dim = dim;
  for (int a = 0; a < dim; ++a) b.lower[a] = -8, b.upper[a] = 8, b.cells[a] = cells;
  return b;
}

void run_chain_step(benchmark::State& state, const LinearDiffusion& diffusion, std::int64_t cells) {
  const GaussianMixture data = GaussianMixture::parse("bench", kBimodal, 1);
  const FixedStepScheme scheme(diffusion, Scheme::kRelEi, 6, 60);
  MixtureMarginalScore score(diffusion, data);
  ChainLaw law(MPI_COMM_WORLD, square(diffusion.dim(), cells));
  law.set_standard_normal();
  for (auto _ : state) law.step(scheme, score, 30);
  state.counters["cells"] = static_cast<double>(law.density().size());
}

void BM_ChainLawStep1D(benchmark::State& state) { run_chain_step(state, LinearDiffusion::ou(1), 4096); }

void BM_DirectSumStep1D(benchmark::State& state) {
  const LinearDiffusion ou = LinearDiffusion::ou(1);
  const GaussianMixture data = GaussianMixture::parse("bench", kBimodal, 1);
  const FixedStepScheme scheme(ou, Scheme::kRelEi, 6, 60);
  MixtureMarginalScore score(ou, data);
  const Box box = square(1, 4096);
  const std::int64_t m = box.cells[0];
  const double dy = box.spacing(0), var = scheme.noise_covariance()(0, 0);
  const double norm = 1 / std::sqrt(2 * std::numbers::pi * var);
  std::vector<double> p(static_cast<std::size_t>(m)), next(p.size()), image(p.size());
  for (std::int64_t i = 0; i < m; ++i) p[i] = std::exp(-0.5 * std::pow(box.centre(0, i), 2)) / std::sqrt(2 * std::numbers::pi);
  constexpr int kBlock = MixtureScore::kBlock;
  for (auto _ : state) {
    for (std::int64_t first = 0; first < m; first += kBlock) {
      double y[kBlock], out[kBlock];
      for (int j = 0; j < kBlock; ++j) y[j] = box.centre(0, std::min(first + j, m - 1));
      scheme.map_block(score, 30, y, out);
      for (int j = 0; j < kBlock && first + j < m; ++j) image[first + j] = out[j];
    }
    for (std::int64_t i = 0; i < m; ++i) {
      double sum = 0;
      const double yi = box.centre(0, i);
      for (std::int64_t j = 0; j < m; ++j) sum += p[j] * std::exp(-0.5 * std::pow(yi - image[j], 2) / var);
      next[i] = sum * dy * norm;
    }
    benchmark::DoNotOptimize(next.data());
  }
  state.counters["cells"] = static_cast<double>(m);
}

void BM_ChainLawStep2D(benchmark::State& state) { run_chain_step(state, LinearDiffusion::kinetic(1), 256); }

void BM_TransformFloor2D(benchmark::State& state) {
  constexpr int kCoarse = 256, kFine = 2 * kCoarse;
  std::vector<double> fine(kFine * kFine, 1.0), coarse(kCoarse * kCoarse);
  std::vector<fftw_complex> fine_hat(kFine * (kFine / 2 + 1)), coarse_hat(kCoarse * (kCoarse / 2 + 1));
  fftw_plan r2c = fftw_plan_dft_r2c_2d(kFine, kFine, fine.data(), fine_hat.data(), FFTW_ESTIMATE);
  fftw_plan c2r = fftw_plan_dft_c2r_2d(kCoarse, kCoarse, coarse_hat.data(), coarse.data(), FFTW_ESTIMATE);
  for (auto _ : state) {
    fftw_execute(r2c);
    for (std::size_t i = 0; i < coarse_hat.size(); ++i) coarse_hat[i][0] = fine_hat[i][0], coarse_hat[i][1] = 0;
    fftw_execute(c2r);
    benchmark::DoNotOptimize(coarse.data());
  }
  fftw_destroy_plan(r2c);
  fftw_destroy_plan(c2r);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  PetscInitialize(&argc, &argv, nullptr, nullptr);
  BENCHMARK(BM_ChainLawStep1D)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_DirectSumStep1D)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_ChainLawStep2D)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_TransformFloor2D)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PetscFinalize();
  return 0;
}
