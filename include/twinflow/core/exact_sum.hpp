#pragma once
// Sums over ranks that do not depend on how the terms are split among the
// ranks. A double reduction (MPI_SUM) rounds differently for every
// partition, so a quantity trained from such sums (a model fitted to data
// spread over the ranks) would differ in its last bits between rank counts,
// and so would everything computed from it afterwards. Here every term is
// rounded once to a multiple of 2^−fraction_bits and the terms are added as
// integers, which is exact and associative: the result is the same bits for
// any partition and any order. Terms must keep |term| · 2^fraction_bits
// below 2^100 and the sum below 2^120 in the same units.
#include <mpi.h>

#include <cstdint>
#include <vector>

namespace twinflow {

class FixedPointSum {
 public:
  /// `slots` independent sums, each of terms rounded to 2^−fraction_bits.
  FixedPointSum(std::size_t slots, int fraction_bits);
  std::size_t slots() const { return sums_.size(); }
  /// Adds a term to a slot (local; throws std::domain_error for a term
  /// that is not finite or out of range).
  void add(std::size_t slot, double term);
  /// Collective over comm. The sums of every slot over all ranks' terms,
  /// identical bits on every rank, in one allreduce of three 64-bit digits
  /// per slot. The local terms are kept (reduce again after more adds).
  std::vector<double> reduce(MPI_Comm comm) const;
  /// Forgets every term.
  void clear();

 private:
  std::vector<__int128> sums_;
  int fraction_bits_;
  double scale_;
};

}  // namespace twinflow
