#include "samplers.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"

namespace twinflow::kac {

ExactVelocity::ExactVelocity(GaussianMixture data, KacLaw law) : data_(std::move(data)), law_(law) {}

void ExactVelocity::prepare(double t) {
  if (t == prepared_t_) return;
  const int d = data_.dim();
  quadrature_.clear();
  for (const auto& comp : data_.components())
    for (int i = 0; i < d; ++i) {
      const double s = std::sqrt(comp.covariance[i * d + i]);
      quadrature_.push_back(s > 0 ? law_.quadrature(t, 0.5 * s) : KacQuadrature{});
    }
  prepared_t_ = t;
}

void ExactVelocity::evaluate(double t, const double* x, std::int64_t n, double* v) {
  prepare(t);
  const int d = data_.dim();
  for (std::int64_t p = 0; p < n; ++p) at(t, x + p * d, v + p * d);
}

void ExactVelocity::at(double t, const double* x, double* v) const {
  const int d = data_.dim();
  const double a = law_.rate(), c = law_.speed(), ct = c * t, am = law_.atom_mass(t);
  int best = -1;
  // Per coordinate (grid.dim is at most 64).
  double den = 0, num[64] = {};
  // The component nearest to x when no component has mass there (x off
  // every support by round-off), measured by how far x is beyond its fronts.
  double nearest_excess = std::numeric_limits<double>::infinity();
  std::size_t nearest = 0;
  const auto& comps = data_.components();
  for (std::size_t k = 0; k < comps.size(); ++k) {
    const auto& comp = comps[k];
    int order = 0;
    double g[64], h[64], excess = 0;
    for (int i = 0; i < d; ++i) {
      const double s = std::sqrt(comp.covariance[i * d + i]), dist = x[i] - comp.mean[i];
      if (s > 0) {
        law_.smoothed_density_flux(quadrature_[k * d + i], t, comp.mean[i], s, x[i], g[i], h[i]);
        continue;
      }
      const double tol = 1e-9 * (1 + std::abs(comp.mean[i]) + ct), beyond = std::abs(dist) - ct;
      excess = std::max(excess, beyond);
      if (std::abs(beyond) <= tol) {  // on the atom at m ± ct
        ++order;
        if (ct <= tol) {  // t = 0: both atoms are the point mass
          g[i] = 1, h[i] = 0;
        } else {
          g[i] = am, h[i] = (dist > 0 ? c : -c) * am;
        }
      } else {
        law_.density_flux(t, dist, g[i], h[i]);
      }
    }
    if (excess < nearest_excess) nearest_excess = excess, nearest = k;
    double mass = comp.weight;
    for (int i = 0; i < d; ++i) mass *= g[i];
    if (!(mass > 0) || order < best) continue;
    if (order > best) {
      best = order;
      den = 0;
      std::fill(num, num + d, 0.0);
    }
    den += mass;
    for (int i = 0; i < d; ++i) {
      double f = comp.weight * h[i];
      for (int l = 0; l < d; ++l)
        if (l != i) f *= g[l];
      num[i] += f;
    }
  }
  if (den > 0) {
    for (int i = 0; i < d; ++i) v[i] = std::clamp(num[i] / den, -c, c);
    return;
  }
  // No mass at x: follow the nearest component with v_K continued past its
  // front, x/(t + 2/a) (the r → 0 limit of v_K, docs/kac.md (C4)), capped at c.
  for (int i = 0; i < d; ++i)
    v[i] = std::clamp((x[i] - comps[nearest].mean[i]) / (t + 2 / a), -c, c);
}

void ExactVelocity::after_step(double t_before, const double* x_before, double t, double* x, std::int64_t n) {
  const int d = data_.dim();
  const double c = law_.speed();
  const auto& comps = data_.components();
  // True when coordinate i of x is strictly inside the support of another
  // point-mass component than k: there the front is crossed, not joined.
  const auto covered = [&](std::size_t k, int i, double xi) {
    for (std::size_t l = 0; l < comps.size(); ++l)
      if (l != k && comps[l].covariance[i * d + i] == 0.0 && std::abs(xi - comps[l].mean[i]) < c * t) return true;
    return false;
  };
  for (std::size_t k = 0; k < comps.size(); ++k)
    for (int i = 0; i < d; ++i) {
      if (comps[k].covariance[i * d + i] != 0.0) continue;
      const double m = comps[k].mean[i], tol = 1e-9 * (1 + std::abs(m) + c * t_before);
      for (std::int64_t p = 0; p < n; ++p) {
        const double before = std::abs(x_before[p * d + i] - m) - c * t_before;
        double& xi = x[p * d + i];
        if (before <= tol && std::abs(xi - m) > c * t && !covered(k, i, xi)) xi = m + (xi > m ? c * t : -c * t);
      }
    }
}

KacPath KacPath::start(const CounterRng& rng, std::uint64_t id, std::uint64_t coordinate, double rate) {
  KacPath path;
  path.direction = rng.uniform(id, 0, coordinate) <= 0.5 ? -1 : 1;
  path.next_switch = -std::log(rng.uniform(id, 1, coordinate)) / rate;
  return path;
}

void KacPath::advance(const CounterRng& rng, std::uint64_t id, std::uint64_t coordinate, const KacLaw& law,
                      double now, double t) {
  const double c = law.speed(), a = law.rate();
  while (next_switch <= t) {
    position += direction * c * (next_switch - now);
    now = next_switch;
    direction = static_cast<signed char>(-direction);
    ++events;
    next_switch += -std::log(rng.uniform(id, static_cast<std::uint64_t>(events), coordinate)) / a;
  }
  position += direction * c * (t - now);
}

ForwardSampler::ForwardSampler(Ensemble ensemble, const GaussianMixture& data, const KacLaw& law,
                               std::uint64_t seed)
    : ens_(std::move(ensemble)), law_(law), rng_(seed, Stream::kFamily) {
  const CounterRng data_rng(seed, Stream::kData);
  const int d = ens_.dim;
  const auto n = static_cast<std::size_t>(ens_.count * d);
  ens_.x.resize(n);
  origin_.resize(n);
  next_switch_.resize(n);
  events_.assign(n, 1);
  direction_.resize(n);
  point_mass_.resize(static_cast<std::size_t>(ens_.count));
  for (std::int64_t p = 0; p < ens_.count; ++p) {
    const auto id = static_cast<std::uint64_t>(ens_.first_id + p);
    const std::size_t comp = data.sample(data_rng, id, &origin_[p * d]);
    point_mass_[p] = data.components()[comp].point_mass();
    for (int i = 0; i < d; ++i) {
      const KacPath path = KacPath::start(rng_, id, static_cast<std::uint64_t>(i), law_.rate());
      direction_[p * d + i] = path.direction;
      next_switch_[p * d + i] = path.next_switch;
    }
  }
  ens_.x = origin_;
}

void ForwardSampler::advance_to(std::int64_t, double t) {
  if (t <= time_) return;
  const int d = ens_.dim;
  for (std::int64_t p = 0; p < ens_.count; ++p) {
    const auto id = static_cast<std::uint64_t>(ens_.first_id + p);
    for (int i = 0; i < d; ++i) {
      const std::size_t q = static_cast<std::size_t>(p * d + i);
      KacPath path{ens_.x[q], next_switch_[q], direction_[q], events_[q]};
      path.advance(rng_, id, static_cast<std::uint64_t>(i), law_, time_, t);
      ens_.x[q] = path.position, next_switch_[q] = path.next_switch;
      direction_[q] = path.direction, events_[q] = path.events;
    }
  }
  time_ = t;
}

void ForwardSampler::checkpoint(CheckpointArchive& a) {
  const int d = ens_.dim;
  a.particles("x", ens_, ens_.x, d);
  a.particles("origin", ens_, origin_, d);
  a.particles("next_switch", ens_, next_switch_, d);
  a.particles("events", ens_, events_, d);
  a.particles("direction", ens_, direction_, d);
  a.particles("point_mass", ens_, point_mass_, 1);
  a.value("time", time_);
}

bool ForwardSampler::on_atom(std::int64_t p) const {
  if (!point_mass_[p]) return false;
  for (int i = 0; i < ens_.dim; ++i)
    if (events_[p * ens_.dim + i] != 1) return false;
  return true;
}

Ensemble kac_flow_start(Ensemble units, const GaussianMixture& data, const KacLaw& law, std::uint64_t seed,
                        double horizon) {
  ForwardSampler start(std::move(units), data, law, seed);
  start.advance_to(0, horizon);
  return start.ensemble();
}

}  // namespace twinflow::kac
