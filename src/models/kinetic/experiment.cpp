#include "phase_space_fp.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/diffusion/score_experiment.hpp"

namespace twinflow::kinetic {
namespace {

// (K6) of docs/kinetic.md: KL(μ⊗γ | law Y_N) <= KL(p_T|γ^{2d}) + 2h I(μ|γ) + O(h²) for
// the kinetic REL-EI with exact scores; the O(h²) term is not included.
double kinetic_bound(const RelativeToGaussian& data, const GaussianMixture& terminal, const Box& box, double,
                     double h, std::string& formula) {
  formula = "KL(p_T|gamma^2d) + 2h I(mu|gamma), without the O(h^2) term (kinetic REL-EI, exact score)";
  return relative_to_standard_normal(terminal, box).kl + 2 * h * data.fisher_information;
}

int data_dimension(const Config& c) {
  const auto d = c.integer("grid.dim");
  if (d != 1)
    throw UsageError("grid.dim", "is " + std::to_string(d) + ", but the kinetic family runs in phase space (x, v) "
                                 "of dimension 2·grid.dim and grids have at most 3 axes; accepted: 1");
  return 1;
}

class KineticExperiment : public ScoreDiffusionExperiment {
 public:
  KineticExperiment(const Config& c, MPI_Comm comm)
      : ScoreDiffusionExperiment(c, comm, LinearDiffusion::kinetic(data_dimension(c)), 1, kinetic_bound) {}

  std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid) override {
    std::vector<double> p0;
    exact_density(0.0, grid, p0);
    return std::make_unique<PhaseSpaceFokkerPlanck>(grid, p0, pde_step());
  }
};

}  // namespace

Family family() {
  return {"kinetic",
          "kinetic (underdamped) OU in phase space (x, v) "
          "(docs/kinetic.md)",
          [](OptionSet& o) { declare_score_family_options(o, "kinetic", "0.5:-1.5:0.25;0.5:1.5:0.25"); },
          [](const Config& c, MPI_Comm comm) { return std::make_unique<KineticExperiment>(c, comm); },
          true};
}

}  // namespace twinflow::kinetic
