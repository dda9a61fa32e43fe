// PDE step cost of the `ou` Fokker–Planck solver on a 2-D grid of 1024²
// cells (default TS: ARKIMEX L2, two implicit stages, GMRES + the default
// preconditioner, rtol 1e-13),
// with the Krylov iterations per step. Reference run, side by side: one
// sparse matrix-vector product with the same operator (the cheapest thing a
// step could cost); the ratio is step time / SpMV time. PETSc options on the
// command line (-pc_type gamg, -ksp_rtol ...) apply to the timed solver.
#include <benchmark/benchmark.h>
#include <petscts.h>

#include "fixture.hpp"
#include "models/ou/fokker_planck.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/grid/grid.hpp"
#include "twinflow/pde/linear_evolution.hpp"

using namespace twinflow;

namespace {

constexpr int kCells = 1024;

struct Setup {
  testing::Run run = testing::make_run("ou", {"--grid.dim=2", "--grid.cells=" + std::to_string(kCells),
                                              "--time.end=0.1", "--pde.steps=100"});
  const Grid& grid = *run.grid;
};

std::unique_ptr<Setup> the_setup;  // destroyed before PetscFinalize

Setup& setup() {
  if (!the_setup) the_setup = std::make_unique<Setup>();
  return *the_setup;
}

void BM_FokkerPlanckStep(benchmark::State& state) {
  Setup& s = setup();
  auto pde = s.run.model->make_density_solver(s.grid);
  auto* lin = dynamic_cast<LinearEvolution*>(pde.get());
  double t = 0;
  for (auto _ : state) {
    t += 1e-3;  // one step of the nominal dt = T / pde.steps
    pde->advance_to(t);
  }
  PetscInt iterations = 0;
  TSGetKSPIterations(lin->ts(), &iterations);
  state.counters["ksp_its_per_step"] = static_cast<double>(iterations) / static_cast<double>(pde->steps());
  state.counters["cells"] = static_cast<double>(kCells) * kCells;
}

void BM_SpMVReference(benchmark::State& state) {
  Setup& s = setup();
  Mat L = ou::assemble_fokker_planck(s.grid);
  Vec x = nullptr, y = nullptr;
  MatCreateVecs(L, &x, &y);
  VecSet(x, 1.0);
  for (auto _ : state) MatMult(L, x, y);
  VecDestroy(&x);
  VecDestroy(&y);
  MatDestroy(&L);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  PetscInitialize(&argc, &argv, nullptr, nullptr);
  BENCHMARK(BM_FokkerPlanckStep)->Unit(benchmark::kMillisecond)->MinTime(2.0);
  BENCHMARK(BM_SpMVReference)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  the_setup.reset();
  PetscFinalize();
  return 0;
}
