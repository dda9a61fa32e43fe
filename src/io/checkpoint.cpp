#include "twinflow/io/checkpoint.hpp"

#include <petscdmda.h>

#include <boost/crc.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/hdf5_util.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/petsc_error.hpp"
#include "twinflow/run/ensemble.hpp"
#include "twinflow/run/state_space.hpp"

namespace twinflow {
namespace fs = std::filesystem;

namespace {

template <class T>
hid_t native_type();
template <>
hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid_t native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid_t native_type<signed char>() {
  return H5T_NATIVE_SCHAR;
}
template <>
hid_t native_type<unsigned char>() {
  return H5T_NATIVE_UCHAR;
}
template <>
hid_t native_type<std::uint64_t>() {
  return H5T_NATIVE_UINT64;
}

// A 1-D dataset of `total` entries of which this rank holds [first, first +
// count): written or read collectively.
template <class T>
void distributed_array(hid_t file, const std::string& path, bool saving, std::int64_t total, std::int64_t first,
                       std::vector<T>& local) {
  const hsize_t n = static_cast<hsize_t>(total), start = static_cast<hsize_t>(first),
                count = static_cast<hsize_t>(local.size());
  hid_t d = -1;
  if (saving) {
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    d = h5::check_id(H5Dcreate2(file, path.c_str(), native_type<T>(), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                     "create " + path);
    H5Sclose(space);
  } else {
    if (H5Lexists(file, path.c_str(), H5P_DEFAULT) <= 0) throw RuntimeFailure("checkpoint has no " + path);
    d = h5::check_id(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "open " + path);
  }
  const hid_t space = H5Dget_space(d);
  hsize_t extent = 0;
  H5Sget_simple_extent_dims(space, &extent, nullptr);
  if (extent != n) {
    H5Sclose(space);
    H5Dclose(d);
    throw RuntimeFailure("checkpoint " + path + " has " + std::to_string(extent) + " entries, expected " +
                         std::to_string(total));
  }
  // A rank holding nothing still takes part, with empty selections; an
  // empty dataset needs no transfer at all (the same on every rank).
  const hsize_t one = 1;
  const hid_t mem = H5Screate_simple(1, count > 0 ? &count : &one, nullptr);
  if (count > 0) {
    H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
  } else {
    H5Sselect_none(space);
    H5Sselect_none(mem);
  }
  const hid_t dxpl = h5::collective_transfer();
  T unused{};
  T* data = count > 0 ? local.data() : &unused;
  herr_t status = 0;
  if (n > 0)
    status = saving ? H5Dwrite(d, native_type<T>(), mem, space, dxpl, data)
                    : H5Dread(d, native_type<T>(), mem, space, dxpl, data);
  H5Pclose(dxpl);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
  h5::check(status, (saving ? "write " : "read ") + path);
}

// A whole 1-D dataset, the same on every rank: rank 0 writes it, all read it.
template <class T>
void replicated_array(MPI_Comm comm, hid_t file, const std::string& path, bool saving, std::vector<T>& v) {
  if (!saving) {
    if (H5Lexists(file, path.c_str(), H5P_DEFAULT) <= 0) throw RuntimeFailure("checkpoint has no " + path);
    const hid_t d = h5::check_id(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "open " + path);
    const hid_t space = H5Dget_space(d);
    hsize_t extent = 0;
    H5Sget_simple_extent_dims(space, &extent, nullptr);
    v.resize(extent);
    const herr_t status = extent > 0 ? H5Dread(d, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) : 0;
    H5Sclose(space);
    H5Dclose(d);
    h5::check(status, "read " + path);
    return;
  }
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::vector<T> mine = rank == 0 ? v : std::vector<T>();
  distributed_array(file, path, true, static_cast<std::int64_t>(v.size()), 0, mine);
}

}  // namespace

CheckpointArchive::CheckpointArchive(MPI_Comm comm, hid_t file, Mode mode, std::string group)
    : comm_(comm), file_(file), mode_(mode), group_(std::move(group)) {
  if (saving()) h5::ensure_groups(file_, group_, true);
}

CheckpointArchive CheckpointArchive::scope(const std::string& name) const {
  return CheckpointArchive(comm_, file_, mode_, path(name));
}

std::string CheckpointArchive::path(const std::string& name) const {
  return group_ == "/" ? "/" + name : group_ + "/" + name;
}

template <class T>
void CheckpointArchive::scalar(const std::string& name, hid_t type, T& v) {
  collective_point(comm_);
  if (saving()) {
    const hid_t s = H5Screate(H5S_SCALAR);
    h5::write_attribute(file_, group_, name, type, s, &v);
    H5Sclose(s);
  } else {
    h5::read_attribute(file_, group_, name, type, &v);
  }
}

void CheckpointArchive::value(const std::string& name, double& v) { scalar(name, H5T_NATIVE_DOUBLE, v); }

void CheckpointArchive::value(const std::string& name, std::int64_t& v) { scalar(name, H5T_NATIVE_INT64, v); }

void CheckpointArchive::rank_counts(const std::string& name, std::int64_t* counts, int n) {
  std::vector<std::int64_t> totals(counts, counts + n);
  if (saving()) sum_over_ranks(comm_, totals.data(), n);
  replicated(name, totals);
  if (saving()) return;
  int rank = 0;
  MPI_Comm_rank(comm_, &rank);
  for (int k = 0; k < n; ++k) counts[k] = rank == 0 ? totals[static_cast<std::size_t>(k)] : 0;
}

void CheckpointArchive::value(const std::string& name, std::string& v) {
  collective_point(comm_);
  if (saving())
    h5::write_attribute(file_, group_, name, v);
  else
    v = h5::read_string_attribute(file_, group_, name);
}

void CheckpointArchive::replicated(const std::string& name, std::vector<double>& v) {
  collective_point(comm_);
  replicated_array(comm_, file_, path(name), saving(), v);
}

void CheckpointArchive::replicated(const std::string& name, std::vector<std::int64_t>& v) {
  collective_point(comm_);
  replicated_array(comm_, file_, path(name), saving(), v);
}

void CheckpointArchive::names(const std::string& name, std::vector<std::string>& v) {
  // One text attribute, the names separated by newlines (names have none).
  std::string joined;
  for (const auto& n : v) joined += n + "\n";
  value(name, joined);
  if (saving()) return;
  v.clear();
  std::istringstream in(joined);
  for (std::string line; std::getline(in, line);) v.push_back(line);
}

void CheckpointArchive::blocks(const std::string& name, const Slab& slab, int components, std::int64_t count,
                               std::vector<double>& values) {
  collective_point(comm_);
  const std::string p = path(name);
  std::vector<hsize_t> dims{static_cast<hsize_t>(count)};
  for (auto n : slab.shape) dims.push_back(static_cast<hsize_t>(n));
  dims.push_back(static_cast<hsize_t>(components));
  hid_t d = -1;
  if (saving()) {
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    d = h5::check_id(H5Dcreate2(file_, p.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                     "create " + p);
    H5Sclose(space);
  } else {
    if (H5Lexists(file_, p.c_str(), H5P_DEFAULT) <= 0) throw RuntimeFailure("checkpoint has no " + p);
    d = h5::check_id(H5Dopen2(file_, p.c_str(), H5P_DEFAULT), "open " + p);
    values.resize(static_cast<std::size_t>(count * slab.size() * components));
  }
  const hid_t space = H5Dget_space(d);
  std::vector<hsize_t> start{0}, block{static_cast<hsize_t>(count)};
  for (std::size_t k = 0; k < slab.shape.size(); ++k) {
    start.push_back(static_cast<hsize_t>(slab.start[k]));
    block.push_back(static_cast<hsize_t>(slab.count[k]));
  }
  start.push_back(0);
  block.push_back(static_cast<hsize_t>(components));
  const hid_t mem = H5Screate_simple(static_cast<int>(block.size()), block.data(), nullptr);
  const bool empty = count == 0 || slab.size() == 0;
  if (empty) {
    H5Sselect_none(space);
    H5Sselect_none(mem);
  } else {
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr);
  }
  const hid_t dxpl = h5::collective_transfer();
  double unused = 0;
  double* data = empty ? &unused : values.data();
  herr_t status = 0;
  if (count > 0)
    status = saving() ? H5Dwrite(d, H5T_NATIVE_DOUBLE, mem, space, dxpl, data)
                      : H5Dread(d, H5T_NATIVE_DOUBLE, mem, space, dxpl, data);
  H5Pclose(dxpl);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
  h5::check(status, (saving() ? "write " : "read ") + p);
}

template <class T>
void CheckpointArchive::particles(const std::string& name, const Ensemble& e, std::vector<T>& v, int per) {
  collective_point(comm_);
  v.resize(static_cast<std::size_t>(e.count * per));
  distributed_array(file_, path(name), saving(), e.total * per, e.first_id * per, v);
}
template void CheckpointArchive::particles(const std::string&, const Ensemble&, std::vector<double>&, int);
template void CheckpointArchive::particles(const std::string&, const Ensemble&, std::vector<std::int64_t>&, int);
template void CheckpointArchive::particles(const std::string&, const Ensemble&, std::vector<signed char>&, int);
template void CheckpointArchive::particles(const std::string&, const Ensemble&, std::vector<unsigned char>&, int);
template void CheckpointArchive::particles(const std::string&, const Ensemble&, std::vector<std::uint64_t>&, int);

void CheckpointArchive::grid_vector(const std::string& name, DM dm, Vec v) {
  collective_point(comm_);
  // PETSc's natural vector is distributed in contiguous ranges of the
  // natural (rank-independent) ordering, which is what is stored.
  Vec natural = nullptr;
  TF_CHECK_PETSC(DMDACreateNaturalVector(dm, &natural));
  PetscInt lo = 0, hi = 0, total = 0;
  TF_CHECK_PETSC(VecGetOwnershipRange(natural, &lo, &hi));
  TF_CHECK_PETSC(VecGetSize(natural, &total));
  std::vector<double> local(static_cast<std::size_t>(hi - lo));
  try {
    if (saving()) {
      TF_CHECK_PETSC(DMDAGlobalToNaturalBegin(dm, v, INSERT_VALUES, natural));
      TF_CHECK_PETSC(DMDAGlobalToNaturalEnd(dm, v, INSERT_VALUES, natural));
      const PetscScalar* a = nullptr;
      TF_CHECK_PETSC(VecGetArrayRead(natural, &a));
      std::copy(a, a + (hi - lo), local.begin());
      TF_CHECK_PETSC(VecRestoreArrayRead(natural, &a));
      distributed_array(file_, path(name), true, total, lo, local);
    } else {
      distributed_array(file_, path(name), false, total, lo, local);
      PetscScalar* a = nullptr;
      TF_CHECK_PETSC(VecGetArray(natural, &a));
      std::copy(local.begin(), local.end(), a);
      TF_CHECK_PETSC(VecRestoreArray(natural, &a));
      TF_CHECK_PETSC(DMDANaturalToGlobalBegin(dm, natural, INSERT_VALUES, v));
      TF_CHECK_PETSC(DMDANaturalToGlobalEnd(dm, natural, INSERT_VALUES, v));
    }
  } catch (...) {
    VecDestroy(&natural);
    throw;
  }
  VecDestroy(&natural);
}

void CheckpointArchive::plain_vector(const std::string& name, Vec v) {
  collective_point(comm_);
  PetscInt lo = 0, hi = 0, total = 0;
  TF_CHECK_PETSC(VecGetOwnershipRange(v, &lo, &hi));
  TF_CHECK_PETSC(VecGetSize(v, &total));
  std::vector<double> local(static_cast<std::size_t>(hi - lo));
  PetscScalar* a = nullptr;
  if (saving()) {
    TF_CHECK_PETSC(VecGetArray(v, &a));
    std::copy(a, a + (hi - lo), local.begin());
    TF_CHECK_PETSC(VecRestoreArray(v, &a));
    distributed_array(file_, path(name), true, total, lo, local);
  } else {
    distributed_array(file_, path(name), false, total, lo, local);
    TF_CHECK_PETSC(VecGetArray(v, &a));
    std::copy(local.begin(), local.end(), a);
    TF_CHECK_PETSC(VecRestoreArray(v, &a));
  }
}

CheckpointFile::CheckpointFile(MPI_Comm comm, std::string path, hid_t file, bool saving)
    : comm_(comm), path_(std::move(path)), file_(file), saving_(saving) {}

CheckpointFile::CheckpointFile(CheckpointFile&& other) noexcept
    : comm_(other.comm_), path_(std::move(other.path_)), file_(other.file_), saving_(other.saving_) {
  other.file_ = -1;
}

CheckpointFile CheckpointFile::create(MPI_Comm comm, const std::string& path) {
  const hid_t fapl = h5::parallel_access(comm);
  const hid_t file = H5Fcreate((path + ".partial").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  agree(comm, [&] {
    if (file < 0) throw RuntimeFailure("cannot create checkpoint '" + path + ".partial'");
  });
  return CheckpointFile(comm, path, file, true);
}

CheckpointFile CheckpointFile::open(MPI_Comm comm, const std::string& path) {
  const hid_t fapl = h5::parallel_access(comm);
  hid_t file = -1;
  H5E_BEGIN_TRY { file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl); }
  H5E_END_TRY;
  H5Pclose(fapl);
  agree(comm, [&] {
    if (file < 0)
      throw UsageError("restart", "checkpoint '" + path + "' is not readable HDF5; accepted: an intact checkpoint");
  });
  return CheckpointFile(comm, path, file, false);
}

CheckpointFile::~CheckpointFile() {
  if (file_ < 0) return;
  H5Fclose(file_);
  int rank = 0;
  MPI_Comm_rank(comm_, &rank);
  if (saving_ && rank == 0) std::remove((path_ + ".partial").c_str());
}

CheckpointArchive CheckpointFile::archive() {
  return CheckpointArchive(comm_, file_, saving_ ? CheckpointArchive::Mode::kSave : CheckpointArchive::Mode::kRestore);
}

void CheckpointFile::commit() {
  h5::check(H5Fclose(file_), "close " + path_ + ".partial");
  file_ = -1;
  on_root_and_agree(comm_, [&] {
    if (std::rename((path_ + ".partial").c_str(), path_.c_str()) != 0)
      throw RuntimeFailure("cannot rename checkpoint to '" + path_ + "': " + std::strerror(errno));
  });
}

std::uint32_t file_crc32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeFailure("cannot read '" + path + "'");
  boost::crc_32_type crc;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    crc.process_bytes(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  return crc.checksum();
}

CheckpointSeries::CheckpointSeries(const std::string& output_path) {
  const fs::path out = fs::absolute(output_path);
  directory_ = out.parent_path().string();
  stem_ = out.filename().string();
  if (stem_.size() > 3 && stem_.compare(stem_.size() - 3, 3, ".h5") == 0) stem_.resize(stem_.size() - 3);
  manifest_ = (fs::path(directory_) / (stem_ + ".checkpoints")).string();
}

std::string CheckpointSeries::path_of(std::int64_t sequence) const {
  char name[32];
  std::snprintf(name, sizeof name, ".checkpoint-%06lld.h5", static_cast<long long>(sequence));
  return (fs::path(directory_) / (stem_ + name)).string();
}

std::string CheckpointSeries::path_of(const Entry& e) const { return (fs::path(directory_) / e.file).string(); }

std::vector<CheckpointSeries::Entry> CheckpointSeries::entries() const {
  std::vector<Entry> out;
  std::ifstream in(manifest_);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Entry e;
    std::string crc;
    if (!(fields >> e.sequence >> e.file >> e.bytes >> crc) || crc.size() != 8)
      throw UsageError("restart", "manifest '" + manifest_ + "' line " + std::to_string(number) +
                                      " is malformed; accepted: 'sequence file bytes crc32' lines");
    e.crc32 = static_cast<std::uint32_t>(std::stoul(crc, nullptr, 16));
    out.push_back(e);
  }
  return out;
}

void CheckpointSeries::publish(std::int64_t sequence, std::int64_t keep) const {
  std::vector<Entry> list = entries();
  Entry e;
  e.sequence = sequence;
  e.file = fs::path(path_of(sequence)).filename().string();
  e.bytes = fs::file_size(path_of(sequence));
  e.crc32 = file_crc32(path_of(sequence));
  list.push_back(e);
  std::vector<Entry> dropped;
  while (static_cast<std::int64_t>(list.size()) > keep) {
    dropped.push_back(list.front());
    list.erase(list.begin());
  }
  const std::string tmp = manifest_ + ".partial";
  {
    std::ofstream m(tmp);
    m << "# twinflow checkpoints of " << stem_ << ": sequence file bytes crc32, oldest first\n";
    for (const auto& x : list) {
      char crc[16];
      std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(x.crc32));
      m << x.sequence << " " << x.file << " " << x.bytes << " " << crc << "\n";
    }
    if (!m) throw RuntimeFailure("cannot write '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), manifest_.c_str()) != 0)
    throw RuntimeFailure("cannot rename '" + tmp + "' to '" + manifest_ + "': " + std::strerror(errno));
  for (const auto& x : dropped) std::remove(path_of(x).c_str());
}

CheckpointSeries::Entry CheckpointSeries::resolve(const std::string& restart) const {
  const std::vector<Entry> list = entries();
  if (list.empty())
    throw UsageError("restart", "no checkpoint is listed for this output (manifest '" + manifest_ +
                                    "' is missing or empty); accepted: a run that wrote checkpoints, or no --restart");
  const Entry* chosen = nullptr;
  if (restart == "latest") {
    chosen = &list.back();
  } else {
    std::error_code ec;
    for (const auto& e : list)
      if (fs::equivalent(path_of(e), restart, ec)) chosen = &e;
    if (!chosen)
      throw UsageError("restart", "'" + restart + "' is not a checkpoint listed in '" + manifest_ +
                                      "'; accepted: latest, or a listed checkpoint of this output");
  }
  const std::string file = path_of(*chosen);
  std::error_code ec;
  const auto bytes = fs::file_size(file, ec);
  if (ec)
    throw UsageError("restart", "checkpoint '" + file + "' is listed but missing; accepted: latest, or a listed "
                                "checkpoint that exists");
  if (bytes != chosen->bytes || file_crc32(file) != chosen->crc32)
    throw UsageError("restart", "checkpoint '" + file + "' is corrupted (its size or CRC-32 differs from the "
                                "manifest); accepted: an intact checkpoint listed in '" + manifest_ + "'");
  return *chosen;
}

void CheckpointSeries::remove_all() const {
  std::vector<Entry> list;
  try {
    list = entries();
  } catch (const UsageError&) {
  }
  for (const auto& e : list) std::remove(path_of(e).c_str());
  std::remove(manifest_.c_str());
}

}  // namespace twinflow
