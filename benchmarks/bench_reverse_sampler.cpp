// Reverse-sampler throughput: REL-EI steps with the exact score of an
// 8-component Gaussian mixture in d = 2, in particle-steps per second on one
// core. Reference run, side by side in the same binary: the same step
// written straightforwardly (one particle at a time, scalar log-sum-exp into
// a std::vector). The ratio is printed as a counter.
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <vector>

#include "twinflow/diffusion/samplers.hpp"
#include "twinflow/math/gaussian_mixture.hpp"

using namespace twinflow;

namespace {

constexpr std::int64_t kParticles = 1 << 16;
constexpr int kSteps = 8;

GaussianMixture eight_components() {
  std::string spec;
  for (int i = 0; i < 8; ++i) {
    const double a = 2 * M_PI * i / 8;
    spec += (i ? ";" : "") + std::string("0.125:") + std::to_string(2 * std::cos(a)) + "," +
            std::to_string(2 * std::sin(a)) + ":0.05,0.08";
  }
  return GaussianMixture::parse("bench", spec, 2);
}

void BM_ReverseRelEi(benchmark::State& state) {
  const GaussianMixture data = eight_components();
  Ensemble e;
  e.dim = 2;
  e.count = e.total = kParticles;
  for (auto _ : state) {
    state.PauseTiming();
    const LinearDiffusion ou = LinearDiffusion::ou(2);
    FixedStepSampler s(e, FixedStepScheme(ou, Scheme::kRelEi, 1.0, kSteps),
                       std::make_shared<MixtureMarginalScore>(ou, data), 1);
    state.ResumeTiming();
    s.advance_to(kSteps, 1.0);
    benchmark::DoNotOptimize(s.ensemble().x.data());
  }
  state.counters["particle_steps_per_s"] =
      benchmark::Counter(static_cast<double>(kParticles * kSteps), benchmark::Counter::kIsIterationInvariantRate);
}

// The straightforward implementation of the same REL-EI step.
void BM_ReverseRelEiStraightforward(benchmark::State& state) {
  const GaussianMixture data = eight_components();
  const CounterRng start(1, Stream::kReverseStart), noise(1, Stream::kReverse);
  std::vector<double> x(kParticles * 2);
  const double T = 1.0, h = T / kSteps;
  for (auto _ : state) {
    for (std::int64_t p = 0; p < kParticles; ++p) start.normals(p, 0, &x[2 * p], 2);
    for (int k = 0; k < kSteps; ++k) {
      const GaussianMixture law = data.ou_marginal(T - k * h);
      for (std::int64_t p = 0; p < kParticles; ++p) {
        std::vector<double> logw, sx, sy;
        for (const auto& c : law.components()) {
          const double vx = c.covariance[0], vy = c.covariance[3];
          const double dx = x[2 * p] - c.mean[0], dy = x[2 * p + 1] - c.mean[1];
          logw.push_back(std::log(c.weight) - 0.5 * std::log(4 * M_PI * M_PI * vx * vy) -
                         0.5 * (dx * dx / vx + dy * dy / vy));
          sx.push_back(-dx / vx);
          sy.push_back(-dy / vy);
        }
        double best = logw[0];
        for (double l : logw) best = std::max(best, l);
        double total = 0, gx = 0, gy = 0;
        for (std::size_t c = 0; c < logw.size(); ++c) {
          const double w = std::exp(logw[c] - best);
          total += w;
          gx += w * sx[c];
          gy += w * sy[c];
        }
        double z[2];
        noise.normals(p, k, z, 2);
        const double e = std::exp(-h), rel = 2 * (1 - e), sd = std::sqrt(1 - e * e);
        x[2 * p] = e * x[2 * p] + rel * (gx / total + x[2 * p]) + sd * z[0];
        x[2 * p + 1] = e * x[2 * p + 1] + rel * (gy / total + x[2 * p + 1]) + sd * z[1];
      }
    }
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["particle_steps_per_s"] =
      benchmark::Counter(static_cast<double>(kParticles * kSteps), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_ReverseRelEi)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_ReverseRelEiStraightforward)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_MAIN();
