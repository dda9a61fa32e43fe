// Kernels of the `spin` family on one rank, each beside a named reference:
//   * exact autoregressive sampling (the `exact` stage's draws: counter
//     uniforms, then the conditionals site by site) of the three models,
//     in samples·sites per second, against the operation-count floor of the
//     same draws: per site the two matrix–vector products of the
//     conditionals with the same site tensors and the normalisation, with
//     no draw, no branch and no packing, on preallocated vectors;
//     a NumPy reference of the same sampler is benchmarks/spin_sampling_numpy.py;
//   * the reverse jump process at L = 1000 (thinning, docs/spin.md (S7)), in candidates
//     per second, against the floor of a candidate: the three L-site passes
//     of 2 × 2 products its flip ratios and bound take.
#include <benchmark/benchmark.h>
#include <petscsys.h>

#include <vector>

#include "models/spin/model.hpp"
#include "models/spin/samplers.hpp"

using namespace twinflow;
using namespace twinflow::spin;

namespace {

constexpr std::int64_t kSamples = 1000;

ModelSpec model(int which) {
  ModelSpec m;
  if (which == 0) {
    m.length = 64;
  } else if (which == 1) {
    m.kind = ModelKind::kFredkin;
    m.length = 64;
    m.c = 0.6;
  } else {
    m.kind = ModelKind::kIsing2d;
    m.width = 4;
    m.length = 16;
    m.beta = 0.4;
  }
  return m;
}

void BM_SampleMps(benchmark::State& state) {
  const ModelSpec m = model(static_cast<int>(state.range(0)));
  const NoisedLaw law(data_law(m), 1.0);
  ExactSampler s(Ensemble::partition_bits(MPI_COMM_SELF, kSamples, m.sites()), law, 1);
  std::int64_t k = 0;
  for (auto _ : state) {
    s.advance_to(k++, 0.0);
    benchmark::DoNotOptimize(s.ensemble().bits.data());
  }
  state.SetLabel(m.name() + ", bond " + std::to_string(law.data().max_bond()));
  state.SetItemsProcessed(state.iterations() * kSamples * m.sites());
}

void BM_SampleFloor(benchmark::State& state) {
  // The same site tensors: per site the two products of the conditionals
  // and the normalisation, with no draw, no conditional and no packing.
  const ModelSpec m = model(static_cast<int>(state.range(0)));
  const Mps law = data_law(m);
  const int chi = law.max_bond();
  Eigen::VectorXd v(chi), w0(chi), w1(chi);
  for (auto _ : state) {
    for (std::int64_t n = 0; n < kSamples; ++n) {
      v.head(law.tensor(0, 0).rows()).setOnes();
      for (int i = 0; i < m.sites(); ++i) {
        const Eigen::MatrixXd &a0 = law.tensor(i, 0), &a1 = law.tensor(i, 1);
        const Eigen::Index in = a0.rows(), out = a0.cols();
        w0.head(out).noalias() = a0.transpose() * v.head(in);
        w1.head(out).noalias() = a1.transpose() * v.head(in);
        v.head(out) = (w0.head(out) + w1.head(out)) / (w0.head(out).sum() + w1.head(out).sum());
      }
    }
    benchmark::DoNotOptimize(v.data());
  }
  state.SetLabel(m.name() + ", bond " + std::to_string(chi));
  state.SetItemsProcessed(state.iterations() * kSamples * m.sites());
}

constexpr int kLongChain = 1000;

void BM_ReverseJumps(benchmark::State& state) {
  ModelSpec m;
  m.length = kLongChain;
  const NoisedLaw law(data_law(m), 1.0);
  std::int64_t candidates = 0;
  for (auto _ : state) {
    ReverseJumps r(Ensemble::partition_bits(MPI_COMM_SELF, 1, kLongChain), law, 1.5, 2);
    r.advance_to(1, 1.5);
    candidates += r.candidates();
  }
  state.SetItemsProcessed(candidates);
  state.SetLabel("candidates/s, L = 1000, T = 1.5");
}

void BM_ReverseCandidateFloor(benchmark::State& state) {
  const Eigen::Matrix2d a = Eigen::Matrix2d::Constant(0.5);
  Eigen::Vector2d v(1, 1);
  for (auto _ : state) {
    for (int pass = 0; pass < 3; ++pass)
      for (int i = 0; i < kLongChain; ++i) {
        v = a.transpose() * v;
        v *= 1.0 / v.sum();
      }
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("candidates/s at the floor");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  PetscInitialize(&argc, &argv, nullptr, nullptr);
  BENCHMARK(BM_SampleMps)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_SampleFloor)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  BENCHMARK(BM_ReverseJumps)->Unit(benchmark::kMillisecond)->MinTime(2.0);
  BENCHMARK(BM_ReverseCandidateFloor)->Unit(benchmark::kMicrosecond)->MinTime(1.0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PetscFinalize();
  return 0;
}
