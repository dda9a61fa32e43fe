// The components of the mfg family: the kernel score model (the analytic
// gradient of the implicit score-matching loss against central finite
// differences, the one-centre closed form, the independence of the loss
// from the partition of the samples, training to the exact minimiser), the
// toy data sets' moments, the heat bridge's transition law, and the
// trained kernel kept in a checkpoint.
//
// Tolerances: central differences with step h have truncation error
// O(h² f''') and round-off O(ε |f| / h); at h = 1e-5 and |f| ≈ 10 both are
// near 1e-9 relative, so 1e-6 leaves room without hiding a wrong term
// (a missing term is O(1)). The one-centre loss is a mean of n = 2e5 i.i.d.
// terms; its tolerance is 4.75 standard errors (two-sided level about 2e-6),
// the standard error estimated from the closed-form variance of the terms.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "models/mfg/data.hpp"
#include "models/mfg/heat_bridge.hpp"
#include "models/mfg/kernel_fit.hpp"
#include "models/mfg/kernel_score.hpp"
#include "models/mfg/toy_sets.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/rng/counter_rng.hpp"

using namespace twinflow;
using twinflow::mfg::KernelScoreModel;

namespace {

constexpr double kZ = 4.75;

// Points of N(0, scale² I_d), point-major, ids [first, first + n).
std::vector<double> gaussian_points(std::uint64_t first, std::int64_t n, int d, double scale, std::uint64_t seed) {
  const CounterRng rng(seed, Stream::kData);
  std::vector<double> x(static_cast<std::size_t>(n * d));
  for (std::int64_t i = 0; i < n; ++i) {
    rng.normals(first + static_cast<std::uint64_t>(i), 0, x.data() + i * d, d);
    for (int a = 0; a < d; ++a) x[static_cast<std::size_t>(i * d + a)] *= scale;
  }
  return x;
}

// This rank's even share [first, first + count) of n ids.
void share(std::int64_t n, std::int64_t& first, std::int64_t& count) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  count = n / size + (rank < n % size ? 1 : 0);
  first = rank * (n / size) + std::min<std::int64_t>(rank, n % size);
}

// This rank's share of the points 0..n−1 of N(0, scale² I_d); sets count.
std::vector<double> my_gaussian_points(std::int64_t n, int d, double scale, std::uint64_t seed, std::int64_t& count) {
  std::int64_t first = 0;
  share(n, first, count);
  return gaussian_points(static_cast<std::uint64_t>(first), count, d, scale, seed);
}

bool rank_zero() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
}

// The one-centre data: this rank's share of n points of N(0, τ² I_2).
struct OneCentreData {
  static constexpr int d = 2;
  static constexpr double tau = 0.6;
  std::int64_t n, count = 0;
  std::vector<double> x;
  OneCentreData(std::int64_t points, std::uint64_t seed)
      : n(points), x(my_gaussian_points(points, d, tau, seed, count)) {}
};

}  // namespace

TEST(MfgKernel, GradientMatchesFiniteDifferences) {
  for (const auto covariance : {KernelScoreModel::Covariance::kPerCentre, KernelScoreModel::Covariance::kShared})
  for (const double beta : {0.5, 0.8}) {
    const int d = 2;
    KernelScoreModel model(d, gaussian_points(1000, 3, d, 1.0, 3), 0.05, beta, 0.7, covariance);
    const CounterRng perturb(4, Stream::kFamily);
    for (std::size_t e = 0; e < model.parameters().size(); ++e)
      model.parameters()[e] += 0.2 * (perturb.uniform(e, 0) - 0.5);
    std::int64_t count = 0;
    const std::vector<double> x = my_gaussian_points(40, d, 1.3, 3, count);
    std::vector<double> g;
    model.loss(MPI_COMM_WORLD, x.data(), count, &g);
    for (std::size_t e = 0; e < g.size(); ++e) {
      const double h = 1e-5, keep = model.parameters()[e];
      model.parameters()[e] = keep + h;
      const double up = model.loss(MPI_COMM_WORLD, x.data(), count, nullptr);
      model.parameters()[e] = keep - h;
      const double down = model.loss(MPI_COMM_WORLD, x.data(), count, nullptr);
      model.parameters()[e] = keep;
      EXPECT_NEAR((up - down) / (2 * h), g[e], 1e-6 * (1 + std::abs(g[e]))) << "beta " << beta << " entry " << e;
    }
  }
}

// One centre at 0, data N(0, τ² I_d), Σ = σ² I: L(σ²) = d τ²/σ⁴ − 2c d/σ²
// with c = 1/(2β). Each term is |x|²/σ⁴ − 2c d/σ², of variance 2d τ⁴/σ⁸.
TEST(MfgKernel, OneCentreClosedForm) {
  const OneCentreData data(200000, 5);
  const int d = data.d;
  const double tau = data.tau;
  const std::int64_t n = data.n;
  for (const double beta : {0.5, 0.8})
    for (const double sigma2 : {0.25, 0.36, 0.49}) {
      const KernelScoreModel model(d, {0.0, 0.0}, 0.0, beta, std::sqrt(sigma2));
      const double c = 1 / (2 * beta);
      const double exact = d * tau * tau / (sigma2 * sigma2) - 2 * c * d / sigma2;
      const double se = std::sqrt(2.0 * d) * tau * tau / (sigma2 * sigma2) / std::sqrt(static_cast<double>(n));
      EXPECT_NEAR(model.loss(MPI_COMM_WORLD, data.x.data(), data.count, nullptr), exact, kZ * se)
          << "beta " << beta << " sigma2 " << sigma2;
    }
}

// The same samples split over any number of ranks give the same bits.
TEST(MfgKernel, LossDoesNotDependOnThePartition) {
  const int d = 3;
  const KernelScoreModel model(d, gaussian_points(500, 5, d, 1.0, 9), 0.1, 0.5, 0.8);
  std::int64_t count = 0;
  const std::vector<double> mine = my_gaussian_points(101, d, 1.0, 9, count);
  const std::vector<double> all = gaussian_points(0, 101, d, 1.0, 9);
  std::vector<double> g_split, g_whole;
  const double split = model.loss(MPI_COMM_WORLD, mine.data(), count, &g_split);
  const double whole = model.loss(MPI_COMM_SELF, all.data(), 101, &g_whole);
  EXPECT_EQ(split, whole);
  EXPECT_EQ(g_split, g_whole);
}

// Means of the symmetric sets are 0 within 4.75 standard errors.
TEST(MfgToySets, SymmetricSetsAreCentred) {
  const CounterRng rng(7, Stream::kData);
  const std::int64_t n = 20000;
  for (const char* name : {"8gaussians", "pinwheel", "circles", "rings", "2spirals", "checkerboard"}) {
    double sum[2] = {0, 0}, sq[2] = {0, 0};
    for (std::int64_t i = 0; i < n; ++i) {
      double x[2];
      mfg::draw_toy_point(name, rng, static_cast<std::uint64_t>(i), x);
      for (int a = 0; a < 2; ++a) {
        sum[a] += x[a];
        sq[a] += x[a] * x[a];
      }
    }
    for (int a = 0; a < 2; ++a) {
      const double mean = sum[a] / n, sd = std::sqrt(sq[a] / n - mean * mean);
      EXPECT_NEAR(mean, 0.0, kZ * sd / std::sqrt(static_cast<double>(n))) << name << " axis " << a;
    }
  }
}

// Training one centre on N(0, τ² I_d) samples reaches P = I/(2β τ̂²) with τ̂²
// the samples' mean of |x|²/d (the exact minimiser of the empirical loss
// over isotropic P; the loss is minimised over all P, whose minimiser is
// the inverse of (2β times) the samples' second-moment matrix).
TEST(MfgKernel, TrainingOneCentreReachesTheSecondMoment) {
  const OneCentreData data(5000, 11);
  const int d = data.d;
  const std::int64_t n = data.n;
  const std::vector<double> all = gaussian_points(0, n, d, data.tau, 11);
  for (const double beta : {0.5, 0.8}) {
    KernelScoreModel model(d, {0.0, 0.0}, 0.0, beta, 1.0);
    const twinflow::MinimiseResult r = model.train(MPI_COMM_WORLD, data.x.data(), data.count, 200);
    EXPECT_LT(r.iterations, 200) << r.reason;
    // The exact minimiser: Σ = 2β · (1/n) Σ x xᵀ.
    double m[4] = {0, 0, 0, 0};
    for (std::int64_t i = 0; i < n; ++i)
      for (int a = 0; a < d; ++a)
        for (int b = 0; b < d; ++b) m[a * d + b] += all[i * d + a] * all[i * d + b] / n;
    const double det = m[0] * m[3] - m[1] * m[2];
    const double expected[4] = {m[3] / det / (2 * beta), -m[1] / det / (2 * beta), -m[2] / det / (2 * beta),
                                m[0] / det / (2 * beta)};
    const std::vector<double> p = model.precision(0);
    for (int e = 0; e < 4; ++e) EXPECT_NEAR(p[e], expected[e], 1e-6 * std::abs(expected[0])) << "beta " << beta;
  }
}

// One Gaussian component N(m, Σ): from exact samples of N(m, Σ + 2βτ I),
// the bridge's steps to τ' give exact samples of N(m, Σ + 2βτ' I) (a
// Gaussian step is exact in law for any step length). Mean and variance
// per coordinate and the covariance within 4.75 standard errors.
TEST(MfgHeatBridge, GaussianStepsKeepTheHeatMarginals) {
  const double beta = 0.8;
  const GaussianMixture terminal("test", 2, {{1.0, {0.5, -1.0}, {0.3, 0.1, 0.1, 0.2}}});
  mfg::HeatBridge bridge(terminal, beta);
  const std::vector<double> taus = {1.0, 0.4, 0.1, 0.0};
  const std::int64_t n = 40000;
  const CounterRng start(3, Stream::kReverseStart), noise(3, Stream::kReverse);
  std::vector<double> x(static_cast<std::size_t>(2 * n)), scratch;
  // Σ + 2βτ_0 I = [[1.9, 0.1], [0.1, 1.8]]: its Cholesky factor by hand.
  const double c00 = 1.9, c01 = 0.1, c11 = 1.8;
  const double l00 = std::sqrt(c00), l10 = c01 / l00, l11 = std::sqrt(c11 - l10 * l10);
  for (std::int64_t i = 0; i < n; ++i) {
    double z[2];
    start.normals(static_cast<std::uint64_t>(i), 0, z, 2);
    x[2 * i] = 0.5 + l00 * z[0];
    x[2 * i + 1] = -1.0 + l10 * z[0] + l11 * z[1];
  }
  for (std::size_t k = 0; k + 1 < taus.size(); ++k) {
    bridge.prepare(taus[k], taus[k + 1]);
    for (std::int64_t i = 0; i < n; ++i) {
      double z[2];
      noise.normals(static_cast<std::uint64_t>(i), k, z, 2);
      bridge.step(&x[2 * i], noise.uniform(static_cast<std::uint64_t>(i), k, 1), z, scratch);
    }
    const double v = 2 * beta * taus[k + 1];
    const double m[2] = {0.5, -1.0}, c[2][2] = {{0.3 + v, 0.1}, {0.1, 0.2 + v}};
    double sum[2] = {0, 0}, cross[2][2] = {{0, 0}, {0, 0}};
    for (std::int64_t i = 0; i < n; ++i)
      for (int a = 0; a < 2; ++a) {
        sum[a] += x[2 * i + a] - m[a];
        for (int b = 0; b < 2; ++b) cross[a][b] += (x[2 * i + a] - m[a]) * (x[2 * i + b] - m[b]);
      }
    const double rn = std::sqrt(static_cast<double>(n));
    for (int a = 0; a < 2; ++a) {
      EXPECT_NEAR(sum[a] / n, 0.0, kZ * std::sqrt(c[a][a]) / rn) << "tau " << taus[k + 1];
      for (int b = 0; b < 2; ++b)
        EXPECT_NEAR(cross[a][b] / n, c[a][b], kZ * std::sqrt(c[a][a] * c[b][b] + c[a][b] * c[a][b]) / rn)
            << "tau " << taus[k + 1] << " entry " << a << b;
    }
  }
}

// Point masses: the step to τ' = 0 puts every sample exactly on a mass,
// each mass receiving its weight (binomial, 4.75 standard errors).
TEST(MfgHeatBridge, PointMassesAreReachedExactly) {
  const double beta = 0.5, tau = 0.3;
  const std::vector<GaussianComponent> masses = {
      {0.2, {-1.0, 0.0}, {0, 0, 0, 0}}, {0.3, {1.0, 0.5}, {0, 0, 0, 0}}, {0.5, {0.0, -1.0}, {0, 0, 0, 0}}};
  const GaussianMixture terminal("test", 2, masses);
  const GaussianMixture start_law("test", 2, {{0.2, {-1.0, 0.0}, {tau, 0, 0, tau}}, {0.3, {1.0, 0.5}, {tau, 0, 0, tau}},
                                              {0.5, {0.0, -1.0}, {tau, 0, 0, tau}}});
  mfg::HeatBridge bridge(terminal, beta);
  bridge.prepare(tau, 0.0);
  const std::int64_t n = 20000;
  const CounterRng start(4, Stream::kReverseStart), noise(4, Stream::kReverse);
  std::vector<double> scratch;
  std::vector<std::int64_t> hits(masses.size(), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    double x[2], z[2];
    start_law.sample(start, static_cast<std::uint64_t>(i), x);
    noise.normals(static_cast<std::uint64_t>(i), 0, z, 2);
    bridge.step(x, noise.uniform(static_cast<std::uint64_t>(i), 0, 1), z, scratch);
    std::size_t on = masses.size();
    for (std::size_t k = 0; k < masses.size(); ++k)
      if (x[0] == masses[k].mean[0] && x[1] == masses[k].mean[1]) on = k;
    ASSERT_LT(on, masses.size()) << "sample " << i << " at (" << x[0] << ", " << x[1] << ")";
    ++hits[on];
  }
  for (std::size_t k = 0; k < masses.size(); ++k) {
    const double w = masses[k].weight;
    EXPECT_NEAR(static_cast<double>(hits[k]) / n, w, kZ * std::sqrt(w * (1 - w) / n)) << "mass " << k;
  }
}


// The family's default data (four modes of variance 0.05 at (±1.5, ±1.5)),
// 500 points: the first 100 are the centres, the other 400 the samples of
// the loss. The Fisher divergence E_π|∇log η_T − ∇log π|² is the loss on
// fresh points of π plus E_π|∇log π|² (docs/mfg.md (M7): the loss is the
// divergence up to that constant), estimated on the same 20 000 fresh points for
// every model, so the comparisons are paired.
//   Shared Σ: training from the bandwidths 0.1 and 0.7 reaches the same
// minimiser, whose divergence is below both starts'.
//   Per-centre Σ_i, from the shared minimiser: the samples' loss falls far
// below the shared minimum while the divergence rises: the kernels fit
// the samples, not π.
TEST(MfgKernel, SharedCovarianceIsWellPosedAndPerCentreOverfits) {
  const int d = 2;
  const std::int64_t M = 100, n = 400, fresh_n = 20000;
  const mfg::DataSource data(mfg::kDefaultData, d, M + n, 1);
  const std::vector<double> centres(data.training().begin(), data.training().begin() + M * d);
  std::int64_t first = 0, count = 0, fresh_first = 0, fresh_count = 0;
  share(n, first, count);
  share(fresh_n, fresh_first, fresh_count);
  const double* samples = data.training().data() + (M + first) * d;
  const std::vector<double> fresh = data.baseline(fresh_first, fresh_count);
  const MixtureScore pi(*data.mixture());
  double local = 0;
  for (std::int64_t i = 0; i < fresh_count; ++i) {
    double s[d];
    pi.score(fresh.data() + i * d, s);
    local += s[0] * s[0] + s[1] * s[1];
  }
  double pi_fisher = 0;
  MPI_Allreduce(&local, &pi_fisher, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  pi_fisher /= static_cast<double>(fresh_n);
  auto divergence = [&](const KernelScoreModel& m) {
    return m.loss(MPI_COMM_WORLD, fresh.data(), fresh_count, nullptr) + pi_fisher;
  };
  const auto shared = KernelScoreModel::Covariance::kShared;
  KernelScoreModel narrow(d, centres, 1e-3, 0.5, 0.1, shared), wide(d, centres, 1e-3, 0.5, 0.7, shared);
  const double narrow_start = divergence(narrow), wide_start = divergence(wide);
  const twinflow::MinimiseResult a = narrow.train(MPI_COMM_WORLD, samples, count, 100);
  const twinflow::MinimiseResult b = wide.train(MPI_COMM_WORLD, samples, count, 100);
  EXPECT_EQ(a.reason, "CONVERGED_GATOL");
  EXPECT_EQ(b.reason, "CONVERGED_GATOL");
  EXPECT_NEAR(a.value, b.value, 1e-9 * std::abs(a.value));
  const std::vector<double> pa = narrow.precision(0), pb = wide.precision(0);
  for (int e = 0; e < d * d; ++e) EXPECT_NEAR(pa[e], pb[e], 1e-5 * std::abs(pa[0]));
  const double trained = divergence(narrow);
  if (rank_zero())
    std::printf("shared: divergence %.3f from starts %.3f (bandwidth 0.1), %.3f (0.7), %lld and %lld iterations, "
              "loss %.4f\n",
              trained, narrow_start, wide_start, static_cast<long long>(a.iterations),
              static_cast<long long>(b.iterations), a.value);
  EXPECT_LT(trained, std::min(narrow_start, wide_start));

  KernelScoreModel per_centre(d, centres, 1e-3, 0.5, 0.1);
  for (std::int64_t i = 0; i < M; ++i)
    std::copy(narrow.parameters().begin(), narrow.parameters().end(), per_centre.parameters().begin() + i * 3);
  const twinflow::MinimiseResult c = per_centre.train(MPI_COMM_WORLD, samples, count, 30);
  const double overfit = divergence(per_centre);
  if (rank_zero())
    std::printf("per centre: samples' loss %.1f after %lld iterations (shared minimum %.4f), divergence %.3f\n",
              c.value, static_cast<long long>(c.iterations), a.value, overfit);
  EXPECT_LT(c.value, 2 * a.value);
  EXPECT_GT(overfit, 2 * trained);
}

// A kernel score taken from a checkpoint is the trained one, bit for bit,
// with its training figures: a restarted run does not train again.
TEST(MfgKernel, CheckpointRestoresTheTrainedModel) {
  OptionSet options;
  mfg::declare_kernel_options(options);
  const Config c = Config::parse(options, "", {"--mfg.kernel.centres=8", "--mfg.train.iterations=30"});
  const mfg::DataSource data(mfg::kDefaultData, 2, 60, 3);
  std::optional<mfg::KernelFit> trained = mfg::plan_kernel_score(c, data, 0.5, true);
  ASSERT_TRUE(trained);
  trained->train(MPI_COMM_WORLD, data);
  const std::string path = "test_mfg_kernel_checkpoint.h5";
  {
    CheckpointFile file = CheckpointFile::create(MPI_COMM_WORLD, path);
    CheckpointArchive a = file.archive().scope("kernel");
    trained->checkpoint(a);
    file.commit();
  }
  std::optional<mfg::KernelFit> restored = mfg::plan_kernel_score(c, data, 0.5, true);
  {
    CheckpointFile file = CheckpointFile::open(MPI_COMM_WORLD, path);
    CheckpointArchive a = file.archive().scope("kernel");
    restored->checkpoint(a);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank_zero()) std::remove(path.c_str());
  EXPECT_TRUE(restored->restored);
  EXPECT_FALSE(trained->restored);
  EXPECT_EQ(restored->model.parameters(), trained->model.parameters());
  EXPECT_EQ(restored->precisions, trained->precisions);
  EXPECT_EQ(restored->training.value, trained->training.value);
  EXPECT_EQ(restored->training.iterations, trained->training.iterations);
  EXPECT_EQ(restored->training.reason, trained->training.reason);
  EXPECT_EQ(restored->seconds, trained->seconds);
  ASSERT_EQ(restored->terminal.components().size(), trained->terminal.components().size());
  for (std::size_t i = 0; i < trained->terminal.components().size(); ++i)
    EXPECT_EQ(restored->terminal.components()[i].covariance, trained->terminal.components()[i].covariance);
}
