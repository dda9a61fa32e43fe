#pragma once
// Checkpoints of a run. A checkpoint is one HDF5 file beside the output and
// named after it: for the output run.h5, run.checkpoint-000003.h5 is the
// third. It is written under "<name>.partial", closed and renamed; only then
// is it listed in the manifest run.checkpoints (one line per complete
// checkpoint: sequence, file name, size in bytes, CRC-32 of its bytes), and
// only then are checkpoints older than the newest `keep` removed. A crash at
// any moment therefore leaves the newest listed checkpoint intact.
//
// What a checkpoint holds is named once per object, by a function
// `checkpoint(CheckpointArchive&)` that the archive runs either to save or to
// restore, so saving and restoring cannot disagree. Layouts do not depend on
// the rank count: grid vectors in natural order, per-particle arrays in
// global-id order, so a run may resume on any number of ranks.
#include <hdf5.h>
#include <mpi.h>
#include <petscdm.h>

#include <cstdint>
#include <string>
#include <vector>

namespace twinflow {

struct Ensemble;
struct Slab;

/// One scope (an HDF5 group) of an open checkpoint, in save or restore mode.
/// Every member function is collective over the communicator and takes the
/// same names on every rank. Restoring a name that is missing throws
/// RuntimeFailure.
class CheckpointArchive {
 public:
  enum class Mode { kSave, kRestore };
  CheckpointArchive(MPI_Comm comm, hid_t file, Mode mode, std::string group = "/");

  bool saving() const { return mode_ == Mode::kSave; }
  MPI_Comm comm() const { return comm_; }
  /// The archive of a nested group.
  CheckpointArchive scope(const std::string& name) const;

  /// Values identical on every rank.
  void value(const std::string& name, double& v);
  void value(const std::string& name, std::int64_t& v);
  void value(const std::string& name, std::string& v);
  void replicated(const std::string& name, std::vector<double>& v);
  /// Per-rank counts of which only the sum over the ranks means anything
  /// (events counted by each rank's units): saved as their sums, restored
  /// to rank 0 with every other rank at 0, so that sums over any rank count
  /// continue.
  void rank_counts(const std::string& name, std::int64_t* counts, int n);
  void replicated(const std::string& name, std::vector<std::int64_t>& v);
  /// A list of strings identical on every rank.
  void names(const std::string& name, std::vector<std::string>& v);
  /// `count` fields on a cell space, this rank's blocks one after another in
  /// `values` (`components` values per cell), stored as one
  /// [count, shape..., components] dataset in natural order; restoring reads
  /// the blocks of `slab`, whatever ranks wrote them.
  void blocks(const std::string& name, const Slab& slab, int components, std::int64_t count,
              std::vector<double>& values);
  /// `per` entries per particle of this rank's ensemble (ids first_id ..
  /// first_id + count − 1 of total), stored in global-id order; restoring
  /// reads the ids of the ensemble given, whatever ranks wrote them.
  template <class T>
  void particles(const std::string& name, const Ensemble& ensemble, std::vector<T>& v, int per);
  /// A global Vec of a DMDA (any dof), stored in natural order; restoring
  /// fills the Vec of a DMDA of the same global shape.
  void grid_vector(const std::string& name, DM dm, Vec v);
  /// A Vec with no DM, stored in its global order (contiguous ownership
  /// ranges are that order); restoring fills a Vec of the same global size.
  void plain_vector(const std::string& name, Vec v);

 private:
  std::string path(const std::string& name) const;
  template <class T>
  void scalar(const std::string& name, hid_t type, T& v);
  MPI_Comm comm_;
  hid_t file_;
  Mode mode_;
  std::string group_;
};

/// An open checkpoint file. Collective over comm.
class CheckpointFile {
 public:
  /// Creates "<path>.partial" to save into.
  static CheckpointFile create(MPI_Comm comm, const std::string& path);
  /// Opens a complete checkpoint to restore from.
  static CheckpointFile open(MPI_Comm comm, const std::string& path);
  ~CheckpointFile();
  CheckpointFile(CheckpointFile&& other) noexcept;
  CheckpointFile(const CheckpointFile&) = delete;
  CheckpointFile& operator=(const CheckpointFile&) = delete;
  CheckpointFile& operator=(CheckpointFile&&) = delete;

  CheckpointArchive archive();
  /// Saving: closes the file and renames "<path>.partial" to path.
  void commit();

 private:
  CheckpointFile(MPI_Comm comm, std::string path, hid_t file, bool saving);
  MPI_Comm comm_;
  std::string path_;
  hid_t file_ = -1;
  bool saving_ = false;
};

/// The checkpoints of one output path: their names, the manifest, the
/// publish-and-prune protocol and the choice of a checkpoint to resume from.
/// Nothing here is collective; the driver calls it on rank 0 and agrees.
class CheckpointSeries {
 public:
  struct Entry {
    std::int64_t sequence = 0;
    std::string file;  ///< file name, in the directory of the output
    std::uintmax_t bytes = 0;
    std::uint32_t crc32 = 0;
  };

  explicit CheckpointSeries(const std::string& output_path);
  const std::string& manifest_path() const { return manifest_; }
  /// Full path of checkpoint number `sequence`.
  std::string path_of(std::int64_t sequence) const;
  std::string path_of(const Entry& e) const;
  /// The manifest's entries, oldest first (none when there is no manifest).
  /// Throws UsageError('restart') when the manifest is malformed.
  std::vector<Entry> entries() const;
  /// Lists the complete file of checkpoint `sequence` in the manifest
  /// (written under a temporary name and renamed), then removes the files
  /// of all but the newest `keep` entries.
  void publish(std::int64_t sequence, std::int64_t keep) const;
  /// The entry named by --restart: "latest" or a checkpoint path, checked
  /// against its size and CRC-32. Throws UsageError('restart') naming what
  /// is wrong and what is accepted.
  Entry resolve(const std::string& restart) const;
  /// Removes every listed checkpoint and the manifest.
  void remove_all() const;

 private:
  std::string directory_, stem_, manifest_;
};

/// CRC-32 (IEEE) of a file's bytes; throws RuntimeFailure when unreadable.
std::uint32_t file_crc32(const std::string& path);

}  // namespace twinflow
