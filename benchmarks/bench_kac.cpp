// Throughput of the `kac` family, each figure beside a named reference run:
//   * Kac events per second (exact process, a = 9, c = 3, T = 1, 1-D): the
//     reference is the floor of an event, one Philox uniform and one log;
//   * exact marginal velocity evaluations per second (two point masses): the
//     reference is the floor of an evaluation, the two GSL scaled Bessel
//     functions per component;
//   * one telegrapher PDE step on 2-D 512² cells (4 populations, ARKIMEX
//     PRSSP2): the reference is a memory-bound stream copy, and the
//     bound counts the least memory traffic of a step, one read and one
//     write of the state per stage (3 stages): step / bound is the ratio.
// Run on one rank; per core figures.
#include <benchmark/benchmark.h>
#include <gsl/gsl_sf_bessel.h>
#include <petscts.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "fixture.hpp"
#include "models/kac/samplers.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/grid/grid.hpp"
#include "twinflow/pde/ts_evolution.hpp"

using namespace twinflow;
using namespace twinflow::kac;

namespace {

constexpr std::int64_t kParticles = 1 << 18;
constexpr int kCells = 512;

const GaussianMixture& two_points() {
  static const GaussianMixture data = GaussianMixture::parse("bench", "0.5:-1:0;0.5:1:0", 1);
  return data;
}

void BM_KacEvents(benchmark::State& state) {
  const KacLaw law(9, 3);
  Ensemble e;
  e.count = e.total = kParticles;
  for (auto _ : state) {
    ForwardSampler fwd(e, two_points(), law, 1);
    fwd.advance_to(0, 1.0);
    benchmark::DoNotOptimize(fwd.ensemble().x.data());
  }
  // a T events per particle on average, plus the initial direction.
  state.SetItemsProcessed(state.iterations() * kParticles * 10);
}

void BM_EventFloorPhiloxLog(benchmark::State& state) {
  const CounterRng rng(1, Stream::kFamily);
  double sum = 0;
  for (auto _ : state) {
    for (std::int64_t p = 0; p < kParticles; ++p)
      for (std::uint64_t k = 0; k < 10; ++k) sum += std::log(rng.uniform(static_cast<std::uint64_t>(p), k, 0));
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kParticles * 10);
}

std::vector<double> points() {
  std::vector<double> x(kParticles);
  for (std::int64_t p = 0; p < kParticles; ++p) x[p] = -3.9 + 7.8 * static_cast<double>(p) / kParticles;
  return x;
}

void BM_ExactVelocity(benchmark::State& state) {
  ExactVelocity v(two_points(), KacLaw(9, 3));
  const auto x = points();
  std::vector<double> out(x.size());
  for (auto _ : state) {
    v.evaluate(0.97, x.data(), kParticles, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kParticles);
}

void BM_VelocityFloorBessel(benchmark::State& state) {
  const auto x = points();
  double sum = 0;
  for (auto _ : state)
    for (double xi : x)
      for (double m : {-1.0, 1.0}) {
        const double z = 3.0 * std::sqrt(std::max(0.0, 8.5 - (xi - m) * (xi - m)));
        sum += gsl_sf_bessel_I0_scaled(z) + gsl_sf_bessel_I1_scaled(z);
      }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kParticles);
}

struct PdeSetup {
  testing::Run run = testing::make_run("kac", {"--grid.dim=2", "--grid.cells=" + std::to_string(kCells),
                                               "--kac.data=0.5:-1,0:0.04;0.5:1,0:0.04", "--pde.steps=1000"});
};
std::unique_ptr<PdeSetup> the_setup;  // destroyed before PetscFinalize

void BM_TelegrapherStep(benchmark::State& state) {
  if (!the_setup) the_setup = std::make_unique<PdeSetup>();
  auto pde = the_setup->run.model->make_density_solver(*the_setup->run.grid);
  auto* ts = dynamic_cast<TsEvolution*>(pde.get());
  double t = 0;
  for (auto _ : state) {
    t += ts->nominal_step();
    pde->advance_to(t);
  }
  state.counters["cells"] = static_cast<double>(kCells) * kCells;
  state.counters["steps"] = static_cast<double>(pde->steps());
  // Least traffic of a step: 3 stages × (read + write) × 4 populations × 8 bytes per cell.
  state.counters["bound_bytes"] = 3.0 * 2 * 4 * 8 * kCells * kCells;
}

void BM_StreamCopyReference(benchmark::State& state) {
  // 256 MiB per array: far beyond the caches, as the PDE state of a large run.
  const std::size_t n = std::size_t{1} << 25;
  std::vector<double> a(n, 1.0), b(n);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), n * sizeof(double));
    benchmark::DoNotOptimize(b.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(2 * n * sizeof(double)));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  PetscInitialize(&argc, &argv, nullptr, nullptr);
  BENCHMARK(BM_KacEvents)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_EventFloorPhiloxLog)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_ExactVelocity)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_VelocityFloorBessel)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_TelegrapherStep)->Unit(benchmark::kMillisecond)->MinTime(2.0);
  BENCHMARK(BM_StreamCopyReference)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  the_setup.reset();
  PetscFinalize();
  return 0;
}
