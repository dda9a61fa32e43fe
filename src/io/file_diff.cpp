#include "twinflow/io/file_diff.hpp"

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>

#include "io/hdf5_util.hpp"

namespace twinflow {
namespace {

// The values of a dataset or attribute, read in the kind they are.
struct Values {
  enum class Kind { kReal, kInteger, kString, kOther } kind = Kind::kOther;
  std::vector<hsize_t> dims;
  std::vector<double> reals;
  std::vector<long long> integers;
  std::vector<std::string> strings;
  std::vector<unsigned char> bytes;  ///< kOther: the raw file bytes
};

const char* kind_name(Values::Kind k) {
  switch (k) {
    case Values::Kind::kReal: return "floating point";
    case Values::Kind::kInteger: return "integer";
    case Values::Kind::kString: return "string";
    default: return "other";
  }
}

std::string dims_text(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Reads a dataset (attribute = false) or an attribute.
Values read_values(hid_t id, bool attribute) {
  Values v;
  const hid_t type = attribute ? H5Aget_type(id) : H5Dget_type(id);
  const hid_t space = attribute ? H5Aget_space(id) : H5Dget_space(id);
  const int rank = H5Sget_simple_extent_ndims(space);
  v.dims.resize(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space, v.dims.data(), nullptr);
  const auto n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space));
  const auto read = [&](hid_t memtype, void* buffer) {
    return attribute ? H5Aread(id, memtype, buffer) : H5Dread(id, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
  };
  herr_t status = 0;
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      v.kind = Values::Kind::kReal;
      v.reals.resize(n);
      status = read(H5T_NATIVE_DOUBLE, v.reals.data());
      break;
    case H5T_INTEGER:
      v.kind = Values::Kind::kInteger;
      v.integers.resize(n);
      status = read(H5T_NATIVE_LLONG, v.integers.data());
      break;
    case H5T_STRING:
      v.kind = Values::Kind::kString;
      if (H5Tis_variable_str(type) > 0) {
        std::vector<char*> c(n, nullptr);
        const hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5Tget_cset(type));
        status = read(mem, c.data());
        for (char* s : c) v.strings.emplace_back(s ? s : "");
        if (status >= 0) H5Dvlen_reclaim(mem, space, H5P_DEFAULT, c.data());
        H5Tclose(mem);
      } else {
        const std::size_t size = H5Tget_size(type);
        std::vector<char> buffer(n * size);
        status = read(type, buffer.data());
        for (std::size_t i = 0; i < n; ++i) {
          const char* s = buffer.data() + i * size;
          v.strings.emplace_back(s, strnlen(s, size));
        }
      }
      break;
    default:
      v.bytes.resize(n * H5Tget_size(type));
      status = read(type, v.bytes.data());
  }
  H5Sclose(space);
  H5Tclose(type);
  if (status < 0) throw std::runtime_error("cannot read its values");
  return v;
}

// The `config` attribute's keys: "[section]" headers and "key = value" lines.
std::map<std::string, std::string> ini_keys(const std::string& ini) {
  std::map<std::string, std::string> keys;
  std::istringstream in(ini);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(' '));
      s.erase(s.find_last_not_of(' ') + 1);
      return s;
    };
    const bool top = section.empty() || section == "general";
    keys[(top ? "" : section + ".") + trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return keys;
}

class Differ {
 public:
  Differ(const DiffOptions& o, DiffResult& r) : options_(o), result_(r) {}

  // Compares the values of `what` (a dataset path or "path:attribute"),
  // reals within `tolerance`.
  void values(const std::string& what, const Values& a, const Values& b, const DiffTolerance& tolerance) {
    if (a.kind != b.kind)
      return differ(what + ": " + kind_name(a.kind) + " in A, " + kind_name(b.kind) + " in B");
    if (a.dims != b.dims)
      return differ(what + ": shape " + dims_text(a.dims) + " in A, " + dims_text(b.dims) + " in B");
    switch (a.kind) {
      case Values::Kind::kReal: return reals(what, a.reals, b.reals, tolerance);
      case Values::Kind::kInteger: {
        std::size_t count = 0, first = 0;
        for (std::size_t i = 0; i < a.integers.size(); ++i)
          if (a.integers[i] != b.integers[i] && count++ == 0) first = i;
        if (count)
          differ(what + ": " + std::to_string(count) + " of " + std::to_string(a.integers.size()) +
                 " integers differ, the first at [" + std::to_string(first) +
                 "]: " + std::to_string(a.integers[first]) + " vs " + std::to_string(b.integers[first]));
        return;
      }
      case Values::Kind::kString: return strings(what, a.strings, b.strings);
      default:
        if (a.bytes != b.bytes) differ(what + ": the raw bytes differ");
    }
  }

  void differ(const std::string& line) {
    result_.verdict = DiffResult::Verdict::kDifferent;
    result_.lines.push_back(line);
  }

  // The accepted difference closest to the tolerance, for the report.
  void finish() {
    if (result_.verdict == DiffResult::Verdict::kDifferent || largest_where_.empty()) return;
    result_.verdict = DiffResult::Verdict::kWithinTolerance;
    char line[300];
    std::snprintf(line, sizeof line,
                  "closest to the tolerance: |a - b| = %.3e (%.3e relative, %.2g of atol + rtol |b|) at %s",
                  largest_absolute_, largest_relative_, largest_used_, largest_where_.c_str());
    result_.lines.push_back(line);
  }

 private:
  void reals(const std::string& what, const std::vector<double>& a, const std::vector<double>& b,
             const DiffTolerance& tolerance) {
    std::size_t count = 0, worst = 0;
    double worst_excess = -1;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double x = a[i], y = b[i];
      if ((std::isnan(x) && std::isnan(y)) || x == y) continue;
      const double d = std::abs(x - y), allowed = tolerance.atol + tolerance.rtol * std::abs(y);
      if (d <= allowed) {
        // The accepted difference closest to its allowance.
        const double used = d / allowed;
        if (used > largest_used_ || largest_where_.empty()) {
          largest_used_ = used;
          largest_relative_ = d / std::max(std::abs(y), 1e-300);
          largest_absolute_ = d;
          largest_where_ = what + "[" + std::to_string(i) + "]";
        }
        continue;
      }
      ++count;
      const double excess = std::isnan(d) ? INFINITY : d - allowed;
      if (excess > worst_excess) worst_excess = excess, worst = i;
    }
    if (!count) return;
    char line[400];
    std::snprintf(line, sizeof line,
                  "%s: %zu of %zu values differ, the largest at [%zu]: %.17g vs %.17g (|a - b| = %.3e)", what.c_str(), count, a.size(), worst, a[worst], b[worst], std::abs(a[worst] - b[worst]));
    differ(line);
  }

  void strings(const std::string& what, const std::vector<std::string>& a, const std::vector<std::string>& b) {
    const bool config = what.size() > 7 && what.compare(what.size() - 7, 7, ":config") == 0 && a.size() == 1;
    if (!config) {
      for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return differ(what + ": '" + a[i] + "' in A, '" + b[i] + "' in B");
      return;
    }
    auto ka = ini_keys(a[0]), kb = ini_keys(b[0]);
    for (const auto& key : options_.ignored_config_keys) ka.erase(key), kb.erase(key);
    for (const auto& [key, value] : ka) {
      const auto other = kb.find(key);
      if (other == kb.end())
        differ(what + ": key " + key + " = " + value + " in A only");
      else if (other->second != value)
        differ(what + ": key " + key + " = " + value + " in A, " + other->second + " in B");
    }
    for (const auto& [key, value] : kb)
      if (!ka.count(key)) differ(what + ": key " + key + " = " + value + " in B only");
  }

  const DiffOptions& options_;
  DiffResult& result_;
  double largest_used_ = 0, largest_relative_ = 0, largest_absolute_ = 0;
  std::string largest_where_;
};

std::vector<std::string> attribute_names(hid_t object) {
  std::vector<std::string> names;
  H5Aiterate2(
      object, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names);
  return names;
}

// A name in the set, or ending in the suffix of a "*suffix" entry.
bool matches(const std::set<std::string>& patterns, const std::string& name) {
  for (const std::string& pattern : patterns) {
    if (pattern == name) return true;
    if (pattern.size() > 1 && pattern[0] == '*' && name.size() >= pattern.size() - 1 &&
        name.compare(name.size() - (pattern.size() - 1), pattern.size() - 1, pattern, 1) == 0)
      return true;
  }
  return false;
}

class File {
 public:
  explicit File(const std::string& path) {
    if (H5Fis_hdf5(path.c_str()) <= 0)
      throw std::runtime_error("'" + path + "' is not an HDF5 file (or cannot be read)");
    id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id_ < 0) throw std::runtime_error("cannot open '" + path + "'");
  }
  ~File() { H5Fclose(id_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  hid_t id() const { return id_; }

 private:
  hid_t id_ = -1;
};

}  // namespace

DiffTolerance DiffOptions::tolerance_of(const std::string& path) const {
  const DiffTolerance* found = &default_tolerance;
  std::size_t longest = 0;
  for (const auto& [prefix, t] : tolerance_by_prefix)
    if (prefix.size() > longest && path.rfind(prefix, 0) == 0) found = &t, longest = prefix.size();
  return *found;
}

std::set<std::string> DiffOptions::default_ignored_attributes() {
  return {"run_id",      "created_utc",  "git_sha",      "twinflow_version", "mpi_library", "nranks",
          "slurm_job_id", "slurm_array_task_id", "petsc_version", "hdf5_version", "*_seconds",
          "training_samples_per_second"};
}

std::set<std::string> DiffOptions::default_ignored_config_keys() {
  return {"output", "overwrite", "restart", "quiet", "progress_interval", "checkpoint.every", "checkpoint.walltime",
          "checkpoint.keep"};
}

DiffResult diff_files(const std::string& path_a, const std::string& path_b, const DiffOptions& options) {
  const File a(path_a), b(path_b);
  DiffResult result;
  Differ differ(options, result);
  const auto in_a = h5::objects(a.id()), in_b = h5::objects(b.id());
  for (const auto& [path, dataset] : in_b)
    if (!in_a.count(path)) differ.differ(path + ": only in B");
  for (const auto& [path, dataset] : in_a) {
    const auto other = in_b.find(path);
    if (other == in_b.end()) {
      differ.differ(path + ": only in A");
      continue;
    }
    if (other->second != dataset) {
      differ.differ(path + ": a " + (dataset ? "dataset" : "group") + " in A, not in B");
      continue;
    }
    ++result.objects;
    const hid_t oa = H5Oopen(a.id(), path.c_str(), H5P_DEFAULT), ob = H5Oopen(b.id(), path.c_str(), H5P_DEFAULT);
    try {
      if (dataset && !matches(options.ignored_datasets, path))
        differ.values(path, read_values(oa, false), read_values(ob, false), options.tolerance_of(path));
      const std::vector<std::string> names_a = attribute_names(oa), names_b = attribute_names(ob);
      for (const auto& name : names_b)
        if (!matches(options.ignored_attributes, name) && H5Aexists(oa, name.c_str()) <= 0)
          differ.differ(path + ":" + name + ": attribute only in B");
      for (const auto& name : names_a) {
        if (matches(options.ignored_attributes, name)) continue;
        if (H5Aexists(ob, name.c_str()) <= 0) {
          differ.differ(path + ":" + name + ": attribute only in A");
          continue;
        }
        const hid_t aa = H5Aopen(oa, name.c_str(), H5P_DEFAULT), ab = H5Aopen(ob, name.c_str(), H5P_DEFAULT);
        try {
          differ.values(path + ":" + name, read_values(aa, true), read_values(ab, true), options.tolerance_of(path));
        } catch (...) {
          H5Aclose(aa), H5Aclose(ab);
          throw;
        }
        H5Aclose(aa), H5Aclose(ab);
      }
    } catch (const std::runtime_error& e) {
      H5Oclose(oa), H5Oclose(ob);
      throw std::runtime_error(path + ": " + e.what());
    }
    H5Oclose(oa), H5Oclose(ob);
  }
  differ.finish();
  return result;
}

}  // namespace twinflow
