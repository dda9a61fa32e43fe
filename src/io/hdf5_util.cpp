#include "io/hdf5_util.hpp"

#include <cstring>
#include <vector>

#include "twinflow/core/error.hpp"

namespace twinflow::h5 {

void check(herr_t status, const std::string& what) {
  if (status < 0) throw RuntimeFailure("HDF5: " + what + " failed");
}

hid_t check_id(hid_t id, const std::string& what) {
  if (id < 0) throw RuntimeFailure("HDF5: " + what + " failed");
  return id;
}

hid_t string_type() {
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

hid_t parallel_access(MPI_Comm comm) {
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, true);
  H5Pset_coll_metadata_write(fapl, true);
  return fapl;
}

void ensure_groups(hid_t file, const std::string& path, bool including_leaf) {
  std::vector<std::string> groups;
  for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1))
    groups.push_back(path.substr(0, pos));
  if (including_leaf && path.size() > 1) groups.push_back(path);
  for (const auto& g : groups)
    if (H5Lexists(file, g.c_str(), H5P_DEFAULT) <= 0)
      H5Gclose(check_id(H5Gcreate2(file, g.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create group " + g));
}

void write_attribute(hid_t file, const std::string& object, const std::string& name, hid_t type, hid_t space,
                     const void* data) {
  const hid_t obj = check_id(H5Oopen(file, object.c_str(), H5P_DEFAULT), "open " + object);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  const hid_t a = check_id(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                           "create attribute " + name);
  check(H5Awrite(a, type, data), "write attribute " + name);
  H5Aclose(a);
  H5Oclose(obj);
}

void write_attribute(hid_t file, const std::string& object, const std::string& name, const std::string& value) {
  const hid_t t = string_type(), s = H5Screate(H5S_SCALAR);
  const char* c = value.c_str();
  write_attribute(file, object, name, t, s, &c);
  H5Sclose(s);
  H5Tclose(t);
}

void read_attribute(hid_t file, const std::string& object, const std::string& name, hid_t type, void* data) {
  const hid_t obj = check_id(H5Oopen(file, object.c_str(), H5P_DEFAULT), "open " + object);
  if (H5Aexists(obj, name.c_str()) <= 0) {
    H5Oclose(obj);
    throw RuntimeFailure("HDF5: attribute " + object + ":" + name + " is missing");
  }
  const hid_t a = H5Aopen(obj, name.c_str(), H5P_DEFAULT);
  const herr_t status = H5Aread(a, type, data);
  H5Aclose(a);
  H5Oclose(obj);
  check(status, "read attribute " + object + ":" + name);
}

std::string read_string_attribute(hid_t file, const std::string& object, const std::string& name) {
  const hid_t t = string_type();
  char* c = nullptr;
  try {
    read_attribute(file, object, name, t, &c);
  } catch (...) {
    H5Tclose(t);
    throw;
  }
  std::string s = c ? c : "";
  H5free_memory(c);
  H5Tclose(t);
  return s;
}

hid_t collective_transfer() {
  const hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  return dxpl;
}

std::map<std::string, bool> objects(hid_t file) {
  std::map<std::string, bool> found{{"/", false}};
  H5Ovisit2(
      file, H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t, const char* name, const H5O_info_t* info, void* data) -> herr_t {
        if (std::strcmp(name, ".") == 0) return 0;
        if (info->type == H5O_TYPE_DATASET || info->type == H5O_TYPE_GROUP) {
          std::string path(1, '/');
          path.append(name);
          (*static_cast<std::map<std::string, bool>*>(data))[path] = info->type == H5O_TYPE_DATASET;
        }
        return 0;
      },
      &found, H5O_INFO_BASIC);
  return found;
}

}  // namespace twinflow::h5
