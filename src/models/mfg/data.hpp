#pragma once
// The data of the mfg family (`mfg.data`): a Gaussian mixture in the
// ou.target syntax, one of the 2-D toy sets (`toy:NAME`), or a file of
// points (`file:PATH`, one point per line, `#` comments). In d ≥ 4
// dimensions (the grid-free sample space) a toy set lies on a plane: its
// 2-D point p is embedded as Q p, Q a fixed d × 2 matrix of orthonormal
// columns (the same in every run). A run takes n
// training points from it (`mfg.train`), a fresh set of the same size that
// training never sees, and, for the memorisation baseline, more points of
// the data law. From a law (mixture or toy set) point `id` is a function
// of (seed, id) alone; from a file the points are put in an order fixed by
// the seed, the first n train and the rest are held out. Not collective
// (every rank builds the same sets).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "twinflow/math/gaussian_mixture.hpp"

namespace twinflow::mfg {

/// The family's default mfg.data: four separated modes, narrow enough that
/// 500 training points leave the empirical score far from the law's.
inline constexpr const char* kDefaultData =
    "0.25:-1.5,-1.5:0.05;0.25:1.5,1.5:0.05;0.25:-1.5,1.5:0.05;0.25:1.5,-1.5:0.05";

class DataSource {
 public:
  /// Parses `mfg.data` for points of `dim` coordinates and draws the
  /// `train` training points; throws UsageError naming mfg.data,
  /// mfg.train or grid.dim.
  DataSource(const std::string& spec, int dim, std::int64_t train, std::uint64_t seed);

  int dim() const { return dim_; }
  /// The data law when it is a Gaussian mixture.
  const std::optional<GaussianMixture>& mixture() const { return mixture_; }
  /// "mixture", "toy:NAME" or "file".
  const std::string& kind() const { return kind_; }
  std::int64_t train_count() const { return train_; }
  /// Point-major: training points and the fresh set (n points, or what a
  /// file holds beyond the training points, whichever is fewer).
  const std::vector<double>& training() const { return training_; }
  const std::vector<double>& fresh() const { return fresh_; }
  /// Whether baseline() draws new points of the law (false for a file,
  /// whose held-out points are the fresh set).
  bool has_law() const { return kind_ != "file"; }
  /// Points [first, first + count) of the baseline sample: points of the
  /// law beyond the training and fresh sets (has_law() only).
  std::vector<double> baseline(std::int64_t first, std::int64_t count) const;
  /// The point masses of the training points, weight 1/n each.
  GaussianMixture training_law() const;
  /// Whether the data lie on an embedded plane (a toy set in d ≥ 4).
  bool embedded() const { return !embedding_.empty(); }
  /// |x − Q Qᵀ x|, the distance of x to that plane (embedded() only).
  double plane_distance(const double* x) const;

 private:
  void draw(std::uint64_t id, double* x) const;
  int dim_;
  std::int64_t train_;
  std::uint64_t seed_;
  std::string kind_, toy_;
  std::optional<GaussianMixture> mixture_;
  std::vector<double> training_, fresh_;
  std::vector<double> embedding_;  ///< Q, d × 2 row-major (empty on the plane itself)
};

}  // namespace twinflow::mfg
