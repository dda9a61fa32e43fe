#pragma once
// What one stage hands a later one: fields on a cell space keyed by name and
// time (the PDE density at every σ a reverse sampler uses, the PDE velocity
// at every stage time of a flow, a score history, a potential). Each rank
// keeps its own block only; a consumer gathers the whole field on demand,
// one time at a time. The store is checkpointed once, by the driver; an
// entry that is also an entry of an output series is not copied into
// checkpoints but read back from the interrupted output on resume.
// Collective unless noted.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "twinflow/run/state_space.hpp"

namespace twinflow {

class CheckpointArchive;
class OutputFile;

class FieldStore {
 public:
  explicit FieldStore(MPI_Comm comm) : comm_(comm) {}

  /// Where an entry also lives in the output: entry `index` of series `path`.
  struct Backing {
    std::string path;
    std::int64_t index = 0;
  };

  /// Keeps field `name` at time t: this rank's block of `space` with
  /// `components` values per cell (replacing an entry at the same time).
  /// Not collective.
  void put(const std::string& name, double t, const CellSpace& space, std::vector<double> owned, int components = 1,
           std::optional<Backing> backing = std::nullopt);
  /// Whether an entry exists at t (to 1e-9 relative). Not collective.
  bool has(const std::string& name, double t) const;
  /// This rank's block of the entry at t; throws RuntimeFailure naming the
  /// field and the time when there is none. Not collective.
  const std::vector<double>& owned(const std::string& name, double t) const;
  /// The whole entry at t on every rank (natural C order, components fastest).
  void gather(const std::string& name, double t, std::vector<double>& full) const;
  /// Times of a field, ascending. Not collective.
  std::vector<double> times(const std::string& name) const;

  /// Saves or restores every entry: in natural order, so a run may resume on
  /// another rank count; backed entries as references to the output. The
  /// spaces are looked up by name in `spaces` when restoring.
  void checkpoint(CheckpointArchive& archive, const OutputFile& out, const std::vector<const CellSpace*>& spaces);

 private:
  struct Entry {
    const CellSpace* space = nullptr;
    int components = 1;
    std::vector<double> owned;
    std::optional<Backing> backing;
  };
  using Series = std::map<double, Entry>;
  const Entry& entry(const std::string& name, double t) const;
  static Series::const_iterator find(const Series& s, double t);
  MPI_Comm comm_;
  std::map<std::string, Series> fields_;
};

}  // namespace twinflow
