#include "diffusion_proposal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace twinflow::spin {

DiffusionProposal::DiffusionProposal(Mps model, double gamma, double noise_time)
    : model_(std::move(model)), noise_time_(noise_time), flip_probability_(-0.5 * std::expm1(-2 * gamma * noise_time)) {
  if (!(noise_time >= 0) || !(gamma > 0)) throw std::invalid_argument("DiffusionProposal: needs T >= 0 and γ > 0");
}

double DiffusionProposal::propose(const std::uint8_t* x, UniformStream& u, std::uint8_t* proposal) const {
  const int L = model_.sites();
  std::vector<double> draws(static_cast<std::size_t>(L));
  if (noise_time_ == 0) {
    for (double& v : draws) v = u.next();
    return model_.sample(draws.data(), proposal);
  }
  // y = x with each site flipped with probability p; the posterior weighs
  // site i by K_T(y_i | b) = 1 − p for b = y_i and p otherwise.
  std::vector<std::array<double, 2>> w(static_cast<std::size_t>(L));
  const double p = flip_probability_;
  for (int i = 0; i < L; ++i) {
    const std::uint8_t y = static_cast<std::uint8_t>(x[i] ^ (u.next() <= p ? 1 : 0));
    w[static_cast<std::size_t>(i)] = y ? std::array<double, 2>{p, 1 - p} : std::array<double, 2>{1 - p, p};
  }
  for (double& v : draws) v = u.next();
  // The posterior's P(x′) = W_θ(x′) Π_i w_i(x′_i) / Z_post, so
  // log P_θ(x′) = log P(x′) + log Z_post − Σ_i log w_i(x′_i) − log Z_θ.
  const Mps posterior = model_.weighted(w);
  double log_p = posterior.sample(draws.data(), proposal) + posterior.log_z() - model_.log_z();
  for (int i = 0; i < L; ++i) log_p -= std::log(w[static_cast<std::size_t>(i)][proposal[i]]);
  return log_p;
}

std::vector<double> DiffusionProposal::proposal_law(const std::uint8_t* x) const {
  const int L = model_.sites();
  if (L > 16) throw std::invalid_argument("DiffusionProposal::proposal_law: at most 16 sites");
  const std::int64_t n = std::int64_t{1} << L;
  std::vector<double> model(static_cast<std::size_t>(n));
  model_.probabilities(0, n, model.data());
  if (noise_time_ == 0) return model;
  // q(x′ | x) = Σ_y K(y | x) P_θ(x′) K(y | x′) / P_{θ,T}(y), P_{θ,T}(y) = Σ_z P_θ(z) K(y | z).
  const double p = flip_probability_;
  auto kernel = [&](std::int64_t y, std::int64_t z) {
    const int flips = __builtin_popcountll(static_cast<unsigned long long>(y ^ z));
    return std::pow(p, flips) * std::pow(1 - p, L - flips);
  };
  std::int64_t from = 0;
  for (int i = 0; i < L; ++i) from = (from << 1) | (x[i] ? 1 : 0);
  std::vector<double> noised(static_cast<std::size_t>(n), 0.0), q(static_cast<std::size_t>(n), 0.0);
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t z = 0; z < n; ++z) noised[static_cast<std::size_t>(y)] += model[static_cast<std::size_t>(z)] * kernel(y, z);
  for (std::int64_t y = 0; y < n; ++y) {
    const double w = kernel(y, from) / noised[static_cast<std::size_t>(y)];
    for (std::int64_t z = 0; z < n; ++z) q[static_cast<std::size_t>(z)] += w * model[static_cast<std::size_t>(z)] * kernel(y, z);
  }
  return q;
}

bool diffusion_step(const DiffusionProposal& q, const LatticeMoves& target, std::uint8_t* x, double& log_target,
                    double& log_model, UniformStream& u, std::vector<std::uint8_t>& scratch) {
  scratch.resize(static_cast<std::size_t>(target.sites()));
  const double log_model_new = q.propose(x, u, scratch.data());
  const double log_target_new = target.log_weight(scratch.data());
  const double log_ratio = (log_target_new - log_target) + (log_model - log_model_new);
  const double v = u.next();
  if (!(log_target_new > -std::numeric_limits<double>::infinity()) || !(log_ratio >= 0 || v <= std::exp(log_ratio)))
    return false;
  std::copy(scratch.begin(), scratch.end(), x);
  log_target = log_target_new;
  log_model = log_model_new;
  return true;
}

}  // namespace twinflow::spin
