#include <cmath>

#include "fokker_planck.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/diffusion/score_experiment.hpp"

namespace twinflow::ou {
namespace {

// (O6) of docs/ou.md: KL(μ | law Y_N) <= e^{−2T} KL(μ|γ) + h I(μ|γ) for REL-EI with
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
    return linear_density_solver(grid, assemble_fokker_planck(grid));
  }
};

}  // namespace

Family family() {
  return {"ou", "score diffusion on the Ornstein–Uhlenbeck semigroup (docs/ou.md)",
          [](OptionSet& o) { declare_score_family_options(o, "ou", "0.5:-1.5:0.25;0.5:1.5:0.25"); },
          [](const Config& c, MPI_Comm comm) { return std::make_unique<OuExperiment>(c, comm); },
          true};
}

}  // namespace twinflow::ou
