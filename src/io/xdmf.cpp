#include "twinflow/io/xdmf.hpp"

#include <hdf5.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
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

// The arrays on one clock: forward (/time) or reverse (/reverse/time).
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

std::vector<double> read_times(hid_t file, const std::string& path) {
  if (H5Lexists(file, path.c_str(), H5P_DEFAULT) <= 0) return {};
  const std::vector<hsize_t> dims = float_dataset_dims(file, path);
  if (dims.size() != 1) return {};
  std::vector<double> t(dims[0]);
  const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  h5::check(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()), "read " + path);
  H5Dclose(d);
  return t;
}

bool in_reverse_group(const std::string& path) { return path.rfind("/reverse/", 0) == 0; }

// Every time series on the grid, by clock (forward, reverse).
std::array<Series, 2> grid_series(hid_t file, const Box& box) {
  std::array<Series, 2> s{Series{read_times(file, "/time"), {}}, Series{read_times(file, "/reverse/time"), {}}};
  for (const auto& [path, is_dataset] : h5::objects(file)) {
    if (!is_dataset || path.rfind("/grid/", 0) == 0) continue;
    Series& series = s[in_reverse_group(path) ? 1 : 0];
    const std::vector<hsize_t> dims = float_dataset_dims(file, path);
    const auto d = static_cast<std::size_t>(box.dim);
    if (series.times.empty() || dims.size() < d + 1 || dims.size() > d + 2 || dims[0] != series.times.size())
      continue;
    bool on_grid = true;
    for (std::size_t k = 0; k < d; ++k) on_grid = on_grid && dims[k + 1] == static_cast<hsize_t>(box.cells[k]);
    if (!on_grid) continue;
    if (dims.size() == d + 1) {
      series.arrays.push_back({path, dims, -1});
    } else if (dims[d + 1] == d) {
      for (int c = 0; c < box.dim; ++c) series.arrays.push_back({path, dims, c});
    }
  }
  return s;
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
  std::ofstream(tmp) << text;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw RuntimeFailure("cannot write XDMF sidecar '" + path + "'");
}

}  // namespace

void write_xdmf(MPI_Comm comm, const std::string& h5_path, const Box& box) {
  on_root_and_agree(comm, [&] {
    const hid_t file = h5::check_id(H5Fopen(h5_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + h5_path);
    std::array<Series, 2> series;
    try {
      series = grid_series(file, box);
    } catch (...) {
      H5Fclose(file);
      throw;
    }
    H5Fclose(file);
    const std::string name = fs::path(h5_path).filename().string();
    const char* suffix[] = {"", ".reverse"};
    for (int clock = 0; clock < 2; ++clock) {
      for (const auto& [extension, dialect] : {std::pair{".xmf", Dialect::kXdmf3}, std::pair{".xmf2", Dialect::kXdmf2}}) {
        const std::string path = fs::path(h5_path).replace_extension(std::string(suffix[clock]) + extension).string();
        if (series[clock].arrays.empty()) {
          std::error_code ignored;  // a sidecar of an earlier run with this clock
          fs::remove(path, ignored);
        } else {
          write_text(path, sidecar(box, name, series[clock], dialect));
        }
      }
    }
  });
}

}  // namespace twinflow
