// Particle side of `ou`: the reverse schemes against the exact affine
// recursion for Gaussian data (docs/ou.md (O7)), the forward transition against
// the closed form, and rank-count independence. Runs at 1, 2 and 3 ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "fixture.hpp"
#include "twinflow/diffusion/samplers.hpp"
#include "twinflow/math/gaussian_mixture.hpp"

using namespace twinflow;

namespace {

// The `ou` reverse sampler of `scheme` with the closed-form score of `data`.
FixedStepSampler ou_sampler(Ensemble e, Scheme scheme, double T, int N, const GaussianMixture& data,
                            std::uint64_t seed) {
  const LinearDiffusion ou = LinearDiffusion::ou(data.dim());
  return FixedStepSampler(std::move(e), FixedStepScheme(ou, scheme, T, N),
                          std::make_shared<MixtureMarginalScore>(ou, data), seed);
}

struct Moments {
  double mean, var;
};

Moments global_moments(const Ensemble& e) {
  double s[2] = {0, 0};
  for (std::int64_t p = 0; p < e.count; ++p) s[0] += e.x[p], s[1] += e.x[p] * e.x[p];
  MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const double n = static_cast<double>(e.total), mean = s[0] / n;
  return {mean, s[1] / n - mean * mean};
}

// Mean and variance of Y_N for data N(m, v) from the affine recursion
// μ' = Aμ + B, P' = A²P + Q started at (0, 1).
Moments affine_recursion(Scheme scheme, double m, double v, double T, int N) {
  const double h = T / N;
  auto alpha_b = [&](double sigma, double& alpha, double& b) {
    const double vs = std::exp(-2 * sigma) * v + 1 - std::exp(-2 * sigma), ms = std::exp(-sigma) * m;
    alpha = -1 / vs;
    b = ms / vs;
  };
  double mu = 0, P = 1;
  for (int k = 0; k < N; ++k) {
    const double sigma = T - k * h;
    double al = 0, b = 0, A = 0, B = 0, Q = 0;
    alpha_b(sigma, al, b);
    switch (scheme) {
      case Scheme::kRelEi:
        A = std::exp(-h) + 2 * (1 - std::exp(-h)) * (1 + al);
        B = 2 * (1 - std::exp(-h)) * b;
        Q = 1 - std::exp(-2 * h);
        break;
      case Scheme::kAbsEi:
        A = std::exp(h) + 2 * (std::exp(h) - 1) * al;
        B = 2 * (std::exp(h) - 1) * b;
        Q = std::exp(2 * h) - 1;
        break;
      case Scheme::kEm:
        A = 1 + h * (1 + 2 * al);
        B = 2 * h * b;
        Q = 2 * h;
        break;
      case Scheme::kPfOde: {
        // Midpoint on f(σ, y) = (1 + α_σ) y + b_σ.
        double am = 0, bm = 0;
        alpha_b(sigma - 0.5 * h, am, bm);
        const double ck = 1 + al, cm = 1 + am;
        A = 1 + h * cm * (1 + 0.5 * h * ck);
        B = h * cm * 0.5 * h * b + h * bm;
        Q = 0;
        break;
      }
    }
    mu = A * mu + B;
    P = A * A * P + Q;
  }
  return {mu, P};
}

class ReverseSchemes : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(ReverseSchemes, GaussianDataMatchesAffineRecursion) {
  const Scheme scheme = parse_scheme(GetParam());
  const double m = 0.8, v = 0.3, T = 2.0;
  const int N = 20;
  const std::int64_t n = 200000;
  const GaussianMixture data = GaussianMixture::parse("t", "1:0.8:0.3", 1);
  auto s = ou_sampler(Ensemble::partition(MPI_COMM_WORLD, n, 1), scheme, T, N, data, 11);
  s.advance_to(N, T);
  const Moments got = global_moments(s.ensemble()), want = affine_recursion(scheme, m, v, T, N);
  // The generic recursion (matrix exponentials of A = −1, D = 2) reproduces
  // the scalar coefficients of (O7) to round-off.
  const auto generic = FixedStepScheme(LinearDiffusion::ou(1), scheme, T, N).affine_law([&](double sigma) {
    const double decay = std::exp(-sigma);
    return FixedStepScheme::Gaussian{Eigen::VectorXd::Constant(1, decay * m),
                                     Eigen::MatrixXd::Constant(1, 1, decay * decay * v + 1 - decay * decay)};
  });
  EXPECT_NEAR(generic.mean(0), want.mean, 1e-13) << GetParam();
  EXPECT_NEAR(generic.covariance(0, 0), want.var, 1e-13) << GetParam();
  // Fixed seed; bounds at 4.5 standard errors (two-sided 1 − 7e-6): mean
  // √(P/n), variance P √(2/n) for a Gaussian sample.
  EXPECT_NEAR(got.mean, want.mean, 4.5 * std::sqrt(want.var / n)) << GetParam();
  EXPECT_NEAR(got.var, want.var, 4.5 * want.var * std::sqrt(2.0 / n)) << GetParam();
  // The recursion itself approaches the data law as h → 0 (sanity of the oracle).
  EXPECT_NEAR(want.mean, m, 0.2);
}

INSTANTIATE_TEST_SUITE_P(Ou, ReverseSchemes, ::testing::Values("rel-ei", "abs-ei", "em", "pf-ode"));

TEST(LinearForwardSampler, ExactTransitionMoments) {
  const GaussianMixture data = GaussianMixture::parse("t", "0.5:-1.5:0.25;0.5:1.5:0", 1);
  const std::int64_t n = 200000;
  LinearForwardSampler s(Ensemble::partition(MPI_COMM_WORLD, n, 1), LinearDiffusion::ou(1), data, 3);
  s.advance_to(1, 0.3);
  s.advance_to(2, 0.8);
  const auto law = data.ou_marginal(0.8);
  const double var = law.second_moment()[0] - law.mean()[0] * law.mean()[0];
  const Moments got = global_moments(s.ensemble());
  EXPECT_NEAR(got.mean, law.mean()[0], 4.5 * std::sqrt(var / n));
  // Variance of the sample variance for a non-Gaussian law: bounded by
  // E X⁴ / n; E X⁴ < 3 (E X²)² + 2 here, so use that bound.
  const double m2 = law.second_moment()[0];
  EXPECT_NEAR(got.var, var, 4.5 * std::sqrt((3 * m2 * m2 + 2) / n));
}

TEST(Samplers, BitIdenticalToASingleRankRun) {
  // Every rank count must reproduce the serial ensemble exactly, including
  // ranks that own no particle (n = 5 on 3 ranks still gives all ranks some;
  // n = 2 leaves one empty).
  const GaussianMixture data = GaussianMixture::parse("t", "0.3:-1,0.5:0.2;0.7:1,-1:0.4,0.1", 2);
  for (std::int64_t n : {2, 1001}) {
    Ensemble serial;
    serial.dim = 2;
    serial.count = serial.total = n;
    auto one = ou_sampler(serial, Scheme::kRelEi, 1.0, 10, data, 5);
    one.advance_to(10, 1.0);
    auto many = ou_sampler(Ensemble::partition(MPI_COMM_WORLD, n, 2), Scheme::kRelEi, 1.0, 10, data, 5);
    many.advance_to(10, 1.0);
    const std::vector<double> all = twinflow::testing::gather_positions(many.ensemble());
    ASSERT_EQ(all.size(), one.ensemble().x.size());
    for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], one.ensemble().x[i]) << "n=" << n << " entry " << i;
  }
}

TEST(ReverseSampler, EightDimensionsMatchTheAffineRecursion) {
  // d = 8, data N(m, diag(s²)), exact scores, REL-EI: every coordinate of
  // Y_N against the Gaussian affine recursion (O7) (each
  // coordinate is the scalar recursion; the generic one runs in R^8).
  // Fixed seed; every mean and variance within 4.5 standard errors
  // (two-sided 1 − 7e-6 each, 1 − 1.1e-4 for all 16 together).
  const int d = 8, N = 40;
  const double T = 1.5;
  const std::int64_t n = 100000;
  std::string mean, var;
  for (int a = 0; a < d; ++a) {
    mean += (a ? "," : "") + std::to_string(-0.7 + 0.2 * a);
    var += (a ? "," : "") + std::to_string(0.2 + 0.1 * a);
  }
  const GaussianMixture data = GaussianMixture::parse("t", "1:" + mean + ":" + var, d);
  auto s = ou_sampler(Ensemble::partition(MPI_COMM_WORLD, n, d), Scheme::kRelEi, T, N, data, 19);
  s.advance_to(N, T);
  const Ensemble& e = s.ensemble();
  std::vector<double> sums(2 * d, 0.0);
  for (std::int64_t p = 0; p < e.count; ++p)
    for (int a = 0; a < d; ++a) sums[a] += e.x[p * d + a], sums[d + a] += e.x[p * d + a] * e.x[p * d + a];
  MPI_Allreduce(MPI_IN_PLACE, sums.data(), 2 * d, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const auto law = FixedStepScheme(LinearDiffusion::ou(d), Scheme::kRelEi, T, N).affine_law([&](double sigma) {
    const GaussianMixture marginal = LinearDiffusion::ou(d).marginal(data, sigma);
    const GaussianComponent& c = marginal.components().front();
    FixedStepScheme::Gaussian g{Eigen::VectorXd(d), Eigen::MatrixXd(d, d)};
    for (int i = 0; i < d; ++i) {
      g.mean(i) = c.mean[i];
      for (int k = 0; k < d; ++k) g.covariance(i, k) = c.covariance[i * d + k];
    }
    return g;
  });
  for (int a = 0; a < d; ++a) {
    const double got_mean = sums[a] / n, got_var = sums[d + a] / n - got_mean * got_mean;
    const double m = law.mean(a), v = law.covariance(a, a);
    const Moments scalar = affine_recursion(Scheme::kRelEi, -0.7 + 0.2 * a, 0.2 + 0.1 * a, T, N);
    EXPECT_NEAR(m, scalar.mean, 1e-12) << "coordinate " << a;
    EXPECT_NEAR(v, scalar.var, 1e-12) << "coordinate " << a;
    EXPECT_NEAR(got_mean, m, 4.5 * std::sqrt(v / n)) << "coordinate " << a;
    EXPECT_NEAR(got_var, v, 4.5 * v * std::sqrt(2.0 / n)) << "coordinate " << a;
  }
  // The coordinates are independent: the off-diagonal covariance is 0.
  for (int i = 0; i < d; ++i)
    for (int k = 0; k < d; ++k)
      if (i != k) EXPECT_NEAR(law.covariance(i, k), 0.0, 1e-14);
}
