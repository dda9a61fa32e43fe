#pragma once
// Counter-based randomness (Random123 Philox4x64-10). A draw is a pure
// function of (seed, stream, particle global id, step, block), never of the
// rank or of how many draws came before, so particle results are identical on
// any number of ranks and need no RNG state in checkpoints. Not collective.
#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

#include <cstdint>

namespace twinflow {

/// Independent streams of one run; a family may add its own after kFamily.
enum class Stream : std::uint64_t {
  kData = 1,         ///< draws of X_0 from the data law
  kForward = 2,      ///< forward process noise
  kReverseStart = 3, ///< start of a generative sampler
  kReverse = 4,      ///< generative sampler noise
  kReferenceSamples = 5,  ///< exact samples of a twin's reference law (sample space)
  kSlicedDirections = 6,  ///< the directions of the sliced distances
  kNetworkWeights = 7,    ///< the initial weights of a neural network
  kTrainingBatch = 8,     ///< the training pairs of a neural network
  kTrainingData = 9,      ///< the data points of those pairs
  kFamily = 16,
};

class CounterRng {
 public:
  using Philox = r123::Philox4x64;

  CounterRng(std::uint64_t seed, Stream stream) : key_{{seed, static_cast<std::uint64_t>(stream)}} {}

  /// Four independent 64-bit words for (id, step, block).
  Philox::ctr_type words(std::uint64_t id, std::uint64_t step, std::uint64_t block = 0) const {
    const Philox::ctr_type ctr{{id, step, block, 0}};
    return Philox()(ctr, key_);
  }

  /// n standard normals for (id, step), Box–Muller on Philox words; draws
  /// 4 normals per block starting at first_block, so n <= 4 is one call.
  void normals(std::uint64_t id, std::uint64_t step, double* out, int n,
               std::uint64_t first_block = 0) const {
    for (int b = 0; 4 * b < n; ++b) {
      const auto w = words(id, step, first_block + static_cast<std::uint64_t>(b));
      const int left = n - 4 * b;
      const r123::double2 g0 = r123::boxmuller(w[0], w[1]);
      out[4 * b] = g0.x;
      if (left > 1) out[4 * b + 1] = g0.y;
      if (left > 2) {  // the second pair only when it is used
        const r123::double2 g1 = r123::boxmuller(w[2], w[3]);
        out[4 * b + 2] = g1.x;
        if (left > 3) out[4 * b + 3] = g1.y;
      }
    }
  }

  /// Standard normals for a block of `lanes` <= 64 consecutive ids (first_id,
  /// first_id + 1, ...), one step and one Philox block: out[k * lanes + j] is
  /// normal k of id first_id + j, k < n <= 4. The same Philox words as normals(), with the
  /// Box–Muller transform evaluated across lanes by vector log/sin/cos (so
  /// values may differ from normals() in the last bits; each stream uses one
  /// of the two consistently). Defined in src/rng/normal_block.cpp.
  void normals_block(std::uint64_t first_id, std::uint64_t step, std::uint64_t block, int lanes, int n,
                     double* out) const;

  /// A uniform number in (0, 1] for (id, step, block), from word 0.
  double uniform(std::uint64_t id, std::uint64_t step, std::uint64_t block = 0) const {
    return r123::u01<double>(words(id, step, block)[0]);
  }

 private:
  Philox::key_type key_;
};

}  // namespace twinflow
