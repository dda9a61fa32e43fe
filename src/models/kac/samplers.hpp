#pragma once
// Particle side of the `kac` family (docs/kac.md (C1), (C7), (C8)): the exact Kac process
// (exponential switching times, no time discretisation) and the velocity of
// the generative Kac flow, which run/flow_sampler.hpp integrates backward
// from T to 0 with a PETSc explicit Runge–Kutta scheme. Local computation (but for preparing a
// velocity taken from the field store, which is collective); a particle's
// trajectory depends on (seed, id) alone.
#include <petscts.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kac_law.hpp"
#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/models/experiment.hpp"
#include "twinflow/run/flow_sampler.hpp"
#include "twinflow/rng/counter_rng.hpp"

namespace twinflow::kac {

/// The exact marginal velocity v(t, x) = Σ_k w_k j_k(t, x) / Σ_k w_k u_k(t, x)
/// of a data mixture with diagonal covariances (C7): per coordinate,
/// a point-mass component contributes the Kac law itself (atoms included)
/// and a Gaussian one the Kac law smoothed by its variance. Atoms outrank
/// densities: where x sits on atoms of some components (to 1e-9 relative)
/// only the components with the most atom coordinates count, so a particle
/// on an atom moves with speed c along it.
///
/// Backward in time the continuous part flows into the atoms (forward, the
/// atoms feed it at rate a): inside a front the velocity is below c, so a
/// particle there reaches the receding front and joins the atom, while
/// beyond a front the flow moves away from it. A discrete step overshoots
/// the front instead, so after_step puts a point that was inside (or on) a
/// front before the step and is beyond it after the step onto the atom.
/// At t = 0 the fronts meet at the point mass, which then absorbs its
/// whole support. Where the supports of two point masses overlap, the
/// continuous part of the other one passes through the front (the exact
/// flow splits the arriving mass between joining and crossing, which a
/// deterministic particle cannot do); there the point is left to cross,
/// which misplaces the share the atom should have absorbed. That share is
/// reported, not hidden: see the generative W1 of the default run.
class ExactVelocity : public VelocityModel {
 public:
  ExactVelocity(GaussianMixture data, KacLaw law);
  void evaluate(double t, const double* x, std::int64_t n, double* v) override;
  void after_step(double t_before, const double* x_before, double t, double* x, std::int64_t n) override;

 private:
  void prepare(double t);
  void at(double t, const double* x, double* v) const;
  GaussianMixture data_;
  KacLaw law_;
  double prepared_t_ = -1;
  std::vector<KacQuadrature> quadrature_;  ///< per (component, coordinate) with positive variance
};

/// One coordinate of the Kac process, keyed by (rng, id, coordinate): the
/// initial direction ±1 is draw (id, 0, coordinate), the m-th exponential
/// waiting time (rate a) draw (id, m, coordinate). Not collective.
struct KacPath {
  double position = 0, next_switch = 0;  ///< where it is now, and when it next switches
  signed char direction = 1;
  std::int64_t events = 1;  ///< the event number m of the last waiting time drawn
  /// The path at time 0, at 0.
  static KacPath start(const CounterRng& rng, std::uint64_t id, std::uint64_t coordinate, double rate);
  /// Moves the path from time `now` to t ≥ now.
  void advance(const CounterRng& rng, std::uint64_t id, std::uint64_t coordinate, const KacLaw& law, double now,
               double t);
};

/// Forward particles: X_0 from the data law, then X_t = X_0 + K_t with the
/// exact Kac process per coordinate: initial direction ±1 and exponential
/// waiting times of rate a drawn from (seed, id, coordinate, event number).
class ForwardSampler : public ParticleSampler {
 public:
  ForwardSampler(Ensemble ensemble, const GaussianMixture& data, const KacLaw& law, std::uint64_t seed);
  void advance_to(std::int64_t index, double t) override;
  const Ensemble& ensemble() const override { return ens_; }
  /// X_0 of the owned particles (point-major).
  const std::vector<double>& origin() const { return origin_; }
  /// True for a particle that started on a point mass of the data and has
  /// not switched in any coordinate: it sits on an atom.
  bool on_atom(std::int64_t p) const;
  void checkpoint(CheckpointArchive& archive) override;

 private:
  Ensemble ens_;
  KacLaw law_;
  CounterRng rng_;
  double time_ = 0;
  std::vector<double> origin_, next_switch_;
  std::vector<std::int64_t> events_;  ///< waiting times drawn per (particle, coordinate)
  std::vector<signed char> direction_;
  std::vector<unsigned char> point_mass_;
};

/// The generative Kac flow (C8) starts from X_T = X_0 + K_T exactly.
Ensemble kac_flow_start(Ensemble units, const GaussianMixture& data, const KacLaw& law, std::uint64_t seed,
                        double horizon);

}  // namespace twinflow::kac
