#include <cmath>

#include "fokker_planck.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/petsc_error.hpp"
#include "twinflow/diffusion/score_experiment.hpp"
#include "twinflow/pde/linear_evolution.hpp"

namespace twinflow::ou {
namespace {

// MATH.md §1: KL(μ | law Y_N) <= e^{−2T} KL(μ|γ) + h I(μ|γ) for REL-EI with
// exact scores.
double rel_ei_bound(const RelativeToGaussian& data, const GaussianMixture&, const Box&, double horizon, double h,
                    std::string& formula) {
  formula = "e^{-2T} KL(mu|gamma) + h I(mu|gamma) (REL-EI, exact score)";
  return std::exp(-2 * horizon) * data.kl + h * data.fisher_information;
}

class OuExperiment : public ScoreDiffusionExperiment {
 public:
  OuExperiment(const Config& c, MPI_Comm comm)
      : ScoreDiffusionExperiment(c, comm, LinearDiffusion::ou(static_cast<int>(c.integer("grid.dim"))),
                                 static_cast<int>(c.integer("grid.dim")), rel_ei_bound) {}

  std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid) override {
    std::vector<double> p0;
    exact_density(0.0, grid, p0);
    Vec v = nullptr;
    TF_CHECK_PETSC(DMCreateGlobalVector(grid.dm(), &v));
    grid.set_owned_values(p0, v);
    return std::make_unique<LinearEvolution>(grid, assemble_fokker_planck(grid), v, pde_step(),
                                             grid.box().cell_volume());
  }
};

}  // namespace

Family family() {
  return {"ou", "score diffusion on the Ornstein–Uhlenbeck semigroup (MATH.md §1)",
          [](OptionSet& o) { declare_score_family_options(o, "ou", "0.5:-1.5:0.25;0.5:1.5:0.25"); },
          [](const Config& c, MPI_Comm comm) { return std::make_unique<OuExperiment>(c, comm); },
          true};
}

}  // namespace twinflow::ou
