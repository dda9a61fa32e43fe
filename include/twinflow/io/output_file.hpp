#pragma once
// The run's HDF5 file (parallel HDF5 over MPI-IO). It is created under
// "<path>.partial" and renamed to <path> by commit(); a file that is never
// committed is removed, so no half-written output is ever left under the
// final name, unless a checkpoint refers to it (retain(), suspend(), or a
// resumed run): then it stays as the interrupted run's output, and flush()
// after each snapshot keeps every completed snapshot readable even after a
// crash (series are allocated up front, so later raw-data writes do not
// touch the file's metadata). Every member function is collective over the
// communicator, starts with a collective point (core/collective.hpp), and
// must be called with the same arguments on every rank, except where a
// parameter is this rank's owned block.
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "twinflow/grid/grid.hpp"
#include "twinflow/run/state_space.hpp"

namespace twinflow {

class OutputFile {
 public:
  /// Throws UsageError('output') when the file exists and overwrite is
  /// false, or when the directory is not writable. With overwrite, an
  /// existing file is removed here, as the new run starts writing.
  OutputFile(MPI_Comm comm, std::string path, bool overwrite);
  /// Reopens "<path>.partial" of an interrupted run to continue it. Throws
  /// UsageError('restart') when it is missing or not readable HDF5.
  struct Resume {};
  OutputFile(MPI_Comm comm, std::string path, Resume);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& partial_path() const { return partial_; }

  /// Keeps "<path>.partial" when the file is destroyed uncommitted.
  void retain() { retained_ = true; }
  /// Writes HDF5's caches to disk.
  void flush();
  /// Closes the file and keeps it under "<path>.partial" (the run stops here
  /// and a checkpoint continues it).
  void suspend();
  bool exists(const std::string& object) const;
  std::string string_attribute(const std::string& object, const std::string& name) const;
  /// Creates a group (and its parents) when missing.
  void group(const std::string& path);

  void attribute(const std::string& object, const std::string& name, const std::string& value);
  void attribute(const std::string& object, const std::string& name, double value);
  void attribute(const std::string& object, const std::string& name, std::int64_t value);
  void attribute(const std::string& object, const std::string& name, const std::vector<double>& value);
  void attribute(const std::string& object, const std::string& name,
                 const std::vector<std::int64_t>& value);

  /// /grid: attributes and cell-centre coordinates x0, x1, x2.
  void write_grid(const Box& box);
  /// A small 1-D dataset, written whole (values identical on every rank);
  /// an existing one is replaced.
  void write_vector(const std::string& path, const std::vector<double>& values);
  /// A small dataset of the given shape (C order), written whole (values
  /// identical on every rank).
  void write_array(const std::string& path, const std::vector<std::int64_t>& shape,
                   const std::vector<double>& values);
  /// A small 1-D dataset read whole on every rank.
  std::vector<double> read_vector(const std::string& path) const;
  /// A [count, shape...] dataset for a series of fields on a cell space (the
  /// slab's shape), one chunk per entry, with a trailing axis of
  /// `components` values per cell when there is more than one; entries are
  /// filled by write_entry and read as NaN until then; its attribute `axis`
  /// names the dataset of the entries' clock values (/time, /reverse/time,
  /// …). An existing series (of a resumed run) is kept.
  void create_series(const std::string& path, const std::string& axis, std::int64_t count, const Slab& slab,
                     int components = 1);
  /// Writes this rank's block (C order, components fastest) as entry
  /// `index` of a series.
  void write_entry(const std::string& path, std::int64_t index, const Slab& slab, const std::vector<double>& owned);
  /// Reads this rank's block of entry `index` of a series.
  void read_entry(const std::string& path, std::int64_t index, const Slab& slab, int components,
                  std::vector<double>& owned) const;
  /// Closes the file and renames it to its final name.
  void commit();

 private:
  // Writes or reads this rank's block of entry `index` of a series.
  void transfer_entry(const std::string& path, std::int64_t index, const Slab& slab, double* owned, bool write) const;
  MPI_Comm comm_;
  std::string path_, partial_;
  hid_t file_ = -1;
  bool committed_ = false, retained_ = false;
};

}  // namespace twinflow
