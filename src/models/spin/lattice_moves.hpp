#pragma once
// The Monte Carlo a physicist runs on the spin family's models (docs/spin.md
// (S12)): the unnormalised target log π(x) and the local and
// cluster moves that leave π invariant.
//   ising1d, ising2d  single-spin-flip Metropolis, sites in order (a sweep
//                     is L attempted flips);
//   fredkin           π is supported on Dyck paths, which a single flip
//                     leaves; the local move exchanges the steps of an
//                     adjacent pair ↑↓ ↔ ↓↑ (one height moves by 2, the path
//                     stays a Dyck path when that height stays ≥ 0), pairs
//                     in order (a sweep is L − 1 attempts), accepted by the
//                     heat bath π(x′)/(π(x) + π(x′)): at c = ½ (π uniform)
//                     Metropolis would accept every move, and the sweep in
//                     order would be a deterministic map that never mixes;
//   ising2d           Wolff cluster updates (J > 0, h = 0).
// Randomness comes from a UniformStream keyed by (seed, stream, chain id,
// step), so a chain does not depend on the rank that runs it. Not collective.
#include <cstdint>
#include <vector>

#include "model.hpp"
#include "twinflow/rng/counter_rng.hpp"

namespace twinflow::spin {

/// Uniforms in (0, 1] drawn in sequence from the Philox blocks of one
/// (id, step): as many as a move needs, four a block.
class UniformStream {
 public:
  UniformStream(const CounterRng& rng, std::uint64_t id, std::uint64_t step) : rng_(rng), id_(id), step_(step) {}
  double next();

 private:
  const CounterRng& rng_;
  std::uint64_t id_, step_, block_ = 0;
  CounterRng::Philox::ctr_type words_{};
  int used_ = 4;
};

class LatticeMoves {
 public:
  explicit LatticeMoves(const ModelSpec& m);
  int sites() const { return sites_; }
  /// log π(x) up to its normalisation: −βE(x) (Ising), area · log y
  /// (Fredkin; −inf off Dyck paths).
  double log_weight(const std::uint8_t* x) const;
  /// A state in the support of π to start chains from: all down for the
  /// Ising models, the zigzag ↑↓↑↓… for Fredkin.
  std::vector<std::uint8_t> start() const;
  /// One sweep of local Metropolis moves; returns the moves accepted.
  int metropolis_sweep(std::uint8_t* x, UniformStream& u) const;
  /// Attempted moves per sweep.
  int moves_per_sweep() const { return fredkin_ ? sites_ - 1 : sites_; }
  /// Whether Wolff updates apply (ising2d, J > 0, h = 0).
  bool has_wolff() const { return wolff_; }
  /// One Wolff cluster update (seed site uniform, bonds to equal spins added
  /// with probability 1 − e^{−2βJ}); returns the cluster's size.
  int wolff_update(std::uint8_t* x, UniformStream& u) const;

 private:
  ModelSpec m_;
  int sites_;
  bool fredkin_, wolff_;
  double log_y_ = 0, bond_probability_ = 0;
  std::vector<std::vector<int>> neighbours_;
};

}  // namespace twinflow::spin
