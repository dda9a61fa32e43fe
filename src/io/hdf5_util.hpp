#pragma once
// Small helpers shared by the output file and the checkpoint files: checked
// HDF5 calls, attributes, groups and the parallel file access list. Internal
// to src/io.
#include <hdf5.h>
#include <mpi.h>

#include <map>
#include <string>

namespace twinflow::h5 {

/// Throws RuntimeFailure naming `what` when an HDF5 call failed.
void check(herr_t status, const std::string& what);
hid_t check_id(hid_t id, const std::string& what);

/// A variable-length UTF-8 string type (caller closes it).
hid_t string_type();

/// File access list for parallel HDF5 over MPI-IO with collective metadata
/// (caller closes it).
hid_t parallel_access(MPI_Comm comm);

/// Creates every missing parent group of an object path like /a/b/c (and the
/// path itself when `including_leaf`). Collective.
void ensure_groups(hid_t file, const std::string& path, bool including_leaf = false);

/// Writes (replacing) an attribute of `object`. Collective, same value on every rank.
void write_attribute(hid_t file, const std::string& object, const std::string& name, hid_t type, hid_t space,
                     const void* data);
void write_attribute(hid_t file, const std::string& object, const std::string& name, const std::string& value);

/// Reads an attribute; throws RuntimeFailure when it is missing.
void read_attribute(hid_t file, const std::string& object, const std::string& name, hid_t type, void* data);
std::string read_string_attribute(hid_t file, const std::string& object, const std::string& name);

/// Every object of an open file: path ("/a/b") → whether it is a dataset
/// (else a group). Local to the calling rank.
std::map<std::string, bool> objects(hid_t file);

/// Transfer list for collective raw-data I/O (caller closes it).
hid_t collective_transfer();

}  // namespace twinflow::h5
