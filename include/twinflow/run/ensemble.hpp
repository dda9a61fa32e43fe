#pragma once
// The particle side of a run, partitioned by unit. A unit is what must stay
// on one rank: one particle, one whole random matrix (its N eigenvalues are
// N points of one unit), or one spin configuration (its L sites as bits).
// Each rank owns a contiguous range of unit ids, possibly empty; randomness
// is keyed by (seed, stream, unit id, step), so a unit's history does not
// depend on the rank that owns it. Not collective.
#include <mpi.h>

#include <cstdint>
#include <vector>

namespace twinflow {

struct Ensemble {
  int dim = 1;              ///< coordinates per point
  int points_per_unit = 1;  ///< points each unit carries (0 for configurations of bits)
  int sites = 0;            ///< sites of a configuration (0 for units of points)
  std::int64_t first_id = 0, count = 0, total = 0;  ///< this rank's units [first_id, first_id + count) of total
  /// Points, unit-major: x[(u · points_per_unit + p) · dim + a] is coordinate
  /// a of point p of local unit u.
  std::vector<double> x;
  /// Configurations: site i of local unit u is bit (i % 64) of
  /// bits[u · words_per_unit() + i / 64].
  std::vector<std::uint64_t> bits;

  /// Even split of `units` ids of points over the ranks of comm (the first
  /// units % size ranks own one more).
  static Ensemble partition(MPI_Comm comm, std::int64_t units, int dim, int points_per_unit = 1);
  /// The same for configurations of `sites` bits.
  static Ensemble partition_bits(MPI_Comm comm, std::int64_t units, int sites);

  /// Points owned by this rank.
  std::int64_t points() const { return count * points_per_unit; }
  /// 64-bit words per configuration.
  int words_per_unit() const { return (sites + 63) / 64; }
  /// Site i of local unit u.
  bool site(std::int64_t u, int i) const {
    return (bits[static_cast<std::size_t>(u * words_per_unit() + i / 64)] >> (i % 64)) & 1u;
  }
};

}  // namespace twinflow
