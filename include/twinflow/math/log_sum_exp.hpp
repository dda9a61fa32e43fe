#pragma once
// The shifted exponentials of log-sum-exp, vectorised: the kernel of
// responsibilities and softmax weights over many components. Compiled for
// the host's vector unit with glibc's vector exp (libmvec, ≤ 4 ulp), like
// the other particle kernels; the result does not depend on where the
// array sits in memory. Not collective.
#include <cstddef>

namespace twinflow {

/// Replaces l[0..n) (n ≥ 1, finite or −∞) by exp(l_i − max_j l_j) and
/// returns their sum, which is at least 1.
double exp_shifted_by_max(double* l, std::size_t n);

}  // namespace twinflow
