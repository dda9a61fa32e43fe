// A minimal family, the walk-through of the README's "Adding a family":
// Brownian motion dX = √2 dB from Gaussian-mixture data. Its density solves
// the heat equation ∂_t p = Δp (the drift-diffusion operator with β = 0),
// and each component N(m, C) of the data becomes N(m, C + 2t I). The
// density-twin layout supplies the stages (pde, forward), the twin and the
// output; the family supplies the PDE, the closed form and the particles.
#include <cmath>

#include "families.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/pde/flux_operator.hpp"
#include "twinflow/run/density_twin.hpp"

namespace twinflow::heat {
namespace {

// X_t = X_s + √(2 (t − s)) Z between outputs, Z keyed by (seed, id, output).
class BrownianSampler : public ParticleSampler {
 public:
  BrownianSampler(Ensemble units, const GaussianMixture& data, std::uint64_t seed)
      : ens_(std::move(units)), rng_(seed, Stream::kForward) {
    ens_.x.resize(static_cast<std::size_t>(ens_.count * ens_.dim));
    for (std::int64_t u = 0; u < ens_.count; ++u)
      data.sample(CounterRng(seed, Stream::kData), static_cast<std::uint64_t>(ens_.first_id + u), &ens_.x[u * ens_.dim]);
  }
  void advance_to(std::int64_t index, double t) override {
    double z[3];
    for (std::int64_t u = 0; u < ens_.count; ++u) {
      rng_.normals(static_cast<std::uint64_t>(ens_.first_id + u), static_cast<std::uint64_t>(index), z, ens_.dim);
      for (int a = 0; a < ens_.dim; ++a) ens_.x[u * ens_.dim + a] += std::sqrt(2 * (t - time_)) * z[a];
    }
    time_ = t;
  }
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& a) override {
    a.particles("x", ens_, ens_.x, ens_.dim);
    a.value("time", time_);
  }

 private:
  Ensemble ens_;
  CounterRng rng_;
  double time_ = 0;
};

class Heat : public DensityTwinExperiment {
 public:
  explicit Heat(const Config& c)
      : DensityTwinExperiment(c, static_cast<int>(c.integer("grid.dim")), 0),
        data_(GaussianMixture::parse("heat.data", c.text("heat.data"), dim())) {}

  // ∂_t p = Δp: the drift-diffusion operator with β = 0, from the closed form at t = 0.
  std::unique_ptr<DensitySolver> make_density_solver(const Grid& grid) override {
    return linear_density_solver(grid, assemble_drift_diffusion(grid, [](int, const double*) { return 0.0; }));
  }

  bool exact_density(double t, const Grid& grid, std::vector<double>& owned) const override {
    std::vector<GaussianComponent> spread = data_.components();
    for (auto& c : spread)
      for (int a = 0; a < dim(); ++a) c.covariance[a * dim() + a] += 2 * t;
    cell_averages(GaussianMixture("heat.data", dim(), spread), grid, owned);
    return true;
  }

 protected:
  std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble units) override {
    return std::make_unique<BrownianSampler>(std::move(units), data_, seed());
  }

 private:
  GaussianMixture data_;
};

}  // namespace

Family family() {
  return {"heat", "Brownian motion and the heat equation (the minimal family of the README)",
          [](OptionSet& o) {
            o.add("heat.data", "0.5:-1:0.3;0.5:1:0.3", "data law, a Gaussian mixture",
                  Accept::any_text("'weight:mean:variance' joined by ';'"));
          },
          [](const Config& c, MPI_Comm) { return std::make_unique<Heat>(c); }};
}

}  // namespace twinflow::heat
