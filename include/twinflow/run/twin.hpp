#pragma once
// Twins: what a family declares it compares. A twin names the stage whose
// samples are compared, at each of that stage's outputs, with a reference on
// one space, and which metrics to print. The driver computes the metrics as
// the samples arrive, writes every metric to /compare/<twin>/<metric> (the
// first twin of a family may keep /compare/<metric>), and prints one table
// per twin, rows in the order of the stage's outputs (the order of the
// datasets, whose attribute `axis` names the clock dataset they follow).
//
// On a cell space the reference is a density on the owned block and the
// metrics are those of compare/metrics.hpp (l1, tv = l1/2, hellinger, kl,
// noise_floor_l1, w1 in 1-D), optionally split into atoms and a continuous
// part, and W1 against marginal CDFs on fine bins. On the sample space the
// reference is a law (compare/sample_metrics.hpp).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "twinflow/compare/sample_metrics.hpp"
#include "twinflow/run/ensemble.hpp"
#include "twinflow/run/state_space.hpp"

namespace twinflow {

class CheckpointArchive;
class OutputFile;

struct Twin {
  std::string name;         ///< results at /compare/<name>/<metric>
  bool top_level = false;   ///< results at /compare/<metric> instead
  std::string stage;        ///< the stage whose samples are compared
  std::string space;        ///< the space they are compared on
  std::string title;        ///< printed above the table
  std::string clock = "t";  ///< the stage's clock, the table's first column
  std::string axis;         ///< the dataset of the clock values (attribute `axis` of the results)
  std::string reference_name;  ///< what the reference is ("pde", "exact"; attribute `reference`)

  /// Cell space: the reference density at output j on this rank's block
  /// (collective); false when there is none.
  std::function<bool(std::size_t j, double clock, std::vector<double>& owned)> reference;
  /// Sample space: the reference law at output j.
  std::function<std::unique_ptr<ReferenceLaw>(std::size_t j, double clock)> law;
  /// Optional, cell space: marks (1) the owned cells holding atoms, whose
  /// mass is compared on its own; the rest is compared as the continuous
  /// part (metrics continuous_l1, continuous_noise_floor_l1, atom_mass_reference,
  /// atom_mass_samples).
  std::function<void(std::size_t j, double clock, std::vector<unsigned char>& atoms)> atoms;
  /// Optional, cell space: the reference's marginal CDF along an axis, for
  /// W1 on 2^16 fine bins of the box, independent of the grid (metrics
  /// w1_fine and w1_fine_floor, averaged over the axes).
  std::function<double(std::size_t j, int axis, double x)> marginal_cdf;
  /// Optional: the error the theory expects at output j (metric
  /// `expected`), printed beside the noise floor under this label.
  std::string expected_label;
  std::function<double(std::size_t j, double clock)> expected;
  /// Printed columns: (metric or dataset path, header). A path (leading
  /// '/') is read from the output at the end, indexed like the outputs.
  /// None: the twin is written but not printed (a floor other twins print).
  std::vector<std::pair<std::string, std::string>> columns;
};

/// The rows of one twin so far: every metric by output index (NaN where an
/// output had no reference). Collective where noted.
class TwinResults {
 public:
  explicit TwinResults(Twin twin) : twin_(std::move(twin)) {}
  const Twin& twin() const { return twin_; }

  /// Collective. Compares the samples at output j on a cell space (the
  /// histogram is their density on it) or on the sample space.
  void add(std::size_t j, double clock, const StateSpace& space, const Ensemble& e,
           const std::vector<double>* histogram, std::uint64_t seed);
  /// Collective. Writes /compare/... (a twin that never had a reference
  /// writes nothing).
  void write(OutputFile& out) const;
  /// Collective. The printed table (on rank 0); dataset columns are read
  /// from `out`.
  std::string table(const OutputFile& out) const;
  /// Collective. Saves or restores the rows.
  void checkpoint(CheckpointArchive& archive);
  /// Metric `name` at every output so far (empty when never computed). Not collective.
  const std::vector<double>& metric(const std::string& name) const;

 private:
  void set(std::size_t j, const std::string& metric, double value);
  Twin twin_;
  std::vector<double> clock_;
  std::map<std::string, std::vector<double>> metrics_;
};

}  // namespace twinflow
