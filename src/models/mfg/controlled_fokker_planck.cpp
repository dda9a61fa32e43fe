#include "controlled_fokker_planck.hpp"

#include <algorithm>

#include "samplers.hpp"
#include "twinflow/core/petsc_error.hpp"
#include "twinflow/pde/flux_operator.hpp"

namespace twinflow::mfg {
namespace {

// The drift b = −2∇log η at the grid's faces at heat time τ = T − t, with
// ∇log η the mixture score of H * N(0, 2βτ I).
FaceDrift drift_at(const GaussianMixture& terminal, double beta, double tau) {
  auto score = std::make_shared<MixtureScore>(heat_marginal(terminal, 2 * beta * std::max(tau, 0.0)));
  return [score](int axis, const double* face) {
    double s[3] = {0, 0, 0};
    score->score(face, s);
    return -2 * s[axis];
  };
}

}  // namespace

GaussianMixture grid_terminal(const GaussianMixture& terminal, const Box& box) {
  std::vector<GaussianComponent> components = terminal.components();
  const int d = terminal.dim();
  // A zero variance on an axis (semidefinite: its row and column are 0).
  for (GaussianComponent& c : components)
    for (int a = 0; a < d; ++a)
      if (double& v = c.covariance[static_cast<std::size_t>(a * d + a)]; v == 0) v = box.spacing(a) * box.spacing(a) / 12;
  return GaussianMixture("mfg.data", d, std::move(components));
}

std::unique_ptr<LinearEvolution> controlled_fokker_planck(const Grid& grid, const GaussianMixture& terminal,
                                                          double beta, double horizon, double dt) {
  // L(t) = β · (the drift-diffusion operator of b(t)).
  auto refill = [&grid, terminal, beta, horizon](double t, Mat L) {
    refill_drift_diffusion(grid, drift_at(terminal, beta, horizon - t), L);
    TF_CHECK_PETSC(MatScale(L, beta));
  };
  // The pattern only: the first callback refills L at its time.
  Mat L = assemble_drift_diffusion(grid, [](int, const double*) { return 0.0; });
  std::vector<double> rho0;
  cell_averages(heat_marginal(terminal, 2 * beta * horizon), grid, rho0);
  Vec v = nullptr;
  TF_CHECK_PETSC(DMCreateGlobalVector(grid.dm(), &v));
  grid.set_owned_values(rho0, v);
  return std::make_unique<LinearEvolution>(grid, L, refill, v, dt, grid.box().cell_volume(),
                                           kControlledOptionsPrefix);
}

}  // namespace twinflow::mfg
