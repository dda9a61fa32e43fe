// PDE side of `ou` against the closed-form mixture solution (docs/ou.md (O2), (O3)):
// error level, observed order from two resolutions, mass, positivity.
// Runs at 1, 2 and 3 ranks.
#include <gtest/gtest.h>
#include <petscvec.h>

#include <cmath>

#include "models/ou/fokker_planck.hpp"
#include "fixture.hpp"
#include "twinflow/compare/metrics.hpp"
#include "twinflow/grid/grid_score.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/pde/finite_volume.hpp"

using namespace twinflow;
using twinflow::testing::make_run;

namespace {

struct FpResult {
  double l1, mass_drift, min_density;
};

// Solves to T with dt ∝ h (ARKIMEX L2 and the flux are both second order, so the
// error should fall 4× per halving of h and dt together).
FpResult solve(int dim, int cells, double T, const std::string& target) {
  auto r = make_run("ou", {"--grid.dim=" + std::to_string(dim), "--grid.cells=" + std::to_string(cells),
                    "--time.end=" + std::to_string(T), "--pde.steps=" + std::to_string(cells / 2),
                    "--ou.target=" + target});
  auto pde = r.model->make_density_solver(*r.grid);
  pde->advance_to(T);
  std::vector<double> block, exact;
  r.grid->owned_values(pde->density(), block);
  r.model->exact_density(T, *r.grid, exact);
  PetscReal vmin = 0;
  VecMin(pde->density(), nullptr, &vmin);
  return {compare(PETSC_COMM_WORLD, r.grid->box(), exact, block, 0).l1, pde->max_mass_drift(), vmin};
}

}  // namespace

TEST(FokkerPlanck, Bernoulli) {
  EXPECT_DOUBLE_EQ(bernoulli(0.0), 1.0);
  EXPECT_NEAR(bernoulli(1e-9), 1 - 0.5e-9, 1e-16);
  EXPECT_NEAR(bernoulli(2.0), 2.0 / std::expm1(2.0), 1e-15);
  // B(−z) − B(z) = z: the flux of a uniform density is the drift.
  EXPECT_NEAR(bernoulli(-0.3) - bernoulli(0.3), 0.3, 1e-15);
}

TEST(FokkerPlanck, SecondOrderIn1D) {
  const std::string target = "0.5:-1.5:0.25;0.5:1.5:0.25";
  const FpResult coarse = solve(1, 128, 0.5, target), fine = solve(1, 256, 0.5, target);
  const double order = std::log2(coarse.l1 / fine.l1);
  RecordProperty("l1_coarse", std::to_string(coarse.l1));
  RecordProperty("l1_fine", std::to_string(fine.l1));
  std::printf("1-D: L1 %.3e (128 cells) %.3e (256 cells), observed order %.3f\n", coarse.l1, fine.l1, order);
  EXPECT_NEAR(order, 2.0, 0.25);
  EXPECT_LT(fine.l1, 1e-3);
  EXPECT_LT(fine.mass_drift, 1e-12);
  EXPECT_GE(fine.min_density, 0.0);
}

TEST(FokkerPlanck, SecondOrderIn2D) {
  const std::string target = "0.5:-1.5,0.5:0.3;0.5:1,-1:0.5,0.2";
  const FpResult coarse = solve(2, 32, 0.4, target), fine = solve(2, 64, 0.4, target);
  const double order = std::log2(coarse.l1 / fine.l1);
  std::printf("2-D: L1 %.3e (32²) %.3e (64²), observed order %.3f\n", coarse.l1, fine.l1, order);
  EXPECT_NEAR(order, 2.0, 0.3);
  EXPECT_LT(fine.mass_drift, 1e-12);
  EXPECT_GE(fine.min_density, 0.0);
}

TEST(FokkerPlanck, PointMassesStayPositiveAndConserveMass) {
  const FpResult r = solve(1, 128, 0.5, "0.5:-1:0;0.5:1:0");
  EXPECT_GE(r.min_density, 0.0);
  EXPECT_LT(r.mass_drift, 1e-12);
  // The L1 error against the closed form is finite and shrinks with time.
  EXPECT_LT(r.l1, 0.05);
}

TEST(GridScore, SecondOrderAgainstExactScore) {
  // ∇log p from cell averages of the OU marginal vs the closed-form score.
  const GaussianMixture law = GaussianMixture::parse("t", "0.5:-1.5:0.25;0.5:1.5:0.25", 1).ou_marginal(0.3);
  const MixtureScore exact(law);
  auto error = [&](int cells) {
    Box box;
    box.dim = 1;
    box.lower[0] = -6;
    box.upper[0] = 6;
    box.cells[0] = cells;
    std::vector<double> p(static_cast<std::size_t>(cells));
    for (int i = 0; i < cells; ++i) {
      const double lo = box.lower[0] + i * box.spacing(0), hi = lo + box.spacing(0);
      p[i] = law.box_probability(&lo, &hi) / box.spacing(0);
    }
    const GridScore g(box, p, 1e-10);
    double worst = 0;
    for (double x = -3; x <= 3; x += 0.0137) {
      double s = 0, e = 0;
      g.evaluate(&x, &s);
      exact.score(&x, &e);
      worst = std::max(worst, std::abs(s - e));
    }
    return worst;
  };
  const double e1 = error(200), e2 = error(400);
  std::printf("grid score: max error %.3e (200 cells) %.3e (400), order %.2f\n", e1, e2, std::log2(e1 / e2));
  EXPECT_NEAR(std::log2(e1 / e2), 2.0, 0.3);
  // Outside the box the score falls back to the Gaussian score −x.
  double x = 7, s = 0;
  const std::vector<double> flat(10, 0.1);
  Box box;
  box.lower[0] = -5;
  box.upper[0] = 5;
  box.cells[0] = 10;
  GridScore(box, flat, 1e-10).evaluate(&x, &s);
  EXPECT_EQ(s, -7.0);
}
