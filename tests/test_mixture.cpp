// Gaussian mixtures: the closed-form oracle docs/ou.md (O3) checked against
// itself by independent means (finite differences, quadrature, limits).
#include <gtest/gtest.h>

#include <cmath>

#include "twinflow/core/error.hpp"
#include "twinflow/math/gaussian_mixture.hpp"

using namespace twinflow;

TEST(Mixture, ScoreMatchesFiniteDifferencesOfLogDensity) {
  // Full covariance in 2-D (from a file-style component list).
  GaussianMixture m("t", 2, {{0.3, {-1, 0.5}, {0.5, 0.2, 0.2, 0.8}}, {0.7, {1.5, -1}, {0.3, -0.1, -0.1, 0.2}}});
  const MixtureScore s(m);
  const double h = 1e-5;
  for (double x0 : {-2.0, 0.1, 1.7})
    for (double x1 : {-1.5, 0.0, 2.2}) {
      double x[2] = {x0, x1}, g[2];
      s.score(x, g);
      for (int k = 0; k < 2; ++k) {
        double xp[2] = {x0, x1}, xm[2] = {x0, x1};
        xp[k] += h;
        xm[k] -= h;
        const double fd = (s.log_density(xp) - s.log_density(xm)) / (2 * h);
        // Central differences: error ~ h² |∂³ log p| ≈ 1e-10 here.
        EXPECT_NEAR(g[k], fd, 1e-7 * (1 + std::abs(fd)));
      }
    }
}

TEST(Mixture, ScoreBlockEqualsPointwiseScore) {
  const GaussianMixture m = GaussianMixture::parse("t", "0.25:-2:0.3;0.25:-0.5:0.1;0.5:1.5:0.6", 1).ou_marginal(0.2);
  const MixtureScore s(m);
  double x[MixtureScore::kBlock], b[MixtureScore::kBlock];
  for (int j = 0; j < MixtureScore::kBlock; ++j) x[j] = -3 + 0.8 * j;
  s.score_block(x, b);
  for (int j = 0; j < MixtureScore::kBlock; ++j) {
    double g = 0;
    s.score(&x[j], &g);
    EXPECT_NEAR(b[j], g, 1e-14 * (1 + std::abs(g)));
  }
}

TEST(Mixture, FarTailScoreStaysFinite) {
  // log-sum-exp: responsibilities do not underflow to 0/0 far from the data.
  const MixtureScore s(GaussianMixture::parse("t", "0.5:-1.5:0.01;0.5:1.5:0.01", 1).ou_marginal(1e-3));
  double x = 40, g = 0;
  s.score(&x, &g);
  EXPECT_TRUE(std::isfinite(g));
  EXPECT_LT(g, 0);
}

TEST(Mixture, BoxProbabilitiesSumToOne) {
  const GaussianMixture diag = GaussianMixture::parse("t", "0.5:-1:0.2,0.5;0.5:1:0.3", 2);
  GaussianMixture full("t", 2, {{1.0, {0.2, -0.3}, {0.5, 0.3, 0.3, 0.4}}});
  const GaussianMixture* laws[] = {&diag, &full};
  for (const GaussianMixture* m : laws) {
    double total = 0;
    const int n = 60;
    const double lo = -7, h = 14.0 / n;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        const double a[2] = {lo + i * h, lo + j * h}, b[2] = {a[0] + h, a[1] + h};
        total += m->box_probability(a, b);
      }
    // Gauss–Legendre with 4 nodes per cell: error ~ (h/σ)^8 tiny here.
    EXPECT_NEAR(total, 1.0, 1e-7);
  }
}

TEST(Mixture, OuMarginalMomentsAndLimit) {
  const GaussianMixture m = GaussianMixture::parse("t", "0.5:-1.5:0.25;0.5:1.5:0", 1);
  const double t = 0.7, a = std::exp(-t), a2 = std::exp(-2 * t);
  const auto mt = m.ou_marginal(t);
  // E X_t = e^{-t} E X_0 and E X_t² = e^{-2t} E X_0² + 1 − e^{-2t}.
  EXPECT_NEAR(mt.mean()[0], a * m.mean()[0], 1e-15);
  EXPECT_NEAR(mt.second_moment()[0], a2 * m.second_moment()[0] + 1 - a2, 1e-14);
  const auto far = m.ou_marginal(40);
  EXPECT_NEAR(far.second_moment()[0], 1.0, 1e-14);
}

TEST(Mixture, RejectsBadComponents) {
  EXPECT_THROW(GaussianMixture::parse("k", "-0.5:0:1;1.5:1:1", 1), UsageError);
  EXPECT_THROW(GaussianMixture::parse("k", "0.5:0:1;0.4:1:1", 1), UsageError);
  EXPECT_THROW(GaussianMixture::parse("k", "1:0:-1", 1), UsageError);
  EXPECT_THROW(GaussianMixture::parse("k", "1:0,0,0:1", 2), UsageError);
  EXPECT_THROW(GaussianMixture::parse("k", "0.5:0", 1), UsageError);
  EXPECT_THROW(GaussianMixture("k", 2, {{1.0, {0, 0}, {1, 2, 2, 1}}}), UsageError);  // indefinite
  EXPECT_NO_THROW(GaussianMixture::parse("k", "0.5:-1:0;0.5:1:0", 1));              // point masses
}
