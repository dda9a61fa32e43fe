// The neural velocity's training step on one rank (nn/velocity_network.hpp):
// forward pass, backward pass and Adam step of the MLP on (x, t) in 1-D,
// depth 3, float64, one thread, for a batch of 512 fixed pairs, at widths 64
// and 256. The named reference is the same step written in PyTorch on one
// thread, benchmarks/flow_matching_torch.py (same network, batch, loss,
// optimiser and pairs' law); the README records both side by side. The
// counter `flop_rate` is the step's multiply-adds of the linear layers
// (forward, and the two products of the backward pass, 2 flops each) over
// its time, against the core's double-precision peak. A whole training,
// pairs drawn by the Kac process included, reports its pairs per second in
// the output (/kac/neural_velocity, training_samples_per_second).
#include <benchmark/benchmark.h>
#include <mpi.h>

#include <cmath>
#include <vector>

#include "twinflow/nn/velocity_network.hpp"
#include "twinflow/rng/counter_rng.hpp"

using namespace twinflow;

namespace {

constexpr std::int64_t kBatch = 512;

void BM_TrainStep(benchmark::State& state) {
  const VelocityNetwork::Shape shape{1, static_cast<int>(state.range(0)), 3};
  VelocityNetwork net(shape, 1, 1e-3);
  // The script's pairs: x uniform on (−1, 1), t on (0, 1), y = 3 sin(3x)(1 − t).
  const CounterRng rng(1, Stream::kTrainingBatch);
  std::vector<double> x(kBatch), t(kBatch), y(kBatch);
  for (std::int64_t i = 0; i < kBatch; ++i) {
    x[i] = 2 * rng.uniform(static_cast<std::uint64_t>(i), 0) - 1;
    t[i] = rng.uniform(static_cast<std::uint64_t>(i), 1);
    y[i] = 3 * std::sin(3 * x[i]) * (1 - t[i]);
  }
  double loss = 0;
  for (auto _ : state) loss = net.train_step(MPI_COMM_SELF, x.data(), t.data(), y.data(), kBatch, kBatch);
  // Multiply-adds of the layers: (d + 1)·w + (depth − 1)·w² + w·d per pair.
  const double w = shape.width, d = shape.dim;
  const double macs = ((d + 1) * w + (shape.depth - 1) * w * w + w * d) * kBatch;
  state.counters["pairs_per_second"] =
      benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["flop_rate"] = benchmark::Counter(3 * 2 * macs, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["loss"] = loss;
  state.SetLabel("width " + std::to_string(shape.width) + ", depth 3, batch 512");
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  benchmark::Initialize(&argc, argv);
  BENCHMARK(BM_TrainStep)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->MinTime(1.0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  MPI_Finalize();
  return 0;
}
