#include "twinflow/io/xdmf.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/error.hpp"
#include "io/hdf5_util.hpp"

namespace twinflow {
namespace fs = std::filesystem;

namespace {

// One scalar array of a sidecar: a dataset of the file, or one component of
// a vector field's trailing axis.
struct GridArray {
  std::string path;
  std::vector<hsize_t> dims;  ///< the whole dataset's: [n, cells…] or [n, cells…, d]
  int component = -1;         ///< −1: a scalar field
  std::string name() const {
    std::string n = path.substr(1);
    if (component >= 0) n.append("_x").append(std::to_string(component));
    return n;
  }
};

// The arrays on one clock, the dataset `axis` of their entries' times.
struct Series {
  std::vector<double> times;
  std::vector<GridArray> arrays;
};

std::vector<hsize_t> float_dataset_dims(hid_t file, const std::string& path) {
  const hid_t d = h5::check_id(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "open " + path);
  const hid_t type = H5Dget_type(d), space = H5Dget_space(d);
  std::vector<hsize_t> dims;
  if (H5Tget_class(type) == H5T_FLOAT) {
    dims.resize(static_cast<std::size_t>(std::max(H5Sget_simple_extent_ndims(space), 0)));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(d);
  return dims;
}

// The values of a 1-D dataset of times (empty when there is none).
std::vector<double> read_times(hid_t file, const std::string& path) {
  if (path.empty() || path[0] != '/' || H5Lexists(file, path.c_str(), H5P_DEFAULT) <= 0) return {};
  const std::vector<hsize_t> dims = float_dataset_dims(file, path);
  if (dims.size() != 1) return {};
  std::vector<double> t(dims[0]);
  const hid_t d = h5::check_id(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "open " + path);
  const herr_t status = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data());
  H5Dclose(d);
  h5::check(status, "read " + path);
  return t;
}

// Every time series on the grid (OutputFile::create_series: the attribute
// axis names its clock), by clock.
std::map<std::string, Series> grid_series(hid_t file, const Box& box) {
  std::map<std::string, Series> by_axis;
  const auto d = static_cast<std::size_t>(box.dim);
  for (const auto& [path, is_dataset] : h5::objects(file)) {
    if (!is_dataset || H5Aexists_by_name(file, path.c_str(), "axis", H5P_DEFAULT) <= 0) continue;
    const std::vector<hsize_t> dims = float_dataset_dims(file, path);
    if (dims.size() < d + 1 || dims.size() > d + 2) continue;
    bool on_grid = true;
    for (std::size_t k = 0; k < d; ++k) on_grid = on_grid && dims[k + 1] == static_cast<hsize_t>(box.cells[k]);
    if (!on_grid || (dims.size() == d + 2 && dims[d + 1] != d)) continue;
    const std::string axis = h5::read_string_attribute(file, path, "axis");
    auto [it, fresh] = by_axis.try_emplace(axis);
    if (fresh) it->second.times = read_times(file, axis);
    if (it->second.times.size() != dims[0]) continue;
    if (dims.size() == d + 1) {
      it->second.arrays.push_back({path, dims, -1});
    } else {
      for (int c = 0; c < box.dim; ++c) it->second.arrays.push_back({path, dims, c});
    }
  }
  return by_axis;
}

// The sidecar name of a clock: <stem>.xmf for /time, <stem>.<group>.xmf for
// /<group>/time (the reverse run's, the controlled equation's …).
std::string clock_suffix(const std::string& axis) {
  if (axis == "/time") return "";
  std::string group = axis.substr(1, axis.rfind('/') == 0 ? std::string::npos : axis.rfind('/') - 1);
  std::replace(group.begin(), group.end(), '/', '_');
  return "." + group;
}

// The output path without its .h5 (the sidecars' common stem).
std::string sidecar_stem(const std::string& h5_path) {
  const std::string ext = ".h5";
  if (h5_path.size() > ext.size() && h5_path.compare(h5_path.size() - ext.size(), ext.size(), ext) == 0)
    return h5_path.substr(0, h5_path.size() - ext.size());
  return h5_path;
}

std::string xml_escaped(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

enum class Dialect { kXdmf3, kXdmf2 };

std::string join(const std::vector<hsize_t>& v) {
  std::ostringstream os;
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? " " : "") << v[i];
  return os.str();
}

// The data item of array `a` at snapshot j: start (j, 0, …, component),
// unit strides, count (1, cells…, 1), read as `cell_dims` values.
std::string snapshot_item(const GridArray& a, std::size_t j, const std::string& file, const std::string& cell_dims,
                          Dialect dialect) {
  std::vector<hsize_t> start(a.dims.size(), 0), stride(a.dims.size(), 1), count(a.dims);
  start[0] = j;
  count[0] = 1;
  if (a.component >= 0) {
    start.back() = static_cast<hsize_t>(a.component);
    count.back() = 1;
  }
  std::ostringstream os;
  const std::string real = "NumberType=\"Float\" Precision=\"8\"";
  if (dialect == Dialect::kXdmf3) {
    os << "     <DataItem Format=\"HDF\" " << real << " Dimensions=\"" << cell_dims << "\">" << file << ":" << a.path
       << "|" << join(start) << ":" << join(stride) << ":" << join(count) << ":" << join(a.dims) << "</DataItem>\n";
  } else {
    os << "     <DataItem ItemType=\"HyperSlab\" Type=\"HyperSlab\" Dimensions=\"" << cell_dims << "\">\n"
       << "      <DataItem Format=\"XML\" Dimensions=\"3 " << a.dims.size() << "\">" << join(start) << " "
       << join(stride) << " " << join(count) << "</DataItem>\n"
       << "      <DataItem Format=\"HDF\" " << real << " Dimensions=\"" << join(a.dims) << "\">" << file << ":"
       << a.path << "</DataItem>\n     </DataItem>\n";
  }
  return os.str();
}

std::string sidecar(const Box& box, const std::string& file, const Series& series, Dialect dialect) {
  // ParaView's Z, Y, X are the slowest to fastest dimensions: missing axes
  // first (one cell of zero width), then x0, …, x_{d−1}.
  const int missing = 3 - box.dim;
  std::vector<hsize_t> nodes, cells;
  for (int k = 0; k < missing; ++k) nodes.push_back(2), cells.push_back(1);
  for (int k = 0; k < box.dim; ++k)
    nodes.push_back(static_cast<hsize_t>(box.cells[k] + 1)), cells.push_back(static_cast<hsize_t>(box.cells[k]));
  const std::string cell_dims = join(cells);
  std::ostringstream axes;
  const char* paraview_axis[] = {"X", "Y", "Z"};
  for (int a = 0; a < 3; ++a) {
    const int k = box.dim - 1 - a;
    axes << (a ? ", " : "") << paraview_axis[a] << " = ";
    if (k >= 0)
      axes << "x" << k;
    else
      axes << "none";
  }
  std::ostringstream os;
  os.precision(17);
  os << "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"" << (dialect == Dialect::kXdmf3 ? "3.0" : "2.0") << "\">\n"
     << " <Domain>\n  <Information Name=\"axes\" Value=\"" << axes.str() << "\"/>\n"
     << "  <Grid Name=\"snapshots\" GridType=\"Collection\" CollectionType=\"Temporal\">\n";
  for (std::size_t j = 0; j < series.times.size(); ++j) {
    // Outputs at one clock value (a reverse run with fewer steps than
    // outputs repeats its step) are one step of a temporal collection.
    if (j > 0 && series.times[j] == series.times[j - 1]) continue;
    os << "   <Grid Name=\"t" << j << "\" GridType=\"Uniform\">\n    <Time Value=\"" << series.times[j] << "\"/>\n"
       << "    <Topology TopologyType=\"3DRectMesh\" Dimensions=\"" << join(nodes) << "\"/>\n"
       << "    <Geometry GeometryType=\"VXVYVZ\">\n";
    for (int a = 0; a < 3; ++a) {
      const int k = box.dim - 1 - a;
      if (k >= 0)
        os << "     <DataItem Format=\"HDF\" NumberType=\"Float\" Precision=\"8\" Dimensions=\"" << box.cells[k] + 1
           << "\">" << file << ":/grid/x" << k << "_faces</DataItem>\n";
      else
        os << "     <DataItem Format=\"XML\" NumberType=\"Float\" Precision=\"8\" Dimensions=\"2\">0 0</DataItem>\n";
    }
    os << "    </Geometry>\n";
    for (const GridArray& a : series.arrays)
      os << "    <Attribute Name=\"" << a.name() << "\" AttributeType=\"Scalar\" Center=\"Cell\">\n"
         << snapshot_item(a, j, file, cell_dims, dialect) << "    </Attribute>\n";
    os << "   </Grid>\n";
  }
  os << "  </Grid>\n </Domain>\n</Xdmf>\n";
  return os.str();
}

void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".partial";
  bool written = false;
  {
    std::ofstream out(tmp);
    out << text;
    out.flush();
    written = out.good();
  }
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw RuntimeFailure("cannot write XDMF sidecar '" + path + "'");
  }
}

}  // namespace

void remove_xdmf_sidecars(MPI_Comm comm, const std::string& h5_path) {
  on_root_and_agree(comm, [&] {
    const fs::path stem(sidecar_stem(h5_path));
    const std::string base = stem.filename().string();
    // <stem>.xmf, <stem>.xmf2 and <stem>.<clock>.xmf[2] (one word), nothing else.
    const auto is_sidecar = [&](const std::string& name) {
      for (const std::string ext : {".xmf", ".xmf2"}) {
        if (name.size() < base.size() + ext.size() || name.compare(0, base.size(), base) != 0 ||
            name.compare(name.size() - ext.size(), ext.size(), ext) != 0)
          continue;
        const std::string middle = name.substr(base.size(), name.size() - base.size() - ext.size());
        if (middle.empty() || (middle.size() > 1 && middle[0] == '.' && middle.find('.', 1) == std::string::npos))
          return true;
      }
      return false;
    };
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(stem.has_parent_path() ? stem.parent_path() : fs::path("."), ec))
      if (is_sidecar(entry.path().filename().string())) fs::remove(entry.path(), ec);
  });
}

void write_xdmf(MPI_Comm comm, const std::string& h5_path, const Box& box) {
  on_root_and_agree(comm, [&] {
    const hid_t file = h5::check_id(H5Fopen(h5_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + h5_path);
    std::map<std::string, Series> series;
    try {
      series = grid_series(file, box);
    } catch (...) {
      H5Fclose(file);
      throw;
    }
    H5Fclose(file);
    const std::string name = xml_escaped(fs::path(h5_path).filename().string());
    for (const auto& [axis, s] : series) {
      if (s.arrays.empty()) continue;
      const std::string stem = sidecar_stem(h5_path) + clock_suffix(axis);
      write_text(stem + ".xmf", sidecar(box, name, s, Dialect::kXdmf3));
      write_text(stem + ".xmf2", sidecar(box, name, s, Dialect::kXdmf2));
    }
  });
}

}  // namespace twinflow
