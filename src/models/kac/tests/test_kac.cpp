// The `kac` family against docs/kac.md (C1)–(C9): the Kac law (mass, moments, v_K, the
// diffusion limit), the telegrapher PDE (mass, E K_t², the closed form away
// from the fronts with its observed order), the exact Kac process, the Kac
// flow recovering a two-point law, and rank-count independence. Runs at 1,
// 2 and 3 ranks; statistical checks use fixed seeds and 4.5 standard errors
// (two-sided normal level 1 − 7e-6).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "fixture.hpp"
#include "models/kac/generative_metrics.hpp"
#include "models/kac/kac_law.hpp"
#include "models/kac/samplers.hpp"
#include "twinflow/compare/metrics.hpp"

using namespace twinflow;
using namespace twinflow::kac;
using twinflow::testing::gather_positions;
using twinflow::testing::make_run;

namespace {

struct Params {
  double a, c, t;
};
const Params kCases[] = {{9, 3, 0.3}, {9, 3, 1}, {900, 30, 0.5}, {1, 1, 2}};

TEST(KacLaw, AtomsAndContinuousPartHaveUnitMass) {
  for (const auto& p : kCases) {
    const KacLaw law(p.a, p.c);
    const double ct = p.c * p.t;
    EXPECT_NEAR(law.interval_probability(p.t, 0, 0, -ct - 1, ct + 1), 1.0, 1e-10) << "a=" << p.a;
    // The continuous part alone: 1 − e^{−at}.
    EXPECT_NEAR(law.interval_probability(p.t, 0, 0, -ct * (1 - 1e-12), ct * (1 - 1e-12)), -std::expm1(-p.a * p.t),
                1e-10);
    // Smoothed by a Gaussian data component.
    EXPECT_NEAR(law.interval_probability(p.t, 0.5, 0.3, -ct - 10, ct + 10), 1.0, 1e-9);
  }
}

TEST(KacLaw, SecondMomentMatchesClosedForm) {
  for (const auto& p : kCases) {
    const KacLaw law(p.a, p.c);
    const KacQuadrature q = law.quadrature(p.t, 1e-2 * p.c * p.t);
    double m2 = 2 * law.atom_mass(p.t) * p.c * p.t * p.c * p.t;
    for (std::size_t i = 0; i < q.node.size(); ++i) m2 += q.density_weight[i] * q.node[i] * q.node[i];
    EXPECT_NEAR(m2, law.second_moment(p.t), 1e-10 * law.second_moment(p.t)) << "a=" << p.a;
  }
}

TEST(KacLaw, ConditionalVelocityIsOddBoundedAndFinite) {
  for (const auto& p : kCases) {
    const KacLaw law(p.a, p.c);
    const double ct = p.c * p.t;
    for (int i = 0; i <= 1000; ++i) {
      const double x = ct * (i / 1000.0);
      const double v = law.conditional_velocity(p.t, x);
      ASSERT_TRUE(std::isfinite(v)) << "a=" << p.a << " x=" << x;
      ASSERT_EQ(law.conditional_velocity(p.t, -x), -v);
      ASSERT_LE(std::abs(v), p.c);
      if (i < 1000) ASSERT_LT(std::abs(v), p.c);  // strictly inside the fronts
    }
  }
}

TEST(KacLaw, DiffusionLimitGivesXOver2t) {
  // a, c → ∞ with c²/(2a) = 1/2: v_K → x/(2t) (C6). The error must
  // fall as a grows, roughly like 1/a.
  const double t = 0.5;
  double previous = INFINITY;
  for (double a : {50.0, 500.0, 5000.0}) {
    const KacLaw law(a, std::sqrt(a));
    double worst = 0;
    for (int i = -20; i <= 20; ++i) {
      const double x = i / 10.0;
      worst = std::max(worst, std::abs(law.conditional_velocity(t, x) - x / (2 * t)));
    }
    EXPECT_LT(worst, 0.5 * previous) << "a=" << a;
    previous = worst;
  }
  EXPECT_LT(previous, 2e-3);
}

// L1 error of the PDE against the closed form at T over the cells at least
// `margin` inside the fronts of a point mass at 0 (cell-centred there).
struct PdeError {
  double l1, mass_drift, moment;
};

PdeError pde_error(int cells, double T, double margin) {
  auto r = make_run("kac", {"--grid.cells=" + std::to_string(cells), "--grid.lower=-3", "--grid.upper=3",
                     "--kac.data=1:0:0", "--time.end=" + std::to_string(T), "--pde.steps=10"});
  auto pde = r.model->make_density_solver(*r.grid);
  pde->advance_to(T);
  std::vector<double> block, exact;
  r.grid->owned_values(pde->density(), block);
  r.model->exact_density(T, *r.grid, exact);
  const Box& box = r.grid->box();
  const OwnedBlock& o = r.grid->owned();
  double s[2] = {0, 0};
  for (std::int64_t i = 0; i < o.count[0]; ++i) {
    const double x = box.centre(0, o.start[0] + i), h = box.spacing(0);
    if (std::abs(x) < 3 * T - margin) s[0] += std::abs(block[i] - exact[i]) * h;
    s[1] += block[i] * h * (x * x + h * h / 12);
  }
  MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  // The initial law is one cell of width h at 0: second moment h²/12.
  const double h = box.spacing(0);
  return {s[0], pde->max_mass_drift(), s[1] - h * h / 12};
}

TEST(Telegrapher, ConservesMassAndMatchesTheClosedFormAwayFromTheFronts) {
  // MUSCL is second order where the solution is smooth; the limiter clips
  // at the atoms, whose error spreads inward at speed c, so the measured
  // order away from the fronts is between 1 and 2 (1.29 when written). The
  // test asks for more than 1, and the same of E K_t².
  const double T = 0.5, margin = 0.3;
  const PdeError coarse = pde_error(201, T, margin), fine = pde_error(401, T, margin);
  const KacLaw law(9, 3);
  const double m2 = law.second_moment(T);
  const double order = std::log2(coarse.l1 / fine.l1);
  const double moment_order = std::log2(std::abs(coarse.moment - m2) / std::abs(fine.moment - m2));
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0)
    std::printf("telegrapher L1 away from fronts: %.3e (201 cells) -> %.3e (401 cells), order %.2f\n"
                "E K_t^2 relative error: %.2e -> %.2e, order %.2f\n",
                coarse.l1, fine.l1, order, std::abs(coarse.moment - m2) / m2, std::abs(fine.moment - m2) / m2,
                moment_order);
  EXPECT_LT(coarse.mass_drift, 1e-12);
  EXPECT_LT(fine.mass_drift, 1e-12);
  EXPECT_GT(order, 1.0);
  EXPECT_GT(moment_order, 1.0);
  EXPECT_LT(fine.l1, 1e-3);
  EXPECT_LT(std::abs(fine.moment - m2), 5e-3 * m2);
}

TEST(KacProcess, MomentsAndAtomsMatchTheClosedForm) {
  const KacLaw law(9, 3);
  const auto data = GaussianMixture::parse("t", "1:0:0", 1);
  const std::int64_t n = 200000;
  ForwardSampler fwd(Ensemble::partition(MPI_COMM_WORLD, n, 1), data, law, 11);
  for (double t : {0.1, 0.5}) {
    fwd.advance_to(0, t);
    double s[3] = {0, 0, 0};
    const Ensemble& e = fwd.ensemble();
    for (std::int64_t p = 0; p < e.count; ++p) {
      const double k2 = e.x[p] * e.x[p];
      s[0] += k2, s[1] += k2 * k2, s[2] += fwd.on_atom(p);
      ASSERT_LE(std::abs(e.x[p]), 3 * t * (1 + 1e-12));
    }
    MPI_Allreduce(MPI_IN_PLACE, s, 3, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    const double m2 = s[0] / n, se = std::sqrt((s[1] / n - m2 * m2) / n);
    EXPECT_NEAR(m2, law.second_moment(t), 4.5 * se) << "t=" << t;
    const double atoms = 2 * law.atom_mass(t);
    EXPECT_NEAR(s[2] / n, atoms, 4.5 * std::sqrt(atoms * (1 - atoms) / n)) << "t=" << t;
  }
}

TEST(KacFlow, ExactVelocityRecoversATwoPointLaw) {
  // Every generated sample lands on a data point; the split between them is
  // binomial, so W1 = 2 |p̂ − ½| and p̂ is within 4.5 standard errors of ½.
  const KacLaw law(9, 3);
  const auto data = GaussianMixture::parse("t", "0.5:-1:0;0.5:1:0", 1);
  const std::int64_t n = 20000;
  FlowSampler flow(kac_flow_start(Ensemble::partition(MPI_COMM_WORLD, n, 1), data, law, 3, 1.0), 1.0, 1.0, 50, "4",
                   std::make_shared<ExactVelocity>(data, law));
  flow.advance_to(50, 1.0);
  double s[2] = {0, 0};  // samples at +1, largest distance to a data point
  for (double x : flow.ensemble().x) {
    s[0] += x > 0;
    s[1] = std::max(s[1], std::min(std::abs(x - 1), std::abs(x + 1)));
  }
  MPI_Allreduce(MPI_IN_PLACE, &s[0], 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &s[1], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_LT(s[1], 1e-9);
  EXPECT_NEAR(s[0] / n, 0.5, 4.5 * std::sqrt(0.25 / n));
  const double w1 = w1_to_cdf(MPI_COMM_WORLD, flow.ensemble().x.data(), flow.ensemble().count, 1, 0, n,
                              [&](double x) { return data.marginal_cdf(0, x); }, -3, 3, 1 << 16);
  EXPECT_LT(w1, 2 * 4.5 * std::sqrt(0.25 / n) + 1e-3);
}

TEST(KacParticles, BitIdenticalToASingleRankRun) {
  // Forward process and flow, 2-D, including ranks that own no particle.
  const KacLaw law(9, 3);
  const auto data = GaussianMixture::parse("t", "0.5:-1,0:0;0.5:1,1:0.04", 2);
  for (std::int64_t n : {2, 301}) {
    Ensemble serial;
    serial.dim = 2;
    serial.count = serial.total = n;
    ForwardSampler one(serial, data, law, 9);
    one.advance_to(0, 0.7);
    ForwardSampler many(Ensemble::partition(MPI_COMM_WORLD, n, 2), data, law, 9);
    many.advance_to(0, 0.7);
    EXPECT_EQ(gather_positions(many.ensemble()), one.ensemble().x) << "forward, n=" << n;
    FlowSampler flow_one(kac_flow_start(serial, data, law, 9, 0.7), 0.7, 0.7, 20, "4",
                         std::make_shared<ExactVelocity>(data, law));
    flow_one.advance_to(20, 0.7);
    FlowSampler flow_many(kac_flow_start(Ensemble::partition(MPI_COMM_WORLD, n, 2), data, law, 9, 0.7), 0.7, 0.7,
                          20, "4", std::make_shared<ExactVelocity>(data, law));
    flow_many.advance_to(20, 0.7);
    EXPECT_EQ(gather_positions(flow_many.ensemble()), flow_one.ensemble().x) << "flow, n=" << n;
  }
}

}  // namespace

// Exact samples of nine narrow, well separated modes in 2-D: every figure of
// GenerativeMetrics against its closed form. With modes 1 apart and standard
// deviation 1e-4 the mixture's log-density at a sample of mode k is that of
// component k alone to e^{-10^7}, so E log p = Σ_k w_k log w_k − log(2π s²) − 1
// (d = 2); its estimate must sit within 4.5 standard errors (two-sided 99.9993 %
// for the normal limit), and so must every mode weight (binomial, N = 9000).
TEST(GenerativeMetrics, ExactSamplesOfNarrowModesMeetTheClosedForms) {
  std::vector<GaussianComponent> comps;
  for (int x = -1; x <= 1; ++x)
    for (int y = -1; y <= 1; ++y) comps.push_back({1.0 / 9, {double(x), double(y)}, {1e-8, 0, 0, 1e-8}});
  const GaussianMixture data("kac.data", 2, comps);
  const std::int64_t n = 9000;
  Ensemble e = Ensemble::partition(MPI_COMM_WORLD, n, 2);
  e.x.resize(static_cast<std::size_t>(2 * e.count));
  const CounterRng rng(3, Stream::kData);
  for (std::int64_t p = 0; p < e.count; ++p) data.sample(rng, static_cast<std::uint64_t>(e.first_id + p), &e.x[2 * p]);
  const auto m = kac::GenerativeMetrics::measure(MPI_COMM_WORLD, data, e);
  const double expected = std::log(1.0 / 9) - std::log(2 * M_PI * 1e-8) - 1;
  EXPECT_NEAR(m.log_likelihood, expected, 4.5 * m.log_likelihood_stderr);
  EXPECT_EQ(m.near_mode, 1.0);
  const double noise = std::sqrt(1.0 / 9 * 8.0 / 9 / n);
  for (double w : m.mode_weights) EXPECT_NEAR(w, 1.0 / 9, 4.5 * noise);
  EXPECT_LE(m.mode_weight_error, 4.5 * noise);
  // The marginals are three atoms of 1/3 at the bins' resolution: W1 of
  // order the weights' noise times the atoms' spacing.
  EXPECT_LT(m.marginal_w1, 4.5 * 2 * std::sqrt(1.0 / 3 * 2.0 / 3 / n));
  // The same samples moved by 0.1 along x: none near a mode; the marginal
  // W1 is 0.1 on x and 0 on y, 0.05 averaged over the two coordinates.
  for (std::int64_t p = 0; p < e.count; ++p) e.x[2 * p] += 0.1;
  const auto moved = kac::GenerativeMetrics::measure(MPI_COMM_WORLD, data, e);
  EXPECT_EQ(moved.near_mode, 0.0);
  EXPECT_NEAR(moved.marginal_w1, 0.05, 4.5 * 2 * std::sqrt(1.0 / 3 * 2.0 / 3 / n));
  const auto back = kac::GenerativeMetrics::from_values(moved.values());
  EXPECT_EQ(back.values(), moved.values());
}
