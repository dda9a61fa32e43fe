// Matrix product states of the spin family against closed forms and brute
// force over all 2^L states: Ising chains (free partition function,
// correlations tanh(βJ)^{|i−j|}, with noise e^{−4γt} tanh(βJ)^{|i−j|}),
// Fredkin chains (the first-return recursion, Catalan numbers, the area law),
// the Ising cylinder (a ring transfer matrix) and Onsager's energy.
// Rank-local: every rank runs the same deterministic checks.
//
// Tolerances: every MPS result is a product of L normalised vector–matrix
// products, each exact to a few ulps (ε = 2.2e-16), so a probability carries
// a relative error of about L ε, and a logarithm, a running sum of L per-site
// logarithms, an absolute one of up to L ε |log| (partial sums no larger than
// the total). Hence 1e-13 relative on probabilities of the small chains
// (L ≤ 12: L ε ≈ 3e-15) and 1e-15 L |log Z| at L = 1000 (1e-12 relative);
// what is measured lies 10–100 times below. Correlations are differences of
// positive terms of unit size: 1e-13 absolute. The statistical checks use a
// fixed seed and a one-sided level of about 1e-6 (z = 4.75).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "models/spin/mps.hpp"
#include "models/spin/tests/configurations.hpp"

using namespace twinflow::spin;

namespace {

using Config = std::vector<std::uint8_t>;
constexpr double kInf = std::numeric_limits<double>::infinity();

const auto& config = test_support::configuration;

double s(std::uint8_t x) { return 2.0 * x - 1; }

double ising1d_energy(const Config& x, double J, double h) {
  double e = 0;
  for (std::size_t i = 0; i < x.size(); ++i) e -= h * s(x[i]) + (i + 1 < x.size() ? J * s(x[i]) * s(x[i + 1]) : 0);
  return e;
}

// Site (ring, p) is ring·W + p.
double ising2d_energy(int W, int L, const Config& x, double J, double h) {
  const auto at = [&](int ring, int p) { return s(x[static_cast<std::size_t>(ring * W + p)]); };
  double e = 0;
  for (int ring = 0; ring < L; ++ring)
    for (int p = 0; p < W; ++p) {
      e -= J * at(ring, p) * at(ring, (p + 1) % W) + h * at(ring, p);
      if (ring + 1 < L) e -= J * at(ring, p) * at(ring + 1, p);
    }
  return e;
}

// The area Σ_{k=0}^{L} h_k of a Dyck path, −1 off Dyck paths.
long fredkin_area(const Config& x) {
  long height = 0, area = 0;
  for (std::uint8_t b : x) {
    height += b ? 1 : -1;
    if (height < 0) return -1;
    area += height;
  }
  return height == 0 ? area : -1;
}

// The law ∝ exp(log_w) over all states, and log Σ exp(log_w).
std::vector<double> law(const std::vector<double>& log_w, double* log_z = nullptr) {
  double m = -kInf;
  for (double v : log_w) m = std::max(m, v);
  double z = 0;
  for (double v : log_w) z += std::exp(v - m);
  std::vector<double> p(log_w.size());
  for (std::size_t n = 0; n < p.size(); ++n) p[n] = std::exp(log_w[n] - m) / z;
  if (log_z) *log_z = m + std::log(z);
  return p;
}

template <class Energy>
std::vector<double> boltzmann(int sites, double beta, Energy energy, double* log_z = nullptr) {
  std::vector<double> log_w(std::size_t{1} << sites);
  for (std::size_t n = 0; n < log_w.size(); ++n) log_w[n] = -beta * energy(config(sites, static_cast<std::int64_t>(n)));
  return law(log_w, log_z);
}

std::vector<double> all_probabilities(const Mps& m) {
  std::vector<double> p(std::size_t{1} << m.sites());
  m.probabilities(0, static_cast<std::int64_t>(p.size()), p.data());
  return p;
}

// Uniform in (0, 1].
double uniform(std::mt19937_64& g) { return (static_cast<double>(g() >> 11) + 1) * 0x1p-53; }

// The one-sided 1e-6 quantile of χ² with k degrees of freedom (Wilson–Hilferty).
double chi2_limit(int k) {
  const double v = 2.0 / (9.0 * k);
  return k * std::pow(1 - v + 4.75 * std::sqrt(v), 3);
}

// Pearson's χ² of the counts of n samples against p (over the states with
// p > 0, each expected at least 5 times), and the degrees of freedom.
std::pair<double, int> chi2(const std::vector<double>& p, const std::vector<long>& counts, long n) {
  double c = 0;
  int cells = 0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (p[k] == 0) {
      EXPECT_EQ(counts[k], 0) << "state " << k << " has probability 0";
      continue;
    }
    const double e = p[k] * static_cast<double>(n);
    EXPECT_GE(e, 5) << "state " << k;
    c += (static_cast<double>(counts[k]) - e) * (static_cast<double>(counts[k]) - e) / e;
    ++cells;
  }
  return {c, cells - 1};
}

double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0;
  for (std::size_t k = 0; k < a.size(); ++k)
    e = std::max(e, a[k] == b[k] ? 0.0 : std::abs(a[k] - b[k]) / std::max(std::abs(a[k]), std::abs(b[k])));
  return e;
}

}  // namespace

TEST(SpinMps, Ising1dFreePartitionFunction) {
  // β J = 40 · 1.3 at L = 1000: e^{52 · 999} is far past the range of a double.
  for (const auto& [L, beta, J] : {std::tuple{1, 0.7, 1.3},
                                   {2, 0.7, 1.3},
                                   {16, 0.7, 1.3},
                                   {16, 0.4, -0.9},
                                   {1000, 0.7, 1.3},
                                   {1000, 40.0, 1.3},
                                   {1000, 0.01, 1.0}}) {
    const Mps m = ising1d(L, beta, J, 0);
    const double exact = ising1d_log_z_free(L, beta, J);
    EXPECT_NEAR(m.log_z(), exact, 1e-15 * std::max(1, L) * std::abs(exact)) << "L " << L << " beta " << beta;
    EXPECT_EQ(m.sites(), L);
    EXPECT_EQ(m.max_bond(), 2);
  }
}

TEST(SpinMps, Ising1dCorrelations) {
  const int L = 1000;
  const double beta = 0.4, J = 1, gamma = 0.5, t = 0.3;
  const Mps m = ising1d(L, beta, J, 0);
  const Mps noisy = m.channel(flip_kernel(gamma, t));
  const double th = std::tanh(beta * J), damp = std::exp(-4 * gamma * t);
  EXPECT_NEAR(noisy.log_z(), m.log_z(), 1e-12);  // the kernel is stochastic
  for (const auto& [i, j] : {std::pair{0, 1}, {1, 0}, {10, 20}, {500, 530}, {998, 999}, {0, 999}, {3, 40}}) {
    const double exact = std::pow(th, std::abs(i - j));
    EXPECT_NEAR(m.correlation(i, j), exact, 1e-13) << i << " " << j;
    EXPECT_NEAR(noisy.correlation(i, j), damp * exact, 1e-13) << i << " " << j;
  }
  for (int i : {0, 1, 499, 999}) {
    EXPECT_NEAR(m.spin(i), 0, 1e-13);
    EXPECT_EQ(m.correlation(i, i), 1);
    EXPECT_EQ(noisy.correlation(i, i), 1);
  }
}

TEST(SpinMps, Ising1dAgainstBruteForce) {
  const int L = 10;
  const double beta = 0.6, J = 0.8, h = 0.35;
  const Mps m = ising1d(L, beta, J, h);
  double log_z = 0;
  const auto p = boltzmann(
      L, beta, [&](const Config& x) { return ising1d_energy(x, J, h); }, &log_z);
  EXPECT_NEAR(m.log_z(), log_z, 1e-13 * std::abs(log_z));

  const auto q = all_probabilities(m);
  double sum = 0, from_log = 0;
  for (std::size_t n = 0; n < q.size(); ++n) {
    sum += q[n];
    const Config x = config(L, static_cast<std::int64_t>(n));
    from_log = std::max(from_log, std::abs(std::exp(m.log_prob(x.data())) - q[n]) / q[n]);
  }
  EXPECT_NEAR(sum, 1, 1e-13);
  EXPECT_LT(from_log, 1e-13);
  EXPECT_LT(max_rel(p, q), 1e-13);

  // A range in the middle, walked from an odd start.
  std::vector<double> part(300);
  m.probabilities(377, 300, part.data());
  for (std::size_t k = 0; k < part.size(); ++k) EXPECT_DOUBLE_EQ(part[k], q[377 + k]);

  // One- and two-point functions, a three-point product, the magnetisation.
  std::vector<double> mean(L, 0.0);
  double c27 = 0, c35 = 0, triple = 0;
  std::vector<double> ups(L + 1, 0.0);
  for (std::size_t n = 0; n < p.size(); ++n) {
    const Config x = config(L, static_cast<std::int64_t>(n));
    int k = 0;
    for (std::size_t i = 0; i < x.size(); ++i) mean[i] += p[n] * s(x[i]), k += x[i];
    c27 += p[n] * s(x[2]) * s(x[7]);
    c35 += p[n] * s(x[3]) * s(x[5]);
    triple += p[n] * (x[1] ? 2.0 : 0.5) * (x[4] ? -1.0 : 3.0) * (x[8] ? 1.0 : 0.0);
    ups[static_cast<std::size_t>(k)] += p[n];
  }
  for (int i = 0; i < L; ++i) EXPECT_NEAR(m.spin(i), mean[static_cast<std::size_t>(i)], 1e-13);
  EXPECT_NEAR(m.correlation(7, 2), c27, 1e-13);
  EXPECT_NEAR(m.correlation(3, 5), c35, 1e-13);
  EXPECT_NEAR(m.expect({{8, 0, 1}, {1, 0.5, 2}, {4, 3, -1}}), triple, 1e-13);
  EXPECT_EQ(m.expect({}), 1);
  const auto dist = m.sum_distribution(std::vector<int>(L, 1));
  ASSERT_EQ(dist.size(), ups.size());
  EXPECT_LT(max_rel(dist, ups), 1e-13);
}

TEST(SpinMps, Sampling) {
  std::mt19937_64 g(20240611);
  std::vector<double> u;
  // Ising chain with a field: all 64 states.
  {
    const int L = 6;
    const Mps m = ising1d(L, 0.5, 1.0, 0.3);
    const auto p = all_probabilities(m);
    const long n = 200000;
    std::vector<long> counts(p.size(), 0);
    Config x(L);
    u.resize(L);
    double log_error = 0;
    for (long k = 0; k < n; ++k) {
      for (double& v : u) v = uniform(g);
      const double lp = m.sample(u.data(), x.data());
      std::size_t index = 0;
      for (int i = 0; i < L; ++i) index = 2 * index + x[static_cast<std::size_t>(i)];
      ++counts[index];
      log_error = std::max(log_error, std::abs(lp - m.log_prob(x.data())));
    }
    EXPECT_LT(log_error, 1e-13);
    const auto [c, dof] = chi2(p, counts, n);
    EXPECT_EQ(dof, 63);
    EXPECT_LT(c, chi2_limit(dof)) << "chi2 " << c;
  }
  // Fredkin chain: only Dyck paths (14 of 256) are drawn.
  {
    const int L = 8;
    const Mps m = fredkin(L, 0.6);
    const auto p = all_probabilities(m);
    const long n = 100000;
    std::vector<long> counts(p.size(), 0);
    Config x(L);
    u.resize(L);
    for (long k = 0; k < n; ++k) {
      for (double& v : u) v = uniform(g);
      const double lp = m.sample(u.data(), x.data());
      ASSERT_GE(fredkin_area(x), 0);
      std::size_t index = 0;
      for (int i = 0; i < L; ++i) index = 2 * index + x[static_cast<std::size_t>(i)];
      ++counts[index];
      EXPECT_NEAR(lp, m.log_prob(x.data()), 1e-13);
    }
    const auto [c, dof] = chi2(p, counts, n);
    EXPECT_EQ(dof, 13);
    EXPECT_LT(c, chi2_limit(dof)) << "chi2 " << c;
  }
  // The edges of (0, 1]: u = 1 takes x = 1 only where it is certain, the
  // smallest u wherever it is possible.
  {
    const Mps m = fredkin(6, 0.4);
    std::vector<double> ones(6, 1.0), tiny(6, 0x1p-53);
    Config x(6);
    EXPECT_TRUE(std::isfinite(m.sample(ones.data(), x.data())));
    EXPECT_EQ(x, (Config{1, 0, 1, 0, 1, 0}));
    EXPECT_TRUE(std::isfinite(m.sample(tiny.data(), x.data())));
    EXPECT_EQ(x, (Config{1, 1, 1, 0, 0, 0}));
  }
  // L = 1000: log P(x) of the sample is that of log_prob.
  {
    const int L = 1000;
    const Mps m = ising1d(L, 0.8, 1.0, -0.1);
    Config x(L);
    u.resize(L);
    for (int k = 0; k < 5; ++k) {
      for (double& v : u) v = uniform(g);
      const double lp = m.sample(u.data(), x.data());
      ASSERT_TRUE(std::isfinite(lp));
      EXPECT_NEAR(lp, m.log_prob(x.data()), 1e-15 * L * std::abs(lp));
    }
  }
}

TEST(SpinMps, FlipLogRatios) {
  // Against differences of log_prob, all states of a chain with a field and
  // of a noisy Fredkin chain (every state has positive probability).
  for (const Mps& m : {ising1d(10, 0.6, 0.8, 0.35), fredkin(10, 0.7).channel(flip_kernel(1.0, 0.2))}) {
    const int L = m.sites();
    std::vector<double> out(static_cast<std::size_t>(L));
    double e = 0;
    for (std::int64_t n = 0; n < (std::int64_t{1} << L); ++n) {
      Config y = config(L, n);
      m.flip_log_ratios(y.data(), out.data());
      const double base = m.log_prob(y.data());
      for (int i = 0; i < L; ++i) {
        y[static_cast<std::size_t>(i)] ^= 1;
        e = std::max(e, std::abs(out[static_cast<std::size_t>(i)] - (m.log_prob(y.data()) - base)));
        y[static_cast<std::size_t>(i)] ^= 1;
      }
    }
    EXPECT_LT(e, 1e-13);
  }
  // Fredkin: a flip of a Dyck path leaves the Dyck paths (−inf); from a
  // non-path a flip may reach one (+inf) or not (−inf).
  {
    const int L = 8;
    const Mps m = fredkin(L, 0.6);
    const auto p = all_probabilities(m);
    std::vector<double> out(L);
    int plus = 0;
    for (std::int64_t n = 0; n < (std::int64_t{1} << L); ++n) {
      const Config y = config(L, n);
      m.flip_log_ratios(y.data(), out.data());
      for (int i = 0; i < L; ++i) {
        const double pf = p[static_cast<std::size_t>(n ^ (std::int64_t{1} << (L - 1 - i)))];
        const double pn = p[static_cast<std::size_t>(n)];
        const double expected = pf == 0 ? -kInf : pn == 0 ? kInf : std::log(pf / pn);
        EXPECT_EQ(out[static_cast<std::size_t>(i)], expected) << n << " " << i;
        plus += expected == kInf;
      }
    }
    EXPECT_GT(plus, 0);
  }
  // L = 1000: log_prob has an absolute error of about L · 1e-16 · |log P|.
  {
    const int L = 1000;
    const Mps m = ising1d(L, 0.5, 1.0, 0.2).channel(flip_kernel(0.3, 0.5));
    std::mt19937_64 g(7);
    Config y(L);
    for (auto& b : y) b = static_cast<std::uint8_t>(g() & 1);
    std::vector<double> out(L);
    m.flip_log_ratios(y.data(), out.data());
    const double base = m.log_prob(y.data());
    double e = 0;
    for (int i = 0; i < L; ++i) {
      y[static_cast<std::size_t>(i)] ^= 1;
      e = std::max(e, std::abs(out[static_cast<std::size_t>(i)] - (m.log_prob(y.data()) - base)));
      y[static_cast<std::size_t>(i)] ^= 1;
    }
    EXPECT_LT(e, 1e-15 * L * std::abs(base));
  }
}

TEST(SpinMps, ChannelAndPosterior) {
  // The noisy law P_t(y) = Σ_x P(x) Π_i K(y_i | x_i), by brute force.
  const int L = 8;
  const Mps m = fredkin(L, 0.6);
  const Eigen::Matrix2d K = flip_kernel(0.7, 0.4);
  const auto p = all_probabilities(m);
  const auto kernel = [&](const Eigen::Matrix2d& k, std::int64_t a, std::int64_t b) {
    double w = 1;
    for (int i = 0; i < L; ++i) w *= k((a >> i) & 1, (b >> i) & 1);
    return w;
  };
  std::vector<double> pt(p.size(), 0.0);
  for (std::size_t y = 0; y < p.size(); ++y)
    for (std::size_t x = 0; x < p.size(); ++x)
      pt[y] += p[x] * kernel(K, static_cast<std::int64_t>(y), static_cast<std::int64_t>(x));
  const Mps noisy = m.channel(K);
  EXPECT_LT(max_rel(all_probabilities(noisy), pt), 1e-13);

  // A non-stochastic kernel: Z' = Σ_x w(x) Π_i (K(0, x_i) + K(1, x_i)).
  Eigen::Matrix2d B;
  B << 2, 0.5, 0.1, 1;
  double z = 0;
  for (std::size_t x = 0; x < p.size(); ++x) {
    double f = 1;
    for (int i = 0; i < L; ++i) f *= B.col((x >> i) & 1).sum();
    z += p[x] * f;
  }
  EXPECT_NEAR(m.channel(B).log_z(), m.log_z() + std::log(z), 1e-13 * std::abs(m.log_z()));

  // The posterior P(x | y) ∝ P(x) Π_i K(y_i | x_i) of an Ising chain.
  const Mps prior = ising1d(L, 0.5, 1.0, 0.2);
  const auto p0 = all_probabilities(prior);
  const Config y = {1, 0, 0, 1, 1, 1, 0, 1};
  std::int64_t yn = 0;
  std::vector<std::array<double, 2>> w(L);
  for (int i = 0; i < L; ++i) {
    yn = 2 * yn + y[static_cast<std::size_t>(i)];
    w[static_cast<std::size_t>(i)] = {K(y[static_cast<std::size_t>(i)], 0), K(y[static_cast<std::size_t>(i)], 1)};
  }
  std::vector<double> post(p0.size());
  double evidence = 0;
  for (std::size_t x = 0; x < p0.size(); ++x) evidence += post[x] = p0[x] * kernel(K, yn, static_cast<std::int64_t>(x));
  for (double& v : post) v /= evidence;
  const Mps posterior = prior.weighted(w);
  EXPECT_LT(max_rel(all_probabilities(posterior), post), 1e-13);
  // Z of the posterior is Z_0 · P_t(y).
  EXPECT_NEAR(posterior.log_z() - prior.log_z(), prior.channel(K).log_prob(y.data()), 1e-13);
  EXPECT_NEAR(posterior.log_z() - prior.log_z(), std::log(evidence), 1e-13);

  // Weights that forbid the first step up leave no Dyck path.
  std::vector<std::array<double, 2>> forbid(L, {1.0, 1.0});
  forbid[0] = {1.0, 0.0};
  EXPECT_THROW(m.weighted(forbid), std::invalid_argument);
  EXPECT_THROW(m.weighted(std::vector<std::array<double, 2>>(3, {1.0, 1.0})), std::invalid_argument);
}

TEST(SpinMps, FredkinPartitionFunction) {
  // Z_n(1) are the Catalan numbers, exact in doubles up to n = 20.
  const auto catalan = fredkin_partition(20, 1.0);
  double cn = 1;
  for (int n = 0; n <= 20; ++n) {
    EXPECT_EQ(catalan[static_cast<std::size_t>(n)], cn) << n;
    cn = cn * 2 * (2 * n + 1) / (n + 2);
  }
  for (double c : {0.3, 0.5, 0.7}) {
    const double y = std::sqrt(c / (1 - c));
    const auto z = fredkin_partition(20, y);
    for (int n = 1; n <= 20; ++n) {
      const Mps m = fredkin(2 * n, c);
      EXPECT_EQ(m.max_bond(), n + 1);
      const double exact = std::log(z[static_cast<std::size_t>(n)]);
      EXPECT_NEAR(m.log_z(), exact, 1e-13 * std::max(1.0, std::abs(exact))) << "c " << c << " n " << n;
    }
  }
  // L = 200 at c = 1/2: log C_100.
  EXPECT_NEAR(fredkin(200, 0.5).log_z(), std::lgamma(201.0) - std::lgamma(101.0) - std::lgamma(102.0), 1e-12);
  // y² = 2^{±27} ∓ 1 (c = 1 − 2^{−27} and 2^{−27}, exact in doubles) at
  // L = 200, where y^{L/2} leaves the range of a double: the extreme paths
  // dominate, log Z = n² log y + y^{−2} + O(y^{−4}) (the tent and its lowered
  // peak) and n log y + (n − 1) y² + O(n² y⁴) ((↑↓)^n and its n − 1 raised
  // valleys).
  const int n = 100;
  for (double c : {1 - 0x1p-27, 0x1p-27}) {
    const double y2 = c / (1 - c), log_y = 0.5 * std::log(y2);
    const double exact = c > 0.5 ? n * n * log_y + 1 / y2 : n * log_y + (n - 1) * y2;
    EXPECT_NEAR(fredkin(2 * n, c).log_z(), exact, 1e-13 * std::abs(exact)) << "c " << c;
  }
}

TEST(SpinMps, FredkinLaw) {
  const int L = 12;
  for (double c : {0.3, 0.7}) {
    const double log_y = 0.5 * std::log(c / (1 - c));
    const Mps m = fredkin(L, c);
    std::vector<double> log_w(std::size_t{1} << L);
    for (std::size_t k = 0; k < log_w.size(); ++k) {
      const long a = fredkin_area(config(L, static_cast<std::int64_t>(k)));
      log_w[k] = a < 0 ? -kInf : static_cast<double>(a) * log_y;
    }
    const auto p = law(log_w);
    const auto q = all_probabilities(m);
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (p[k] > 0) continue;
      EXPECT_EQ(q[k], 0) << k;
      EXPECT_EQ(m.log_prob(config(L, static_cast<std::int64_t>(k)).data()), -kInf) << k;
    }
    EXPECT_LT(max_rel(p, q), 1e-13);
    // area = Σ_j (L − j) s_j = 2 V − L(L + 1)/2 with V = Σ_j (L − j) x_j.
    std::vector<int> coefficients(L);
    for (int j = 0; j < L; ++j) coefficients[static_cast<std::size_t>(j)] = L - j;
    const auto dist = m.sum_distribution(coefficients);
    ASSERT_EQ(dist.size(), static_cast<std::size_t>(L * (L + 1) / 2 + 1));
    std::vector<double> by_area(dist.size(), 0.0);
    for (std::size_t k = 0; k < p.size(); ++k) {
      const long a = fredkin_area(config(L, static_cast<std::int64_t>(k)));
      if (a >= 0) by_area[static_cast<std::size_t>((a + L * (L + 1) / 2) / 2)] += p[k];
    }
    EXPECT_LT(max_rel(dist, by_area), 1e-13);
  }
}

TEST(SpinMps, Ising2dTransferMatrix) {
  // Z from rings of W spins: v_0(σ) = e^{−βE_ring(σ)},
  // v_{g+1}(τ) = Σ_σ v_g(σ) e^{βJ Σ_p σ_p τ_p − βE_ring(τ)}.
  for (const auto& [W, J, h] : {std::tuple{3, 1.0, 0.2}, {4, 1.0, 0.2}, {4, -0.7, 0.5}}) {
    const double beta = 0.4;
    const int n = 1 << W;
    const auto sp = [](int sigma, int p) { return 2.0 * ((sigma >> p) & 1) - 1; };
    Eigen::VectorXd ring(n);
    Eigen::MatrixXd T(n, n);
    for (int a = 0; a < n; ++a) {
      double e = 0;
      for (int p = 0; p < W; ++p) e -= J * sp(a, p) * sp(a, (p + 1) % W) + h * sp(a, p);
      ring(a) = std::exp(-beta * e);
    }
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) {
        double e = 0;
        for (int p = 0; p < W; ++p) e -= J * sp(a, p) * sp(b, p);
        T(a, b) = std::exp(-beta * e) * ring(b);
      }
    for (int L : {1, 2, 5}) {
      Eigen::VectorXd v = ring;
      for (int g = 1; g < L; ++g) v = T.transpose() * v;
      const Mps m = ising2d(W, L, beta, J, h);
      EXPECT_EQ(m.sites(), W * L);
      EXPECT_EQ(m.max_bond(), n);
      EXPECT_NEAR(m.log_z(), std::log(v.sum()), 1e-13 * std::log(v.sum())) << "W " << W << " L " << L;
    }
  }
}

TEST(SpinMps, Ising2dAgainstBruteForce) {
  const int W = 3, L = 3, N = W * L;
  const double beta = 0.45, J = 1, h = 0.15;
  const Mps m = ising2d(W, L, beta, J, h);
  double log_z = 0;
  const auto p = boltzmann(
      N, beta, [&](const Config& x) { return ising2d_energy(W, L, x, J, h); }, &log_z);
  EXPECT_NEAR(m.log_z(), log_z, 1e-13 * std::abs(log_z));
  EXPECT_LT(max_rel(all_probabilities(m), p), 1e-13);

  // Energy per site from the bond correlations and the spins.
  double energy = 0, triple = 0;
  std::vector<double> ups(N + 1, 0.0);
  for (std::size_t k = 0; k < p.size(); ++k) {
    const Config x = config(N, static_cast<std::int64_t>(k));
    energy += p[k] * ising2d_energy(W, L, x, J, h) / N;
    triple += p[k] * s(x[0]) * s(x[4]) * s(x[8]);
    int up = 0;
    for (std::uint8_t b : x) up += b;
    ups[static_cast<std::size_t>(up)] += p[k];
  }
  double e = 0;
  for (int ring = 0; ring < L; ++ring)
    for (int q = 0; q < W; ++q) {
      const int site = ring * W + q;
      e -= J * m.correlation(site, ring * W + (q + 1) % W) + h * m.spin(site);
      if (ring + 1 < L) e -= J * m.correlation(site, site + W);
    }
  EXPECT_NEAR(e / N, energy, 1e-13);
  EXPECT_NEAR(m.expect({{8, -1, 1}, {0, -1, 1}, {4, -1, 1}}), triple, 1e-13);
  EXPECT_LT(max_rel(m.sum_distribution(std::vector<int>(N, 1)), ups), 1e-13);
}

TEST(SpinMps, Onsager) {
  const double beta_c = 0.5 * std::log(1 + std::sqrt(2.0));
  EXPECT_NEAR(onsager_energy(beta_c), -std::sqrt(2.0), 1e-12);
  // Continuous through β_c: u + √2 = O(δ log δ) at β_c ± δ.
  for (double d : {-1e-10, 1e-10}) EXPECT_NEAR(onsager_energy(beta_c + d), -std::sqrt(2.0), 1e-8);
  // The ground state, u + 2 = O(e^{−8β}), also where sinh 2β overflows.
  for (double beta : {20.0, 400.0}) EXPECT_NEAR(onsager_energy(beta), -2, 1e-15);
  // u = −∂_β(−βf), −βf = ln 2 + (1/8π²) ∫∫ ln[cosh² 2β − sinh 2β (cos a + cos b)]:
  // the trapezoidal rule on the smooth periodic integrand, converged to
  // round-off away from β_c.
  for (double beta : {0.3, 0.6}) {
    const double c = std::cosh(2 * beta), sh = std::sinh(2 * beta);
    const int M = 256;
    double sum = 0;
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < M; ++j) {
        const double q = std::cos(2 * M_PI * i / M) + std::cos(2 * M_PI * j / M);
        sum += (4 * c * sh - 2 * c * q) / (c * c - sh * q);
      }
    EXPECT_NEAR(onsager_energy(beta), -0.5 * sum / (M * M), 1e-12) << "beta " << beta;
  }
  // The bulk energy at the middle ring of a W × W cylinder approaches u as
  // e^{−W/ξ}, ξ^{−1} = 2(β* − β) ≈ 1.2 at β = 0.2 (tanh β* = e^{−2β}): the gap
  // shrinks by 14 from W to W + 2 (by e^{2.4} ≈ 11 predicted), 6.9e-5 at W = 8.
  const double beta = 0.2, u = onsager_energy(beta);
  double previous = kInf;
  for (int W : {4, 6, 8}) {
    const Mps m = ising2d(W, W, beta, 1.0, 0);
    const int site = (W / 2) * W;
    const double gap = std::abs(-(m.correlation(site, site + 1) + m.correlation(site, site + W)) - u);
    EXPECT_LT(gap, previous / 8) << "W " << W;
    previous = gap;
  }
  EXPECT_LT(previous, 1e-4);
}

TEST(SpinMps, ArgumentChecks) {
  const Eigen::MatrixXd a = Eigen::MatrixXd::Ones(2, 2);
  EXPECT_THROW(Mps(Eigen::VectorXd::Ones(2), {}, Eigen::VectorXd::Ones(2)), std::invalid_argument);
  EXPECT_THROW(Mps(Eigen::VectorXd::Ones(3), {{a, a}}, Eigen::VectorXd::Ones(2)), std::invalid_argument);
  EXPECT_THROW(Mps(Eigen::VectorXd::Ones(2), {{a, Eigen::MatrixXd::Ones(2, 3)}}, Eigen::VectorXd::Ones(2)),
               std::invalid_argument);
  EXPECT_THROW(Mps(Eigen::VectorXd::Ones(2), {{a, -a}}, Eigen::VectorXd::Ones(2)), std::invalid_argument);
  EXPECT_THROW(Mps(Eigen::VectorXd::Ones(2), {{a, a}}, Eigen::VectorXd::Zero(2)), std::invalid_argument);
  const Mps m = ising1d(5, 0.3, 1, 0);
  EXPECT_THROW(m.expect({{1, 1, 1}, {1, 1, 1}}), std::invalid_argument);
  EXPECT_THROW(m.expect({{5, 1, 1}}), std::invalid_argument);
  EXPECT_THROW(m.sum_distribution({1, 2, 3}), std::invalid_argument);
  EXPECT_THROW(m.sum_distribution({1, 2, 3, 4, 10'000'000}), std::invalid_argument);
  double out[2];
  EXPECT_THROW(m.probabilities(31, 2, out), std::invalid_argument);
  EXPECT_THROW(ising1d(41, 0.3, 1, 0).probabilities(0, 1, out), std::invalid_argument);
  EXPECT_THROW(fredkin(7, 0.5), std::invalid_argument);
  EXPECT_THROW(fredkin(8, 1.0), std::invalid_argument);
  EXPECT_THROW(ising2d(2, 3, 0.3, 1, 0), std::invalid_argument);
  EXPECT_THROW(flip_kernel(-1, 1), std::invalid_argument);
  EXPECT_THROW(onsager_energy(0), std::invalid_argument);
}
