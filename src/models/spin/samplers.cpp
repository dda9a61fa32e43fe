#include "samplers.hpp"

#include <Random123/uniform.hpp>

#include <cmath>
#include <string>

#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"

namespace twinflow::spin {
namespace {

/// The exact samples beside the forward and the reverse samplers.
constexpr Stream kExactStream = Stream::kFamily;
constexpr Stream kExactReverseStream = static_cast<Stream>(static_cast<std::uint64_t>(Stream::kFamily) + 1);

/// Windows whose bounding laws are kept at once.
constexpr std::size_t kCachedWindows = 1024;

/// The flip kernel's bounds over an interval of noise times [τ_lo, τ_hi]
/// (docs/spin.md (S7)): entrywise K_τ lies between these two non-stochastic kernels.
Eigen::Matrix2d kernel_bound(double gamma, double tau_lo, double tau_hi, bool upper) {
  const double u_small = std::exp(-2 * gamma * tau_hi), u_large = std::exp(-2 * gamma * tau_lo);
  const double stay = 0.5 * (1 + (upper ? u_large : u_small)), flip = 0.5 * (1 - (upper ? u_small : u_large));
  Eigen::Matrix2d k;
  k << stay, flip, flip, stay;
  return k;
}

}  // namespace

void uniforms(const CounterRng& rng, std::uint64_t id, std::uint64_t step, int n, double* out) {
  for (int b = 0; 4 * b < n; ++b) {
    const auto w = rng.words(id, step, static_cast<std::uint64_t>(b));
    for (int k = 0; k < 4 && 4 * b + k < n; ++k) out[4 * b + k] = r123::u01<double>(w[k]);
  }
}

void unpack(const Ensemble& e, std::int64_t u, std::uint8_t* x) {
  for (int i = 0; i < e.sites; ++i) x[i] = e.site(u, i) ? 1 : 0;
}

void pack(Ensemble& e, std::int64_t u, const std::uint8_t* x) {
  const int words = e.words_per_unit();
  std::uint64_t* b = &e.bits[static_cast<std::size_t>(u * words)];
  for (int w = 0; w < words; ++w) b[w] = 0;
  for (int i = 0; i < e.sites; ++i)
    if (x[i]) b[i / 64] |= std::uint64_t{1} << (i % 64);
}

namespace {

/// Every configuration drawn afresh from `law`, keyed by (id, step).
void draw(Ensemble& e, const Mps& law, const CounterRng& rng, std::uint64_t step) {
  std::vector<double> u(static_cast<std::size_t>(e.sites));
  std::vector<std::uint8_t> x(static_cast<std::size_t>(e.sites));
  for (std::int64_t k = 0; k < e.count; ++k) {
    uniforms(rng, static_cast<std::uint64_t>(e.first_id + k), step, e.sites, u.data());
    law.sample(u.data(), x.data());
    pack(e, k, x.data());
  }
}

}  // namespace

void draw_noised(Ensemble& e, const NoisedLaw& law, double horizon, std::uint64_t seed) {
  draw(e, law.at(horizon), CounterRng(seed, Stream::kReverseStart), 0);
}

ExactSampler::ExactSampler(Ensemble units, const NoisedLaw& law, std::uint64_t seed, bool reverse_clock,
                           double horizon)
    : ens_(std::move(units)),
      law_(law),
      rng_(seed, reverse_clock ? kExactReverseStream : kExactStream),
      reverse_clock_(reverse_clock),
      horizon_(horizon) {}

void ExactSampler::advance_to(std::int64_t index, double clock) {
  draw(ens_, law_.at(reverse_clock_ ? horizon_ - clock : clock), rng_, static_cast<std::uint64_t>(index));
}

void ExactSampler::checkpoint(CheckpointArchive& a) { a.particles("bits", ens_, ens_.bits, ens_.words_per_unit()); }

ForwardFlips::ForwardFlips(Ensemble units, const NoisedLaw& law, std::uint64_t seed)
    : ens_(std::move(units)), gamma_(law.gamma()), rng_(seed, Stream::kForward) {
  draw(ens_, law.data(), CounterRng(seed, Stream::kData), 0);
}

void ForwardFlips::advance_to(std::int64_t index, double t) {
  // Over [time_, t] a site flips an odd number of times with probability
  // (1 − e^{−2γ(t − time_)})/2.
  const double p = 0.5 * (1 - std::exp(-2 * gamma_ * (t - time_)));
  std::vector<double> u(static_cast<std::size_t>(ens_.sites));
  std::vector<std::uint8_t> x(u.size());
  if (p > 0)
    for (std::int64_t k = 0; k < ens_.count; ++k) {
      uniforms(rng_, static_cast<std::uint64_t>(ens_.first_id + k), static_cast<std::uint64_t>(index), ens_.sites,
               u.data());
      unpack(ens_, k, x.data());
      for (int i = 0; i < ens_.sites; ++i)
        if (u[static_cast<std::size_t>(i)] <= p) x[static_cast<std::size_t>(i)] ^= 1;
      pack(ens_, k, x.data());
    }
  time_ = t;
}

void ForwardFlips::checkpoint(CheckpointArchive& a) {
  a.particles("bits", ens_, ens_.bits, ens_.words_per_unit());
  a.value("time", time_);
}

ReverseJumps::ReverseJumps(Ensemble units, const NoisedLaw& law, double horizon, std::uint64_t seed)
    : ens_(std::move(units)), law_(law), horizon_(horizon), rng_(seed, Stream::kReverse) {
  draw_noised(ens_, law_, horizon_, seed);
  events_.assign(static_cast<std::size_t>(ens_.count), 0);
}

double ReverseJumps::rate_bound(const std::uint8_t* y, double a, double b) {
  // P_τ(z) = Σ_x P_0(x) Π_i K_τ(z_i|x_i) lies between the same sums with the
  // entrywise bounds of K over the window, so the rate of site i is at most
  // γ P^max(y^{(i)}) / P^min(y) (unnormalised weights of the two MPS).
  auto it = bounds_.find({a, b});
  if (it == bounds_.end()) {
    if (bounds_.size() >= kCachedWindows) bounds_.clear();
    const double tau_lo = horizon_ - b, tau_hi = horizon_ - a;
    it = bounds_
             .emplace(std::make_pair(a, b),
                      std::make_pair(law_.data().channel(kernel_bound(law_.gamma(), tau_lo, tau_hi, true)),
                                     law_.data().channel(kernel_bound(law_.gamma(), tau_lo, tau_hi, false))))
             .first;
  }
  const Mps& upper = it->second.first;
  const Mps& lower = it->second.second;
  const double log_lower = lower.log_prob(y) + lower.log_z();
  if (!std::isfinite(log_lower)) return std::numeric_limits<double>::infinity();
  std::vector<double> ratio(static_cast<std::size_t>(ens_.sites));
  upper.flip_log_ratios(y, ratio.data());
  const double log_upper_y = upper.log_prob(y) + upper.log_z();
  double bound = 0;
  for (double r : ratio) bound += std::exp(log_upper_y + r - log_lower);
  return law_.gamma() * bound;
}

void ReverseJumps::run(std::uint64_t id, std::uint8_t* y, std::int64_t& events, double s, double a, double b,
                       int depth) {
  // Thinning (S7): candidates at the rate bound B of the window, each
  // accepted with probability R(s)/B and then flipping site i with
  // probability r_i(s)/R(s). The accepted events are those of the process
  // itself, with no discretisation of time; after a flip the bound of the
  // new state is taken.
  std::vector<double> ratio(static_cast<std::size_t>(ens_.sites));
  while (s < b) {
    const double bound = rate_bound(y, a, b);
    if (!std::isfinite(bound) || bound * (b - s) > kCandidatesPerWindow) {
      if (depth >= kDeepestWindow)
        throw RuntimeFailure("reverse jump process: no finite rate bound for configuration " + std::to_string(id) +
                             " near s = " + std::to_string(s) + " (P_0 vanishes there; set spin.t_min > 0)");
      const double mid = 0.5 * (a + b);
      if (s < mid) run(id, y, events, s, a, mid, depth + 1);
      run(id, y, events, std::max(s, mid), mid, b, depth + 1);
      return;
    }
    for (;;) {
      const auto draw = rng_.words(id, static_cast<std::uint64_t>(events++));
      ++candidates_;
      const double gap = -std::log(r123::u01<double>(draw[0])) / bound;
      if (s + gap >= b) {
        s = b;
        break;
      }
      s += gap;
      law_.at(horizon_ - s).flip_log_ratios(y, ratio.data());
      double total = 0;
      for (double& r : ratio) total += (r = law_.gamma() * std::exp(r));
      if (total > bound * (1 + 1e-9))
        throw RuntimeFailure("reverse jump process: rate " + std::to_string(total) + " above its bound " +
                             std::to_string(bound) + " at s = " + std::to_string(s));
      if (r123::u01<double>(draw[1]) * bound > total) continue;
      double pick = r123::u01<double>(draw[2]) * total;
      int i = 0;
      while (i + 1 < ens_.sites && pick > ratio[static_cast<std::size_t>(i)]) pick -= ratio[static_cast<std::size_t>(i++)];
      y[i] ^= 1;
      ++flips_;
      break;
    }
  }
}

void ReverseJumps::advance_to(std::int64_t, double s) {
  bounds_.clear();
  std::vector<std::uint8_t> y(static_cast<std::size_t>(ens_.sites));
  for (std::int64_t k = 0; k < ens_.count; ++k) {
    unpack(ens_, k, y.data());
    if (s > s_) run(static_cast<std::uint64_t>(ens_.first_id + k), y.data(), events_[static_cast<std::size_t>(k)], s_, s_, s, 0);
    pack(ens_, k, y.data());
  }
  bounds_.clear();
  s_ = s;
}

void ReverseJumps::checkpoint(CheckpointArchive& a) {
  a.particles("bits", ens_, ens_.bits, ens_.words_per_unit());
  a.particles("events", ens_, events_, 1);
  a.value("s", s_);
  std::int64_t counts[2] = {candidates_, flips_};
  a.rank_counts("candidates_and_flips", counts, 2);
  candidates_ = counts[0], flips_ = counts[1];
}

BayesDenoiser::BayesDenoiser(Ensemble units, const NoisedLaw& law, double horizon, std::uint64_t seed)
    : ens_(std::move(units)), law_(law), horizon_(horizon), rng_(seed, Stream::kReverse) {
  draw_noised(ens_, law_, horizon_, seed);
  noised_ = ens_.bits;
}

void BayesDenoiser::advance_to(std::int64_t index, double s) {
  // P(X_{T−s} = x | X_T = y) ∝ P_{T−s}(x) Π_i K_s(y_i | x_i): P_{T−s} with
  // each site weighted by its likelihood, an MPS of the same bonds (S8).
  const Mps prior = law_.at(horizon_ - s);
  const Eigen::Matrix2d k = flip_kernel(law_.gamma(), s);
  Ensemble noised = ens_;
  noised.bits = noised_;
  std::vector<std::uint8_t> y(static_cast<std::size_t>(ens_.sites)), x(y.size());
  std::vector<double> u(y.size());
  std::vector<std::array<double, 2>> w(y.size());
  for (std::int64_t c = 0; c < ens_.count; ++c) {
    unpack(noised, c, y.data());
    for (std::size_t i = 0; i < y.size(); ++i) w[i] = {k(y[i], 0), k(y[i], 1)};
    uniforms(rng_, static_cast<std::uint64_t>(ens_.first_id + c), static_cast<std::uint64_t>(index), ens_.sites,
             u.data());
    prior.weighted(w).sample(u.data(), x.data());
    pack(ens_, c, x.data());
  }
}

void BayesDenoiser::checkpoint(CheckpointArchive& a) {
  a.particles("bits", ens_, ens_.bits, ens_.words_per_unit());
  a.particles("noised", ens_, noised_, ens_.words_per_unit());
}

}  // namespace twinflow::spin
