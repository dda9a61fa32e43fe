// The run model's shared pieces at 1, 2 and 3 ranks: state spaces and their
// histograms (reduced into owned blocks, points on faces shared), the field
// store, units partitioned with ranks that own none, and the sample-space
// metrics against a law they must match.
#include <gtest/gtest.h>
#include <mpi.h>
#include <petscsys.h>

#include <cmath>
#include <numeric>

#include "twinflow/compare/sample_metrics.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/rng/counter_rng.hpp"
#include "twinflow/run/field_store.hpp"
#include "twinflow/run/state_space.hpp"

using namespace twinflow;

namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// Every point of the ensemble from its global id, so any partition holds
// the same points.
template <class F>
Ensemble points(std::int64_t total, int dim, F&& point_of_id) {
  Ensemble e = Ensemble::partition(MPI_COMM_WORLD, total, dim);
  e.x.resize(static_cast<std::size_t>(e.count * dim));
  for (std::int64_t u = 0; u < e.count; ++u) point_of_id(e.first_id + u, &e.x[u * dim]);
  return e;
}

// The whole-space histogram (gathered), in cell probabilities.
std::vector<double> gathered_masses(const CellSpace& s, const Ensemble& e) {
  std::vector<double> owned, full;
  s.histogram(e, owned);
  s.gather(owned, 1, full);
  for (double& v : full) v *= s.cell_measure();
  return full;
}

}  // namespace

TEST(GridSpace, HistogramReducedIntoOwnedBlocksMatchesDirectCounting) {
  // 2-D, 7 × 5 cells (not divisible by the rank counts), points from a
  // counter RNG: the gathered histogram equals counts made directly from
  // every point, whatever the rank count.
  Box box;
  box.dim = 2;
  box.lower = {-1, -2, 0};
  box.upper = {1, 2, 0};
  box.cells = {7, 5, 1};
  const GridSpace grid(MPI_COMM_WORLD, box);
  const CounterRng rng(7, Stream::kData);
  const std::int64_t n = 10000;
  const auto point = [&](std::int64_t id, double* x) {
    x[0] = 2.4 * rng.uniform(static_cast<std::uint64_t>(id), 0) - 1.2;  // some outside the box
    x[1] = 4.4 * rng.uniform(static_cast<std::uint64_t>(id), 1) - 2.2;
  };
  const Ensemble e = points(n, 2, point);
  const std::vector<double> masses = gathered_masses(grid, e);
  std::vector<std::int64_t> direct(35, 0);
  for (std::int64_t id = 0; id < n; ++id) {
    double x[2];
    point(id, x);
    const std::int64_t c = grid.box().cell_of(x);
    if (c >= 0) ++direct[c];
  }
  // Counts are exact; mass = count / (N |cell|) · |cell| up to one rounding.
  for (std::size_t c = 0; c < direct.size(); ++c)
    EXPECT_NEAR(masses[c] * static_cast<double>(n), static_cast<double>(direct[c]), 1e-9) << "cell " << c;
}

TEST(GridSpace, APointOnAFaceIsSharedByTheCellsBesideIt) {
  // Cells of width 1 on [-2, 2]: 0 is a face (shared by cells 1 and 2), and
  // (0, 0) in 2-D a corner shared by four cells; the closed form shares a
  // point mass the same way.
  Box box;
  box.dim = 2;
  box.lower = {-2, -2, 0};
  box.upper = {2, 2, 0};
  box.cells = {4, 4, 1};
  const GridSpace grid(MPI_COMM_WORLD, box);
  const Ensemble e = points(8, 2, [](std::int64_t id, double* x) {
    x[0] = 0.0;
    x[1] = id % 2 == 0 ? 0.0 : 0.5;  // half on the corner, half inside on a face along x only
  });
  const std::vector<double> m = gathered_masses(grid, e);
  const auto at = [&](int i, int j) { return m[static_cast<std::size_t>(i * 4 + j)]; };
  // Corner (0, 0): a quarter of half the points in each of (1,1), (1,2), (2,1), (2,2);
  // (0, 0.5): half of half the points in each of (1,2), (2,2).
  EXPECT_DOUBLE_EQ(at(1, 1), 0.125);
  EXPECT_DOUBLE_EQ(at(2, 1), 0.125);
  EXPECT_DOUBLE_EQ(at(1, 2), 0.125 + 0.25);
  EXPECT_DOUBLE_EQ(at(2, 2), 0.125 + 0.25);
  EXPECT_DOUBLE_EQ(std::accumulate(m.begin(), m.end(), 0.0), 1.0);
  const GaussianMixture atom = GaussianMixture::parse("test", "1:0:0", 1);
  const double below[1] = {-1}, face[1] = {0}, above[1] = {1};
  EXPECT_DOUBLE_EQ(atom.box_probability(below, face), 0.5);
  EXPECT_DOUBLE_EQ(atom.box_probability(face, above), 0.5);
  // A face computed another way (lo + h rather than lower + i h) is the same face.
  const double lo[1] = {-0.1 - 0.2}, hi[1] = {-0.1 - 0.2 + 0.3};
  EXPECT_DOUBLE_EQ(atom.box_probability(lo, hi), 0.5);
}

TEST(StateVectorSpace, ConfigurationsAreCountedByTheirIndex) {
  // L = 5 sites, 2^5 states; configuration of unit u is the binary digits
  // of u mod 32 (site 0 the most significant), each state seen by 3 units.
  const int sites = 5;
  const StateVectorSpace states(MPI_COMM_WORLD, "states", sites);
  Ensemble e = Ensemble::partition_bits(MPI_COMM_WORLD, 96, sites);
  for (std::int64_t u = 0; u < e.count; ++u) {
    const std::int64_t index = (e.first_id + u) % 32;
    for (int i = 0; i < sites; ++i)
      if ((index >> (sites - 1 - i)) & 1) e.bits[static_cast<std::size_t>(u)] |= std::uint64_t{1} << i;
  }
  const std::vector<double> m = gathered_masses(states, e);
  ASSERT_EQ(m.size(), 32u);
  for (double v : m) EXPECT_DOUBLE_EQ(v, 1.0 / 32);
  // The layout is PETSc's for a Vec of 2^L entries.
  Vec v = states.create_vector();
  PetscInt lo = 0, hi = 0;
  VecGetOwnershipRange(v, &lo, &hi);
  EXPECT_EQ(lo, states.slab().start[0]);
  EXPECT_EQ(hi - lo, states.slab().count[0]);
  VecDestroy(&v);
}

TEST(BinSpace, AnObservableOfEachUnitIsBinned) {
  // The magnetisation Σ (2 x_i − 1) of 4 sites, integer-valued in [−4, 4]:
  // bins centred on the integers. Every unit has magnetisation 2.
  const int sites = 4;
  Ensemble e = Ensemble::partition_bits(MPI_COMM_WORLD, 10, sites);
  for (auto& w : e.bits) w = 0b0111;  // three sites up, one down
  const BinSpace bins(MPI_COMM_WORLD, "magnetisation", "sum of spins", -4.5, 4.5, 9,
                      [sites](const Ensemble& units, std::int64_t u) {
                        double m = 0;
                        for (int i = 0; i < sites; ++i) m += units.site(u, i) ? 1 : -1;
                        return m;
                      });
  const std::vector<double> m = gathered_masses(bins, e);
  for (int k = 0; k < 9; ++k) EXPECT_DOUBLE_EQ(m[k], k == 6 ? 1.0 : 0.0) << "bin " << k;
}

TEST(Ensemble, RanksMayOwnNoUnit) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const Ensemble e = Ensemble::partition(MPI_COMM_WORLD, 2, 1);
  std::int64_t total = e.count;
  MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(total, 2);
  if (size == 3 && world_rank() == 2) EXPECT_EQ(e.count, 0);
  // A histogram with a rank that owns nothing still works.
  Box box;
  box.dim = 1;
  box.lower = {0, 0, 0};
  box.upper = {1, 0, 0};
  box.cells = {3, 1, 1};
  const GridSpace grid(MPI_COMM_WORLD, box);
  const Ensemble two = points(2, 1, [](std::int64_t id, double* x) { x[0] = id == 0 ? 0.1 : 0.9; });
  const std::vector<double> m = gathered_masses(grid, two);
  EXPECT_DOUBLE_EQ(m[0], 0.5);
  EXPECT_DOUBLE_EQ(m[1], 0.0);
  EXPECT_DOUBLE_EQ(m[2], 0.5);
}

TEST(FieldStore, EntriesAreGatheredOnDemand) {
  Box box;
  box.dim = 2;
  box.lower = {0, 0, 0};
  box.upper = {1, 1, 0};
  box.cells = {6, 4, 1};
  const GridSpace grid(MPI_COMM_WORLD, box);
  FieldStore store(MPI_COMM_WORLD);
  // Two components per cell: the natural index and its negative.
  std::vector<double> owned;
  const Slab& s = grid.slab();
  for (std::int64_t i = 0; i < s.count[0]; ++i)
    for (std::int64_t j = 0; j < s.count[1]; ++j) {
      const double natural = static_cast<double>((s.start[0] + i) * 4 + s.start[1] + j);
      owned.push_back(natural);
      owned.push_back(-natural);
    }
  store.put("velocity", 0.25, grid, owned, 2);
  EXPECT_TRUE(store.has("velocity", 0.25 + 1e-12));
  EXPECT_FALSE(store.has("velocity", 0.5));
  std::vector<double> full;
  store.gather("velocity", 0.25, full);
  ASSERT_EQ(full.size(), 48u);
  for (int c = 0; c < 24; ++c) {
    EXPECT_EQ(full[2 * c], c);
    EXPECT_EQ(full[2 * c + 1], -c);
  }
  EXPECT_THROW(store.gather("velocity", 0.5, full), RuntimeFailure);
}

TEST(SampleSpace, ExactSamplesOfTheLawMatchItWithinTheirErrors) {
  // d = 8: samples of N(m, diag(s²)) drawn with the law's own sampler from
  // another seed. Every z-score is the largest over the entries (8 means,
  // 36 covariances); at 4.5 each, the familywise level is 44 × 6.8e-6 =
  // 3e-4. The sliced W1 sits within 3× its noise level, the mean
  // log-likelihoods within 4.5 standard errors.
  const int d = 8;
  std::string spec = "1:";
  for (int a = 0; a < d; ++a) spec += (a ? "," : "") + std::to_string(0.1 * a);
  spec += ":";
  for (int a = 0; a < d; ++a) spec += (a ? "," : "") + std::to_string(0.5 + 0.1 * a);
  const MixtureLaw law(GaussianMixture::parse("test", spec, d));
  Ensemble e = Ensemble::partition(MPI_COMM_WORLD, 20000, d);
  law.sample(e, 11, e.x);
  const SampleComparison c = compare_samples(MPI_COMM_WORLD, e, law, 12);
  EXPECT_LT(c.mean_max_z, 4.5);
  EXPECT_LT(c.covariance_max_z, 4.5);
  EXPECT_LT(std::abs(c.loglik - c.loglik_reference), 4.5 * c.loglik_se);
  EXPECT_LT(c.sliced_w1, 3 * c.sliced_w1_noise);
  // A shifted law is seen: the mean of every coordinate moved by 0.05 s.d.
  // of N = 20000 samples is 7 standard errors.
  Ensemble shifted = e;
  for (std::int64_t u = 0; u < shifted.count; ++u)
    for (int a = 0; a < d; ++a) shifted.x[u * d + a] += 0.05 * std::sqrt(0.5 + 0.1 * a);
  EXPECT_GT(compare_samples(MPI_COMM_WORLD, shifted, law, 12).mean_max_z, 5.0);
}
