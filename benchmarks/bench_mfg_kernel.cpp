// The mfg family's kernel score on one rank: one evaluation of the implicit
// score-matching loss and its gradient in the Cholesky factors (what every
// TAO iteration of the training costs), for M centres and S samples in
// d = 2 of the family's default data, with the covariance shared by every
// centre or one per centre. The named reference is the same evaluation in
// straightforward vectorised NumPy, benchmarks/kernel_score_numpy.py (same
// sizes, same law, starting factors I / 0.3, δ = 1e-3, β = ½); the README
// records both side by side. A whole training is in the training-size
// study (jobs/mfg-n-study.sh), whose collector reports its wall time.
#include <benchmark/benchmark.h>
#include <mpi.h>
#include <petscsys.h>

#include <vector>

#include "models/mfg/data.hpp"
#include "models/mfg/kernel_score.hpp"

using namespace twinflow;
using twinflow::mfg::KernelScoreModel;

namespace {

// state.range(0): M (S = 4M); state.range(1): 1 shared, 0 per centre.
void BM_KernelLossAndGradient(benchmark::State& state) {
  const std::int64_t M = state.range(0), S = 4 * M;
  const bool shared = state.range(1) != 0;
  const mfg::DataSource data(mfg::kDefaultData, 2, M + S, 1);
  const std::vector<double>& points = data.training();
  const KernelScoreModel model(2, std::vector<double>(points.begin(), points.begin() + 2 * M), 1e-3, 0.5, 0.3,
                               shared ? KernelScoreModel::Covariance::kShared
                                      : KernelScoreModel::Covariance::kPerCentre);
  std::vector<double> gradient;
  double loss = 0;
  for (auto _ : state) {
    loss = model.loss(MPI_COMM_SELF, points.data() + 2 * M, S, &gradient);
    benchmark::DoNotOptimize(gradient.data());
  }
  state.counters["loss"] = loss;
  state.SetLabel(std::string(shared ? "shared" : "per centre") + ", M = " + std::to_string(M) +
                 ", S = " + std::to_string(S));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  PetscInitialize(&argc, &argv, nullptr, nullptr);
  BENCHMARK(BM_KernelLossAndGradient)
      ->ArgsProduct({{100, 1000}, {1, 0}})
      ->Unit(benchmark::kMillisecond)
      ->MinTime(1.0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PetscFinalize();
  return 0;
}
