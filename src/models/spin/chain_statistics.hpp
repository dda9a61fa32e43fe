#pragma once
// Error bars of Markov chain averages (docs/spin.md (S15)).
// C independent chains each give a series a_{c,t}, t = 0..M−1, of one
// observable. The chain-averaged series b_t = (1/C) Σ_c a_{c,t} is blocked
// (Flyvbjerg and Petersen): at level k its blocks of 2^k consecutive values
// are averaged, and the standard error of the mean from the spread of the
// block means grows with k until blocks are longer than the correlation
// time, then stays. The estimate taken is the largest over the levels with
// at least kMinBlocks blocks, and at least the spread of the C chain means
// over √C: chains that stay in the basin they start in (the sign of m in
// the ordered phase) each give a flat series, whose blocks see no error,
// while their means disagree. With σ² the variance of a single a_{c,t}, the
// effective sample size is ESS = σ² / SE² and the integrated
// autocorrelation time τ = C M / (2 ESS) (τ = ½ for independent samples).
// Not collective.
#include <vector>

namespace twinflow::spin {

struct ChainEstimate {
  double mean = 0, standard_error = 0, variance = 0, tau = 0, effective_samples = 0;
};

constexpr int kMinBlocks = 32;

/// series[c · steps + t] of `chains` chains. A series with fewer than
/// 2·kMinBlocks steps is estimated at level 0 only.
ChainEstimate estimate_chains(const std::vector<double>& series, int chains, int steps);

}  // namespace twinflow::spin
