#include "samplers.hpp"

#include <cmath>

#include "twinflow/io/checkpoint.hpp"

namespace twinflow::mfg {

GaussianMixture heat_marginal(const GaussianMixture& h, double variance) {
  std::vector<GaussianComponent> components = h.components();
  const int d = h.dim();
  for (GaussianComponent& c : components)
    for (int a = 0; a < d; ++a) c.covariance[a * d + a] += variance;
  return GaussianMixture("mfg.data", d, std::move(components));
}

HeatForwardSampler::HeatForwardSampler(Ensemble ensemble, const GaussianMixture& terminal, double beta,
                                       std::uint64_t seed)
    : ens_(std::move(ensemble)), beta_(beta), rng_(seed, Stream::kForward) {
  const CounterRng data(seed, Stream::kData);
  ens_.x.resize(static_cast<std::size_t>(ens_.count * ens_.dim));
  for (std::int64_t p = 0; p < ens_.count; ++p)
    terminal.sample(data, static_cast<std::uint64_t>(ens_.first_id + p), &ens_.x[p * ens_.dim]);
}

void HeatForwardSampler::advance_to(std::int64_t index, double tau) {
  if (tau <= time_) return;
  const int d = ens_.dim;
  const double scale = std::sqrt(2 * beta_ * (tau - time_));
  std::vector<double> z(static_cast<std::size_t>(d));
  for (std::int64_t p = 0; p < ens_.count; ++p) {
    rng_.normals(static_cast<std::uint64_t>(ens_.first_id + p), static_cast<std::uint64_t>(index), z.data(), d);
    for (int a = 0; a < d; ++a) ens_.x[p * d + a] += scale * z[a];
  }
  time_ = tau;
}

void HeatForwardSampler::checkpoint(CheckpointArchive& a) {
  a.particles("x", ens_, ens_.x, ens_.dim);
  a.value("time", time_);
}

BridgeSampler::BridgeSampler(Ensemble ensemble, const GaussianMixture& terminal, double beta, double horizon,
                             std::int64_t steps, std::uint64_t seed)
    : ens_(std::move(ensemble)), bridge_(terminal, beta), horizon_(horizon), steps_(steps),
      rng_(seed, Stream::kReverse) {
  const GaussianMixture prior = heat_marginal(terminal, 2 * beta * horizon);
  const CounterRng start(seed, Stream::kReverseStart);
  ens_.x.resize(static_cast<std::size_t>(ens_.count * ens_.dim));
  for (std::int64_t p = 0; p < ens_.count; ++p)
    prior.sample(start, static_cast<std::uint64_t>(ens_.first_id + p), &ens_.x[p * ens_.dim]);
}

void BridgeSampler::advance_to(std::int64_t step, double) {
  const int d = ens_.dim;
  // The uniform that picks the component comes from the Philox block after
  // the normals' blocks (4 normals per block).
  const auto uniform_block = static_cast<std::uint64_t>((d + 3) / 4);
  std::vector<double> z(static_cast<std::size_t>(d)), scratch;
  const double h = horizon_ / static_cast<double>(steps_);
  for (; done_ < std::min(step, steps_); ++done_) {
    const double tau = horizon_ - static_cast<double>(done_) * h;
    const double tau_next = done_ + 1 == steps_ ? 0.0 : horizon_ - static_cast<double>(done_ + 1) * h;
    bridge_.prepare(tau, tau_next);
    for (std::int64_t p = 0; p < ens_.count; ++p) {
      const auto id = static_cast<std::uint64_t>(ens_.first_id + p);
      const auto k = static_cast<std::uint64_t>(done_);
      rng_.normals(id, k, z.data(), d);
      bridge_.step(&ens_.x[p * d], rng_.uniform(id, k, uniform_block), z.data(), scratch);
    }
  }
}

void BridgeSampler::checkpoint(CheckpointArchive& a) {
  a.particles("x", ens_, ens_.x, ens_.dim);
  a.value("steps_done", done_);
}

}  // namespace twinflow::mfg
