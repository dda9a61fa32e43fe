// The spin family's master equations and samplers against their exact
// solutions (docs/spin.md (S2)–(S8)): the flip kernel against the MPS to
// round-off, the forward master equation against the kernel with RK4's
// order from two step sizes, the reverse master equation returning P_0,
// the generator across non-aligned rank blocks, and the exact samplers
// against the exact laws by a chi-square test at the 1e-5 level (fixed
// seeds), bit-identical at any rank count.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <numeric>

#include "models/spin/master_equation.hpp"
#include "models/spin/model.hpp"
#include "models/spin/samplers.hpp"

using namespace twinflow;
using namespace twinflow::spin;

namespace {

std::vector<double> block_of(const Mps& law, const StateVectorSpace& space) {
  std::vector<double> p(static_cast<std::size_t>(space.slab().count[0]));
  law.probabilities(space.slab().start[0], space.slab().count[0], p.data());
  return p;
}


double l1(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += std::abs(a[i] - b[i]);
  MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return s;
}

/// The chi-square quantile at upper tail 1e-5 (z = 4.265) by Wilson–Hilferty.
double chi_square_limit(double dof) {
  const double z = 4.265, c = 2.0 / (9 * dof);
  return dof * std::pow(1 - c + z * std::sqrt(c), 3);
}

/// Pearson's statistic of the configurations of e (all ranks) against p on
/// all 2^L states, cells with expected count below 5 pooled.
double chi_square(const Ensemble& e, const Mps& law, double& dof) {
  const int sites = e.sites;
  std::vector<double> counts(std::size_t{1} << sites, 0.0), p(counts.size());
  for (std::int64_t u = 0; u < e.count; ++u) {
    std::size_t index = 0;
    for (int i = 0; i < sites; ++i) index = (index << 1) | (e.site(u, i) ? 1 : 0);
    counts[index] += 1;
  }
  MPI_Allreduce(MPI_IN_PLACE, counts.data(), static_cast<int>(counts.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  law.probabilities(0, static_cast<std::int64_t>(p.size()), p.data());
  const auto n = static_cast<double>(e.total);
  double stat = 0, pooled_expected = 0, pooled_count = 0;
  dof = -1;
  for (std::size_t k = 0; k < p.size(); ++k) {
    const double expected = n * p[k];
    if (expected < 5) {
      pooled_expected += expected, pooled_count += counts[k];
      continue;
    }
    stat += (counts[k] - expected) * (counts[k] - expected) / expected;
    dof += 1;
  }
  if (pooled_expected > 0) {
    stat += (pooled_count - pooled_expected) * (pooled_count - pooled_expected) / pooled_expected;
    dof += 1;
  }
  return stat;
}

ModelSpec ising(int L, double beta = 0.5, double h = 0.2) {
  ModelSpec m;
  m.length = L;
  m.beta = beta;
  m.h = h;
  return m;
}

}  // namespace

TEST(FlipKernel, AgreesWithTheNoisedMpsToRoundOff) {
  const NoisedLaw law(data_law(ising(11)), 0.7);
  const StateVectorSpace space(MPI_COMM_WORLD, "states", 11);
  SiteFlips flips(space, 1);
  Vec v = space.create_vector(block_of(law.data(), space));
  apply_flip_kernel(flips, v, law.gamma(), 0.4);
  // Eleven 2×2 products of positive terms: round-off of a few ulps of each
  // probability, summed over 2^11 states.
  EXPECT_LT(l1(StateVectorSpace::owned_values(v), block_of(law.at(0.4), space)), 1e-13);
  VecDestroy(&v);
}

TEST(ForwardMasterEquation, ConvergesToTheKernelAtFourthOrder) {
  const NoisedLaw law(data_law(ising(10)), 1.0);
  const StateVectorSpace space(MPI_COMM_WORLD, "states", 10);
  const std::vector<double> exact = block_of(law.at(1.0), space);
  double error[2];
  for (int k = 0; k < 2; ++k) {
    const double dt = 0.05 / (1 << k);  // both below the stability limit 1/(γL) = 0.1
    ForwardMasterEquation me(space, law.gamma(), space.create_vector(block_of(law.data(), space)), dt);
    ASSERT_TRUE(me.advance_to(1.0));
    error[k] = l1(StateVectorSpace::owned_values(me.density()), exact);
    EXPECT_LT(me.max_mass_drift(), 1e-13);
  }
  // RK4: error ∝ dt⁴, ratio 16 at half the step (within 15 %).
  EXPECT_NEAR(error[0] / error[1], 16.0, 2.4) << error[0] << " " << error[1];
  EXPECT_LT(error[0], 1e-5);
}

TEST(ForwardMasterEquation, GeneratorMatchesSerialOnAnyRankBlocks) {
  // 2^9 states split by PETSc into blocks that at 3 ranks are not aligned
  // to any bit: several sites then have remote partners.
  const int sites = 9;
  const StateVectorSpace space(MPI_COMM_WORLD, "states", sites);
  const Mps p = data_law(ising(sites, 0.3, 0.5));
  ForwardMasterEquation me(space, 1.3, space.create_vector(block_of(p, space)), 0.01);
  Vec out = space.create_vector();
  me.apply_generator(me.density(), out);
  const std::vector<double> got = StateVectorSpace::owned_values(out);
  std::vector<double> all(std::size_t{1} << sites);
  p.probabilities(0, static_cast<std::int64_t>(all.size()), all.data());
  for (std::int64_t k = 0; k < space.slab().count[0]; ++k) {
    const std::int64_t x = space.slab().start[0] + k;
    double expected = -1.3 * sites * all[static_cast<std::size_t>(x)];
    for (int i = 0; i < sites; ++i) expected += 1.3 * all[static_cast<std::size_t>(x ^ (1 << (sites - 1 - i)))];
    EXPECT_NEAR(got[static_cast<std::size_t>(k)], expected, 1e-15);
  }
  VecDestroy(&out);
}

TEST(ReverseMasterEquation, ReturnsTheDataLawAtFourthOrder) {
  const NoisedLaw law(data_law(ising(8, 0.6, 0.3)), 1.0);
  const StateVectorSpace space(MPI_COMM_WORLD, "states", 8);
  const double horizon = 1.0;
  auto exact = [&](double tau, std::vector<double>& owned) { owned = block_of(law.at(tau), space); };
  double error[2];
  for (int k = 0; k < 2; ++k) {
    const double dt = 0.01 / (1 << k);  // below the Gershgorin limit (about 0.02 here)
    ReverseMasterEquation me(space, law.gamma(), horizon, space.create_vector(block_of(law.at(horizon), space)), dt, exact);
    ASSERT_TRUE(me.advance_to(horizon));
    error[k] = l1(StateVectorSpace::owned_values(me.density()), block_of(law.data(), space));
  }
  // RK4 again; the constant is that of dt⁴ times the fourth power of the
  // largest reverse rate (about 50 here): measured 3.4e-6 at dt = 0.01.
  EXPECT_NEAR(error[0] / error[1], 16.0, 3.2) << error[0] << " " << error[1];
  EXPECT_LT(error[0], 1e-5);
}

TEST(Samplers, ForwardFlipsFollowTheNoisedLaw) {
  const NoisedLaw law(data_law(ising(6, 0.8, 0.3)), 1.0);
  ForwardFlips f(Ensemble::partition_bits(MPI_COMM_WORLD, 40000, 6), law, 11);
  f.advance_to(1, 0.3);
  double dof = 0;
  const double stat = chi_square(f.ensemble(), law.at(0.3), dof);
  EXPECT_LT(stat, chi_square_limit(dof)) << "dof " << dof;
}

TEST(Samplers, ReverseJumpsReturnTheDataLawExactly) {
  const NoisedLaw law(data_law(ising(6, 0.8, 0.3)), 1.0);
  const double horizon = 1.0;
  ReverseJumps r(Ensemble::partition_bits(MPI_COMM_WORLD, 20000, 6), law, horizon, 12);
  r.advance_to(1, 0.5);
  double dof = 0;
  double stat = chi_square(r.ensemble(), law.at(0.5), dof);
  EXPECT_LT(stat, chi_square_limit(dof)) << "dof " << dof;
  r.advance_to(2, horizon);
  stat = chi_square(r.ensemble(), law.data(), dof);
  EXPECT_LT(stat, chi_square_limit(dof)) << "dof " << dof;
}

TEST(Samplers, BayesDenoiserSamplesThePosterior) {
  const NoisedLaw law(data_law(ising(6, 0.8, 0.3)), 1.0);
  BayesDenoiser d(Ensemble::partition_bits(MPI_COMM_WORLD, 20000, 6), law, 1.0, 13);
  d.advance_to(1, 1.0);
  double dof = 0;
  const double stat = chi_square(d.ensemble(), law.data(), dof);
  EXPECT_LT(stat, chi_square_limit(dof)) << "dof " << dof;
}

TEST(Samplers, FredkinReverseEndsOnDyckPaths) {
  ModelSpec m;
  m.kind = ModelKind::kFredkin;
  m.length = 8;
  m.c = 0.7;
  const NoisedLaw law(data_law(m), 1.0);
  // Down to t_min = 1e-6: the chance of ending off the Dyck paths is at most
  // 1 − P_{t_min}(Dyck) ≈ L γ t_min per configuration.
  ReverseJumps r(Ensemble::partition_bits(MPI_COMM_WORLD, 2000, 8), law, 1.0, 14);
  r.advance_to(1, 1.0 - 1e-6);
  std::int64_t off = 0;
  const Ensemble& e = r.ensemble();
  for (std::int64_t u = 0; u < e.count; ++u) {
    int height = 0;
    bool dyck = true;
    for (int i = 0; i < 8; ++i) dyck = dyck && (height += e.site(u, i) ? 1 : -1) >= 0;
    off += (dyck && height == 0) ? 0 : 1;
  }
  MPI_Allreduce(MPI_IN_PLACE, &off, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_LE(off, 1);
}

TEST(Samplers, ConfigurationsDoNotDependOnTheRankCount) {
  const NoisedLaw law(data_law(ising(7, 0.5, 0.1)), 1.0);
  const std::int64_t n = 301;
  auto run = [&](MPI_Comm comm) {
    ReverseJumps r(Ensemble::partition_bits(comm, n, 7), law, 1.0, 15);
    r.advance_to(1, 0.4);
    r.advance_to(2, 1.0);
    return r.ensemble();
  };
  const Ensemble mine = run(MPI_COMM_WORLD), serial = run(MPI_COMM_SELF);
  for (std::int64_t u = 0; u < mine.count; ++u)
    EXPECT_EQ(mine.bits[static_cast<std::size_t>(u)], serial.bits[static_cast<std::size_t>(mine.first_id + u)]);
}

TEST(Observables, SampleMeansMatchTheExactValues) {
  // ising2d on a 3 × 3 cylinder: exact samples' energy and |m| within 4.5
  // standard errors of the MPS values.
  ModelSpec m;
  m.kind = ModelKind::kIsing2d;
  m.width = 3;
  m.length = 3;
  m.beta = 0.4;
  const Mps p = data_law(m);
  const ModelObservables obs(m);
  const NoisedLaw law(p, 1.0);
  ExactSampler s(Ensemble::partition_bits(MPI_COMM_WORLD, 20000, 9), law, 16);
  s.advance_to(0, 0.0);
  const std::size_t k = obs.list().size();
  std::vector<double> sums(2 * k, 0.0), v(k);
  std::vector<std::uint8_t> x(9);
  const Ensemble& e = s.ensemble();
  for (std::int64_t u = 0; u < e.count; ++u) {
    unpack(e, u, x.data());
    obs.values(x.data(), v.data());
    for (std::size_t a = 0; a < k; ++a) sums[a] += v[a], sums[k + a] += v[a] * v[a];
  }
  MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(sums.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const std::vector<double> exact = obs.exact(p);
  for (std::size_t a = 0; a < k; ++a) {
    const double mean = sums[a] / 20000, se = std::sqrt((sums[k + a] / 20000 - mean * mean) / 19999);
    EXPECT_LT(std::abs(mean - exact[a]), 4.5 * se) << obs.list()[a].name;
  }
}

TEST(ClosedForms, FredkinLogPartitionBeyondTheRangeOfADouble) {
  // L = 256 at c = 0.7: Z ≈ 10^1400, past a double; the MPS's log Z and the
  // recursion in logarithms agree to the round-off of 256 site logarithms.
  ModelSpec m;
  m.kind = ModelKind::kFredkin;
  m.length = 256;
  m.c = 0.7;
  const double y = std::sqrt(0.7 / 0.3), lz = fredkin_log_partition(128, y);
  EXPECT_NEAR(data_law(m).log_z(), lz, 1e-12 * std::abs(lz));
  EXPECT_NEAR(fredkin_log_partition(10, 1.0), std::log(16796.0), 1e-13);  // Catalan C_10
}
