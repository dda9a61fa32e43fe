#pragma once
// A learned non-negative MPS P_θ over L binary sites (docs/spin.md
// (S13)): entries A_i^b[j, k] = e^{θ_i^b[j,k]} with bonds
// χ_k = min(D, 2^k, 2^{L−k}) (D = spin.bond; a bond beyond 2^k adds nothing
// a smaller one cannot hold), trained by minimising the negative
// log-likelihood of samples,
//   NLL(θ) = −(1/N) Σ_n log P_θ(x_n) = log Z_θ − (1/N) Σ_n log W_θ(x_n).
// In the log-entry parameters the gradient of one log W_θ(x) at site i is
// p_i[j] A_i^{x_i}[j,k] q_{i+1}[k] / (p_iᵀ A_i^{x_i} q_{i+1}) with p, q the
// prefix and suffix products of x (entries in [0, 1], summing to 1 per
// site), and that of log Z_θ the same with the environments of
// A_i^0 + A_i^1.
//
// Training is data-parallel: each rank holds its own samples, and the sums
// over samples are exact (core/exact_sum.hpp), so every rank sees the same
// bits of NLL and gradient whatever the partition, and the trained θ is the
// same for any rank count. The optimiser is PETSc TAO (default BLMVM, a
// limited-memory quasi-Newton method, here with the bounds |θ| ≤ 30 that
// keep the entries finite where the NLL falls without bound): the
// objective of a round is a fixed full batch, which a quasi-Newton method
// minimises in far fewer passes over the data than a stochastic gradient
// method, with no learning rate to tune. Options -spin_learn_tao_* reach it.
#include <cstdint>
#include <string>
#include <vector>

#include <mpi.h>

#include "mps.hpp"

namespace twinflow::spin {

class LearnedMps {
 public:
  /// θ initialised to small uniform noise keyed by seed (noise breaks the
  /// symmetry between bond indices, which a gradient method never would).
  LearnedMps(int sites, int bond, std::uint64_t seed);
  int sites() const { return sites_; }
  int bond() const { return bond_; }
  std::size_t parameters() const { return theta_.size(); }
  std::vector<double>& theta() { return theta_; }
  const std::vector<double>& theta() const { return theta_; }
  /// P_θ as an Mps.
  Mps law() const;

  /// Collective. The NLL of all ranks' samples (this rank's `count`
  /// configurations of sites() bytes, one after another) and, when
  /// `gradient` is not null, its gradient in θ; identical bits on every
  /// rank. +inf when a sample has P_θ = 0.
  double nll(MPI_Comm comm, const std::uint8_t* samples, std::int64_t count, std::vector<double>* gradient) const;

  struct Training {
    std::int64_t iterations = 0, evaluations = 0;
    double nll = 0;
    std::string reason;  ///< TAO's converged reason
  };
  /// Collective. Minimises the NLL of the samples from the current θ with at
  /// most `iterations` TAO iterations.
  Training train(MPI_Comm comm, const std::uint8_t* samples, std::int64_t count, int iterations);

 private:
  std::size_t offset(int i, int b) const { return offsets_[static_cast<std::size_t>(2 * i + b)]; }
  int sites_, bond_;
  std::vector<int> chi_;              ///< χ_0 .. χ_L
  std::vector<std::size_t> offsets_;  ///< start of θ_i^b, column-major
  std::vector<double> theta_;
};

}  // namespace twinflow::spin
