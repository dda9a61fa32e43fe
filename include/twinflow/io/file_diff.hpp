#pragma once
// `twinflow diff A.h5 B.h5`: two HDF5 files compared object by object, the
// way a user checks a run for reproducibility, a restart against an
// uninterrupted run, or one rank count against another. Groups and datasets
// must exist in both; datasets must have the same shape and kind; values
// are equal when both are NaN or |a − b| ≤ atol + rtol·|b| (integers and
// strings exactly), with a tolerance of their own for the datasets under a
// listed path prefix; attributes likewise, except the provenance that differs
// between any two runs (run_id, created_utc, the build and MPI library, the
// rank count, Slurm ids, measured seconds) unless asked. A `config`
// attribute (the resolved ini) is compared key by key, keys as on the
// command line. Not collective.
#include <map>
#include <set>
#include <string>
#include <vector>

namespace twinflow {

struct DiffTolerance {
  double rtol = 0, atol = 0;
};

struct DiffOptions {
  DiffTolerance default_tolerance;  ///< for every value without a tolerance of its own
  /// The objects whose path starts with the key (a dataset and its
  /// attributes): (rtol, atol) of their own, the longest matching prefix
  /// winning (e.g. the particle series exact while the PDE agrees to
  /// round-off). Keys are not empty.
  std::map<std::string, DiffTolerance> tolerance_by_prefix;
  DiffTolerance tolerance_of(const std::string& object_path) const;
  /// Dataset paths not compared: a whole path or "*suffix" (measured times).
  std::set<std::string> ignored_datasets;
  /// Attribute names not compared (the provenance by default); "*suffix"
  /// stands for every name ending in suffix (measured times: "*_seconds").
  std::set<std::string> ignored_attributes = default_ignored_attributes();
  static std::set<std::string> default_ignored_attributes();
  /// Keys of the `config` attribute not compared: by default those that
  /// change where and how a run writes, not what it computes (output,
  /// overwrite, restart, quiet, progress_interval, checkpoint.*).
  std::set<std::string> ignored_config_keys = default_ignored_config_keys();
  static std::set<std::string> default_ignored_config_keys();
};

struct DiffResult {
  enum class Verdict { kIdentical, kWithinTolerance, kDifferent };
  Verdict verdict = Verdict::kIdentical;
  /// One line per difference (kDifferent), or the largest difference that
  /// the tolerance accepted (kWithinTolerance).
  std::vector<std::string> lines;
  int objects = 0;  ///< groups and datasets compared
};

/// Throws std::runtime_error naming the file when one cannot be read as HDF5.
DiffResult diff_files(const std::string& a, const std::string& b, const DiffOptions& options);

}  // namespace twinflow
