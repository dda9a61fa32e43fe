#include "lattice_moves.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace twinflow::spin {

double UniformStream::next() {
  if (used_ == 4) {
    words_ = rng_.words(id_, step_, block_++);
    used_ = 0;
  }
  return r123::u01<double>(words_[static_cast<std::size_t>(used_++)]);
}

LatticeMoves::LatticeMoves(const ModelSpec& m)
    : m_(m),
      sites_(m.sites()),
      fredkin_(m.kind == ModelKind::kFredkin),
      wolff_(m.kind == ModelKind::kIsing2d && m.J > 0 && m.h == 0) {
  if (fredkin_) {
    log_y_ = 0.5 * std::log(m.c / (1 - m.c));
    return;
  }
  bond_probability_ = wolff_ ? -std::expm1(-2 * m.beta * m.J) : 0.0;
  neighbours_.resize(static_cast<std::size_t>(sites_));
  auto link = [&](int a, int b) {
    neighbours_[static_cast<std::size_t>(a)].push_back(b);
    neighbours_[static_cast<std::size_t>(b)].push_back(a);
  };
  if (m.kind == ModelKind::kIsing1d) {
    for (int i = 0; i + 1 < sites_; ++i) link(i, i + 1);
    return;
  }
  const int w = m.width;
  for (int k = 0; k < sites_; ++k) {
    const int ring = k / w, p = k % w;
    link(k, ring * w + (p + 1) % w);
    if (ring + 1 < m.length) link(k, k + w);
  }
}

std::vector<std::uint8_t> LatticeMoves::start() const {
  std::vector<std::uint8_t> x(static_cast<std::size_t>(sites_), 0);
  if (fredkin_)
    for (int i = 0; i < sites_; i += 2) x[static_cast<std::size_t>(i)] = 1;
  return x;
}

double LatticeMoves::log_weight(const std::uint8_t* x) const {
  if (fredkin_) {
    std::int64_t height = 0, area = 0;
    for (int k = 0; k < sites_; ++k) {
      height += x[k] ? 1 : -1;
      if (height < 0) return -std::numeric_limits<double>::infinity();
      area += height;
    }
    return height == 0 ? static_cast<double>(area) * log_y_ : -std::numeric_limits<double>::infinity();
  }
  double bonds = 0, field = 0;
  for (int i = 0; i < sites_; ++i) {
    const double s = x[i] ? 1.0 : -1.0;
    field += s;
    for (int j : neighbours_[static_cast<std::size_t>(i)])
      if (j > i) bonds += s * (x[j] ? 1.0 : -1.0);
  }
  return m_.beta * (m_.J * bonds + m_.h * field);
}

int LatticeMoves::metropolis_sweep(std::uint8_t* x, UniformStream& u) const {
  int accepted = 0;
  if (fredkin_) {
    // h is the height before pair (k, k + 1); exchanging ↑↓ → ↓↑ lowers
    // h_{k+1} = h + s_k by 2 (area −2), the reverse raises it.
    int h = 0;
    for (int k = 0; k + 1 < sites_; ++k) {
      const double v = u.next();
      if (x[k] != x[k + 1]) {
        const bool down = x[k] == 1;  // ↑↓ → ↓↑
        if (!down || h >= 1) {
          // Heat bath: accepted with π(x′)/(π(x) + π(x′)): 1/(1 + y²) for
          // ↑↓ → ↓↑, 1/(1 + y^{−2}) for ↓↑ → ↑↓ (docs/spin.md (S12)).
          const double log_ratio = (down ? -2.0 : 2.0) * log_y_;
          if (v <= 1 / (1 + std::exp(-log_ratio))) {
            std::swap(x[k], x[k + 1]);
            ++accepted;
          }
        }
      }
      h += x[k] ? 1 : -1;
    }
    return accepted;
  }
  for (int i = 0; i < sites_; ++i) {
    const double v = u.next();
    double local = m_.h;
    for (int j : neighbours_[static_cast<std::size_t>(i)]) local += m_.J * (x[j] ? 1.0 : -1.0);
    // Flipping s_i changes log π by −2 β s_i (J Σ_j s_j + h).
    const double log_ratio = -2 * m_.beta * (x[i] ? 1.0 : -1.0) * local;
    if (log_ratio >= 0 || v <= std::exp(log_ratio)) {
      x[i] ^= 1;
      ++accepted;
    }
  }
  return accepted;
}

int LatticeMoves::wolff_update(std::uint8_t* x, UniformStream& u) const {
  const int seed = std::min(sites_ - 1, static_cast<int>(u.next() * sites_));
  const std::uint8_t spin = x[seed];
  std::vector<int> stack{seed};
  x[seed] ^= 1;
  int size = 1;
  // A site joins when it is reached over a bond to an equal spin that is
  // activated (probability 1 − e^{−2βJ}); it is flipped on joining, so it
  // is never reached twice.
  while (!stack.empty()) {
    const int k = stack.back();
    stack.pop_back();
    for (int j : neighbours_[static_cast<std::size_t>(k)])
      if (x[j] == spin && u.next() <= bond_probability_) {
        x[j] ^= 1;
        stack.push_back(j);
        ++size;
      }
  }
  return size;
}

}  // namespace twinflow::spin
