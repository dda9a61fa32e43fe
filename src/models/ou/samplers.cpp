#include "samplers.hpp"

#include <cmath>
#include <stdexcept>

#include "twinflow/core/error.hpp"

namespace twinflow::ou {

constexpr int kBlock = MixtureScore::kBlock;

Scheme parse_scheme(const std::string& name) {
  if (name == "rel-ei") return Scheme::kRelEi;
  if (name == "abs-ei") return Scheme::kAbsEi;
  if (name == "em") return Scheme::kEm;
  if (name == "pf-ode") return Scheme::kPfOde;
  throw std::logic_error("unknown scheme " + name);
}

void ExactScore::score_block(double sigma, const double* x, double* s) {
  if (!cached_ || sigma != cached_sigma_) {
    cached_ = std::make_unique<MixtureScore>(data_.ou_marginal(sigma));
    cached_sigma_ = sigma;
  }
  cached_->score_block(x, s);
}

void PdeScore::add(double t, const Box& box, const std::vector<double>& density) {
  // A relative floor of 1e-10 keeps log p well above round-off of the solver.
  fields_.insert_or_assign(t, GridScore(box, density, 1e-10));
  dim_ = box.dim;
}

void PdeScore::score_block(double sigma, const double* x, double* s) {
  // The PDE stopped at every σ the sampler uses: look the time up exactly
  // (up to round-off in T − k h).
  auto it = fields_.lower_bound(sigma - 1e-12 * (1 + std::abs(sigma)));
  if (it == fields_.end() || std::abs(it->first - sigma) > 1e-9 * (1 + std::abs(sigma)))
    throw RuntimeFailure("no PDE score stored at t = " + std::to_string(sigma));
  double xp[3], sp[3];
  for (int j = 0; j < kBlock; ++j) {
    for (int a = 0; a < dim_; ++a) xp[a] = x[a * kBlock + j];
    it->second.evaluate(xp, sp);
    for (int a = 0; a < dim_; ++a) s[a * kBlock + j] = sp[a];
  }
}

ForwardSampler::ForwardSampler(Ensemble ensemble, const GaussianMixture& data, std::uint64_t seed)
    : ens_(std::move(ensemble)), rng_(seed, Stream::kForward) {
  const CounterRng data_rng(seed, Stream::kData);
  ens_.x.resize(static_cast<std::size_t>(ens_.count * ens_.dim));
  for (std::int64_t p = 0; p < ens_.count; ++p)
    data.sample(data_rng, static_cast<std::uint64_t>(ens_.first_id + p), &ens_.x[p * ens_.dim]);
}

void ForwardSampler::advance_to(std::int64_t index, double t) {
  if (t <= time_) return;
  const double decay = std::exp(-(t - time_)), noise = std::sqrt(-std::expm1(-2 * (t - time_)));
  const int d = ens_.dim;
  std::vector<double> z(static_cast<std::size_t>(d));
  for (std::int64_t p = 0; p < ens_.count; ++p) {
    rng_.normals(static_cast<std::uint64_t>(ens_.first_id + p), static_cast<std::uint64_t>(index), z.data(), d);
    for (int a = 0; a < d; ++a) ens_.x[p * d + a] = decay * ens_.x[p * d + a] + noise * z[a];
  }
  time_ = t;
}

ReverseSampler::ReverseSampler(Ensemble ensemble, Scheme scheme, double horizon, std::int64_t steps,
                               std::shared_ptr<ScoreModel> score, std::uint64_t seed)
    : ens_(std::move(ensemble)),
      scheme_(scheme),
      horizon_(horizon),
      h_(horizon / static_cast<double>(steps)),
      steps_(steps),
      score_(std::move(score)),
      rng_(seed, Stream::kReverse) {
  const CounterRng start(seed, Stream::kReverseStart);
  ens_.x.resize(static_cast<std::size_t>(ens_.count * ens_.dim));
  for (std::int64_t p = 0; p < ens_.count; ++p)
    start.normals(static_cast<std::uint64_t>(ens_.first_id + p), 0, &ens_.x[p * ens_.dim], ens_.dim);
}

void ReverseSampler::coefficients(Scheme scheme, double h, double& a, double& b, double& c) {
  switch (scheme) {
    case Scheme::kRelEi:  // e^{−h}Y + 2(1 − e^{−h})(s + Y) + √(1 − e^{−2h}) Z
      b = -2 * std::expm1(-h);
      a = std::exp(-h) + b;
      c = std::sqrt(-std::expm1(-2 * h));
      return;
    case Scheme::kAbsEi:
      a = std::exp(h);
      b = 2 * std::expm1(h);
      c = std::sqrt(std::expm1(2 * h));
      return;
    case Scheme::kEm:
      a = 1 + h;
      b = 2 * h;
      c = std::sqrt(2 * h);
      return;
    case Scheme::kPfOde:
      a = b = c = 0;
      return;
  }
}

void ReverseSampler::step_block(std::int64_t first, int n, std::int64_t k) {
  // Works on a full block of kBlock lanes (unused lanes padded with zeros),
  // so every particle goes through the same instructions wherever it sits.
  const int d = ens_.dim;
  double y[kBlock * 64] = {}, s[kBlock * 64], z[4 * kBlock];
  for (int j = 0; j < n; ++j)
    for (int a = 0; a < d; ++a) y[a * kBlock + j] = ens_.x[(first + j) * d + a];
  const double sigma = horizon_ - static_cast<double>(k) * h_;
  score_->score_block(sigma, y, s);
  if (scheme_ == Scheme::kPfOde) {
    // y_mid = y + (h/2) f(σ_k, y), y' = y + h f(σ_k − h/2, y_mid), f = y + s.
    double mid[kBlock * 64], sm[kBlock * 64];
    for (int i = 0; i < d * kBlock; ++i) mid[i] = y[i] + 0.5 * h_ * (y[i] + s[i]);
    score_->score_block(sigma - 0.5 * h_, mid, sm);
    for (int i = 0; i < d * kBlock; ++i) y[i] += h_ * (mid[i] + sm[i]);
  } else {
    double a = 0, b = 0, c = 0;
    coefficients(scheme_, h_, a, b, c);
    // Normals in blocks of up to 4 per particle (padding lanes draw for ids
    // past the end, which are discarded).
    for (int k0 = 0; k0 < d; k0 += 4) {
      const int nk = std::min(4, d - k0);
      rng_.normals_block(static_cast<std::uint64_t>(ens_.first_id + first), static_cast<std::uint64_t>(k),
                         static_cast<std::uint64_t>(k0 / 4), kBlock, nk, z);
      for (int i = k0; i < k0 + nk; ++i) {
#pragma omp simd
        for (int j = 0; j < kBlock; ++j)
          y[i * kBlock + j] = a * y[i * kBlock + j] + b * s[i * kBlock + j] + c * z[(i - k0) * kBlock + j];
      }
    }
  }
  for (int j = 0; j < n; ++j)
    for (int a = 0; a < d; ++a) ens_.x[(first + j) * d + a] = y[a * kBlock + j];
}

void ReverseSampler::advance_to(std::int64_t step, double) {
  for (; done_ < std::min(step, steps_); ++done_)
    for (std::int64_t first = 0; first < ens_.count; first += kBlock)
      step_block(first, static_cast<int>(std::min<std::int64_t>(kBlock, ens_.count - first)), done_);
}

}  // namespace twinflow::ou
