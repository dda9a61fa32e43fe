#include "twinflow/io/output_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/error.hpp"
#include "io/hdf5_util.hpp"

namespace twinflow {
namespace fs = std::filesystem;

namespace {

using h5::check;
using h5::check_id;

}  // namespace

OutputFile::OutputFile(MPI_Comm comm, std::string path, bool overwrite)
    : comm_(comm), path_(std::move(path)), partial_(path_ + ".partial") {
  on_root_and_agree(comm_, [&] {
    if (path_.empty()) throw UsageError("output", "is empty; accepted: a file path");
    std::error_code ec;
    if (fs::is_directory(path_, ec))
      throw UsageError("output", "'" + path_ + "' is a directory; accepted: a file path");
    if (fs::exists(path_) && !overwrite)
      throw UsageError("output", "'" + path_ + "' exists; accepted: a new path, or --overwrite");
    const fs::path dir = fs::absolute(path_).parent_path();
    if (!fs::is_directory(dir))
      throw UsageError("output", "directory '" + dir.string() + "' does not exist");
    if (access(dir.c_str(), W_OK) != 0)
      throw UsageError("output", "directory '" + dir.string() + "' is not writable");
    // The run being replaced goes now, not at the commit: an interrupted
    // replacement must resume (--restart=latest), not find a finished run.
    if (overwrite && fs::exists(path_) && !fs::remove(path_, ec))
      throw RuntimeFailure("cannot remove '" + path_ + "' to overwrite it: " + ec.message());
  });
  const hid_t fapl = h5::parallel_access(comm_);
  file_ = H5Fcreate(partial_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  agree(comm_, [&] {
    if (file_ < 0) throw UsageError("output", "cannot create '" + partial_ + "'");
  });
}

OutputFile::OutputFile(MPI_Comm comm, std::string path, Resume)
    : comm_(comm), path_(std::move(path)), partial_(path_ + ".partial"), retained_(true) {
  on_root_and_agree(comm_, [&] {
    if (!fs::exists(partial_))
      throw UsageError("restart", "the interrupted run's output '" + partial_ + "' is missing; a checkpoint "
                                  "continues that file; accepted: a checkpoint whose output is still there, "
                                  "or a fresh run without --restart");
  });
  const hid_t fapl = h5::parallel_access(comm_);
  H5E_BEGIN_TRY { file_ = H5Fopen(partial_.c_str(), H5F_ACC_RDWR, fapl); }
  H5E_END_TRY;
  H5Pclose(fapl);
  agree(comm_, [&] {
    if (file_ < 0)
      throw UsageError("restart", "the interrupted run's output '" + partial_ + "' cannot be opened as HDF5; "
                                  "accepted: a checkpoint whose output is intact, or a fresh run without --restart");
  });
}

OutputFile::~OutputFile() {
  if (committed_) return;
  if (retained_) {
    if (file_ >= 0) H5Fclose(file_);
    return;
  }
  if (file_ >= 0) H5Fclose(file_);
  int rank = 0;
  MPI_Comm_rank(comm_, &rank);
  if (rank == 0) std::remove(partial_.c_str());
}

void OutputFile::attribute(const std::string& object, const std::string& name, const std::string& value) {
  collective_point(comm_);
  h5::write_attribute(file_, object, name, value);
}

std::string OutputFile::string_attribute(const std::string& object, const std::string& name) const {
  collective_point(comm_);
  return h5::read_string_attribute(file_, object, name);
}

void OutputFile::group(const std::string& path) {
  collective_point(comm_);
  h5::ensure_groups(file_, path, true);
}

bool OutputFile::exists(const std::string& object) const {
  // H5Lexists needs every parent to exist, so walk down the path.
  for (std::size_t pos = object.find('/', 1);; pos = object.find('/', pos + 1)) {
    const std::string prefix = object.substr(0, pos);
    if (H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

void OutputFile::attribute(const std::string& object, const std::string& name, double value) {
  collective_point(comm_);
  const hid_t s = H5Screate(H5S_SCALAR);
  h5::write_attribute(file_, object, name, H5T_NATIVE_DOUBLE, s, &value);
  H5Sclose(s);
}

void OutputFile::attribute(const std::string& object, const std::string& name, std::int64_t value) {
  collective_point(comm_);
  const hid_t s = H5Screate(H5S_SCALAR);
  h5::write_attribute(file_, object, name, H5T_NATIVE_INT64, s, &value);
  H5Sclose(s);
}

void OutputFile::attribute(const std::string& object, const std::string& name,
                           const std::vector<double>& value) {
  collective_point(comm_);
  const hsize_t n = value.size();
  const hid_t s = H5Screate_simple(1, &n, nullptr);
  h5::write_attribute(file_, object, name, H5T_NATIVE_DOUBLE, s, value.data());
  H5Sclose(s);
}

void OutputFile::attribute(const std::string& object, const std::string& name,
                           const std::vector<std::int64_t>& value) {
  collective_point(comm_);
  const hsize_t n = value.size();
  const hid_t s = H5Screate_simple(1, &n, nullptr);
  h5::write_attribute(file_, object, name, H5T_NATIVE_INT64, s, value.data());
  H5Sclose(s);
}

void OutputFile::write_vector(const std::string& path, const std::vector<double>& values) {
  write_array(path, {static_cast<std::int64_t>(values.size())}, values);
}

void OutputFile::write_array(const std::string& path, const std::vector<std::int64_t>& shape,
                             const std::vector<double>& values) {
  collective_point(comm_);
  h5::ensure_groups(file_, path);
  // A resumed run may repeat a write its interrupted predecessor made.
  if (exists(path)) H5Ldelete(file_, path.c_str(), H5P_DEFAULT);
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  const auto rank_of_array = static_cast<int>(dims.size());
  const hid_t space = H5Screate_simple(rank_of_array, dims.data(), nullptr);
  const hid_t d = check_id(H5Dcreate2(file_, path.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT),
                           "create " + path);
  int rank = 0;
  MPI_Comm_rank(comm_, &rank);
  // Rank 0 writes everything, the others take part with an empty selection.
  const hid_t mem = H5Screate_simple(rank_of_array, dims.data(), nullptr);
  if (rank != 0) {
    H5Sselect_none(space);
    H5Sselect_none(mem);
  }
  const hid_t dxpl = h5::collective_transfer();
  check(H5Dwrite(d, H5T_NATIVE_DOUBLE, mem, space, dxpl, values.data()), "write " + path);
  H5Pclose(dxpl);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
}

void OutputFile::write_grid(const Box& box) {
  collective_point(comm_);
  std::vector<double> lo(box.lower.begin(), box.lower.begin() + box.dim);
  std::vector<double> hi(box.upper.begin(), box.upper.begin() + box.dim);
  std::vector<std::int64_t> shape(box.cells.begin(), box.cells.begin() + box.dim);
  for (int k = 0; k < box.dim; ++k) {
    std::vector<double> x(static_cast<std::size_t>(box.cells[k]));
    for (std::int64_t i = 0; i < box.cells[k]; ++i) x[i] = box.centre(k, i);
    write_vector("/grid/x" + std::to_string(k), x);
    // The cell faces, for plots of cell averages (pcolormesh) and the
    // XDMF sidecar's mesh of cells.
    std::vector<double> faces(static_cast<std::size_t>(box.cells[k] + 1));
    for (std::int64_t i = 0; i <= box.cells[k]; ++i)
      faces[i] = i == box.cells[k] ? box.upper[k] : box.lower[k] + static_cast<double>(i) * box.spacing(k);
    write_vector("/grid/x" + std::to_string(k) + "_faces", faces);
  }
  attribute("/grid", "dim", static_cast<std::int64_t>(box.dim));
  attribute("/grid", "lower", lo);
  attribute("/grid", "upper", hi);
  attribute("/grid", "shape", shape);
  attribute("/grid", "boundary", std::string("zero-flux"));
  attribute("/grid", "centering", std::string("cell"));
}

std::vector<double> OutputFile::read_vector(const std::string& path) const {
  collective_point(comm_);
  const hid_t d = check_id(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), "open " + path);
  const hid_t space = H5Dget_space(d);
  const auto n = H5Sget_simple_extent_npoints(space);
  std::vector<double> v(static_cast<std::size_t>(std::max<hssize_t>(n, 0)));
  const herr_t status = n > 0 ? H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) : 0;
  H5Sclose(space);
  H5Dclose(d);
  check(status, "read " + path);
  return v;
}

void OutputFile::create_series(const std::string& path, const std::string& axis, std::int64_t count,
                               const Slab& slab, int components) {
  collective_point(comm_);
  if (exists(path)) return;  // created before the checkpoint a resumed run continues from
  h5::ensure_groups(file_, path);
  std::vector<hsize_t> dims{static_cast<hsize_t>(count)};
  for (auto n : slab.shape) dims.push_back(static_cast<hsize_t>(n));
  if (components > 1) dims.push_back(static_cast<hsize_t>(components));
  std::vector<hsize_t> chunk = dims;
  chunk[0] = 1;
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  // Entries never written read as NaN, not as a plausible zero density.
  const double fill = std::numeric_limits<double>::quiet_NaN();
  H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &fill);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  const hid_t d = check_id(
      H5Dcreate2(file_, path.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
      "create " + path);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  attribute(path, "axis", axis);
}

namespace {
// Selects entry `index` of a series, restricted to this rank's block (all
// components of each cell); returns the memory space of that block.
hid_t select_owned_entry(hid_t space, std::int64_t index, const Slab& slab) {
  std::vector<hsize_t> start{static_cast<hsize_t>(index)}, count{1};
  for (std::size_t k = 0; k < slab.shape.size(); ++k) {
    start.push_back(static_cast<hsize_t>(slab.start[k]));
    count.push_back(static_cast<hsize_t>(slab.count[k]));
  }
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank > static_cast<int>(slab.shape.size()) + 1) {  // trailing component axis
    hsize_t extent[8];
    H5Sget_simple_extent_dims(space, extent, nullptr);
    start.push_back(0);
    count.push_back(extent[rank - 1]);
  }
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  return H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr);
}
}  // namespace

void OutputFile::write_entry(const std::string& path, std::int64_t index, const Slab& slab,
                             const std::vector<double>& owned) {
  transfer_entry(path, index, slab, const_cast<double*>(owned.data()), true);
}

void OutputFile::read_entry(const std::string& path, std::int64_t index, const Slab& slab, int components,
                            std::vector<double>& owned) const {
  owned.resize(static_cast<std::size_t>(slab.size() * components));
  transfer_entry(path, index, slab, owned.data(), false);
}

void OutputFile::transfer_entry(const std::string& path, std::int64_t index, const Slab& slab, double* owned,
                                bool write) const {
  collective_point(comm_);
  const hid_t d = check_id(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), "open " + path);
  const hid_t space = H5Dget_space(d);
  const hid_t mem = select_owned_entry(space, index, slab);
  if (slab.size() == 0) {
    H5Sselect_none(space);
    H5Sselect_none(mem);
  }
  const hid_t dxpl = h5::collective_transfer();
  double unused = 0;
  double* data = slab.size() > 0 ? owned : &unused;
  const herr_t status = write ? H5Dwrite(d, H5T_NATIVE_DOUBLE, mem, space, dxpl, data)
                              : H5Dread(d, H5T_NATIVE_DOUBLE, mem, space, dxpl, data);
  H5Pclose(dxpl);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
  check(status, (write ? "write " : "read ") + path);
}

void OutputFile::flush() {
  collective_point(comm_);
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flush " + partial_);
}

void OutputFile::suspend() {
  collective_point(comm_);
  check(H5Fclose(file_), "close " + partial_);
  file_ = -1;
  retained_ = true;
}

void OutputFile::commit() {
  collective_point(comm_);
  check(H5Fclose(file_), "close " + partial_);
  file_ = -1;
  on_root_and_agree(comm_, [&] {
    if (std::rename(partial_.c_str(), path_.c_str()) != 0)
      throw RuntimeFailure("cannot rename '" + partial_ + "' to '" + path_ + "': " + std::strerror(errno));
  });
  committed_ = true;
}

}  // namespace twinflow
