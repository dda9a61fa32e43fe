#include "twinflow/diffusion/samplers.hpp"

#include <algorithm>
#include <cmath>

#include "step_kernel.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"

namespace twinflow {

constexpr int kBlock = MixtureScore::kBlock;

void MixtureMarginalScore::score_block(double sigma, const double* x, double* s) {
  if (!cached_ || sigma != cached_sigma_) {
    cached_ = std::make_unique<MixtureScore>(diffusion_.marginal(data_, sigma));
    cached_sigma_ = sigma;
  }
  cached_->score_block(x, s);
}

void PdeScore::prepare(double sigma) {
  // The fields of the previous step are done with; a step asks for at most
  // two times (σ_k and the midpoint σ_k − h/2).
  if (fields_.size() >= 2) fields_.clear();
  std::vector<double> density;
  store_.gather("density", sigma, density);
  fields_.insert_or_assign(sigma, GridScore(grid_.box(), density, kRelativeFloor));
}

void PdeScore::score_block(double sigma, const double* x, double* s) {
  // The PDE stopped at every σ the sampler uses: look the time up exactly
  // (up to round-off in T − k h).
  const double tol = 1e-9 * (1 + std::abs(sigma));
  auto it = fields_.lower_bound(sigma - tol);
  if (it == fields_.end() || std::abs(it->first - sigma) > tol)
    throw RuntimeFailure("no PDE score prepared at t = " + std::to_string(sigma));
  const int d = grid_.box().dim;
  double xp[3], sp[3];
  for (int j = 0; j < kBlock; ++j) {
    for (int a = 0; a < d; ++a) xp[a] = x[a * kBlock + j];
    it->second.evaluate(xp, sp);
    for (int a = 0; a < d; ++a) s[a * kBlock + j] = sp[a];
  }
}

LinearForwardSampler::LinearForwardSampler(Ensemble ensemble, LinearDiffusion diffusion,
                                           const GaussianMixture& data, std::uint64_t seed)
    : ens_(std::move(ensemble)), diffusion_(std::move(diffusion)), rng_(seed, Stream::kForward) {
  const CounterRng data_rng(seed, Stream::kData);
  const int n = ens_.dim, d = data.dim();
  ens_.x.resize(static_cast<std::size_t>(ens_.count * n));
  for (std::int64_t p = 0; p < ens_.count; ++p) {
    const auto id = static_cast<std::uint64_t>(ens_.first_id + p);
    data.sample(data_rng, id, &ens_.x[p * n]);
    // The coordinates beyond the data (kinetic: V_0) from γ; output index 0
    // is t = 0, where no transition noise is ever drawn.
    if (n > d) rng_.normals(id, 0, &ens_.x[p * n + d], n - d);
  }
}

void LinearForwardSampler::advance_to(std::int64_t index, double t) {
  if (t <= time_) return;
  const int n = ens_.dim;
  const LinearDiffusion::Matrix e = diffusion_.propagator(t - time_);
  const LinearDiffusion::Matrix cov = diffusion_.transition_covariance(t - time_);
  const Eigen::LLT<LinearDiffusion::Matrix> llt(cov);
  const LinearDiffusion::Matrix l = llt.matrixL();
  std::vector<double> z(static_cast<std::size_t>(n)), x(static_cast<std::size_t>(n));
  for (std::int64_t p = 0; p < ens_.count; ++p) {
    rng_.normals(static_cast<std::uint64_t>(ens_.first_id + p), static_cast<std::uint64_t>(index), z.data(), n);
    double* xp = &ens_.x[p * n];
    for (int i = 0; i < n; ++i) {
      double v = 0;
      for (int k = 0; k < n; ++k) v += e(i, k) * xp[k] + l(i, k) * z[k];
      x[i] = v;
    }
    std::copy(x.begin(), x.end(), xp);
  }
  time_ = t;
}

FixedStepSampler::FixedStepSampler(Ensemble ensemble, FixedStepScheme scheme, std::shared_ptr<ScoreField> score,
                                   std::uint64_t seed)
    : ens_(std::move(ensemble)), scheme_(std::move(scheme)), score_(std::move(score)), rng_(seed, Stream::kReverse) {
  const CounterRng start(seed, Stream::kReverseStart);
  ens_.x.resize(static_cast<std::size_t>(ens_.count * ens_.dim));
  for (std::int64_t p = 0; p < ens_.count; ++p)
    start.normals(static_cast<std::uint64_t>(ens_.first_id + p), 0, &ens_.x[p * ens_.dim], ens_.dim);
}

void FixedStepSampler::step_block(std::int64_t first, int n, std::int64_t k) {
  // Works on a full block of kBlock lanes (unused lanes padded with zeros),
  // so every particle goes through the same instructions wherever it sits.
  const int d = ens_.dim;
  double y[kBlock * 64] = {}, out[kBlock * 64], z[4 * kBlock];
  for (int j = 0; j < n; ++j)
    for (int a = 0; a < d; ++a) y[a * kBlock + j] = ens_.x[(first + j) * d + a];
  scheme_.map_block(*score_, k, y, out);
  if (scheme_.has_noise()) {
    // out += L z with normals in blocks of up to 4 coordinates per particle
    // (padding lanes draw for ids past the end, which are discarded).
    const std::vector<double>& l = scheme_.noise_factor();
    double zall[kBlock * 64];
    for (int k0 = 0; k0 < d; k0 += 4) {
      const int nk = std::min(4, d - k0);
      rng_.normals_block(static_cast<std::uint64_t>(ens_.first_id + first), static_cast<std::uint64_t>(k),
                         static_cast<std::uint64_t>(k0 / 4), kBlock, nk, z);
      std::copy(z, z + nk * kBlock, zall + k0 * kBlock);
    }
    add_lower_block(d, l.data(), zall, out);
  }
  for (int j = 0; j < n; ++j)
    for (int a = 0; a < d; ++a) ens_.x[(first + j) * d + a] = out[a * kBlock + j];
}

void LinearForwardSampler::checkpoint(CheckpointArchive& a) {
  a.particles("x", ens_, ens_.x, ens_.dim);
  a.value("time", time_);
}

void FixedStepSampler::checkpoint(CheckpointArchive& a) {
  a.particles("x", ens_, ens_.x, ens_.dim);
  a.value("steps_done", done_);
}

void FixedStepSampler::advance_to(std::int64_t step, double) {
  for (; done_ < std::min(step, scheme_.steps()); ++done_) {
    scheme_.prepare_step(*score_, done_);
    for (std::int64_t first = 0; first < ens_.count; first += kBlock)
      step_block(first, static_cast<int>(std::min<std::int64_t>(kBlock, ens_.count - first)), done_);
  }
}

}  // namespace twinflow
