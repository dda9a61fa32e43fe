#pragma once
// The PDE grid: a cell-centred box in d = 1..3 dimensions distributed as a
// PETSc DMDA. Fields are addressed by natural (global, rank-independent)
// cell indices; each rank owns one rectangular block of them.
#include <petscdmda.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace twinflow {

class Config;

/// Geometry of the box; no MPI.
struct Box {
  int dim = 1;
  std::array<double, 3> lower{}, upper{};
  std::array<std::int64_t, 3> cells{1, 1, 1};

  /// A box of dimension `dim` (the experiment's state dimension: grid.dim,
  /// or 2·grid.dim in phase space) from grid.cells, grid.lower, grid.upper
  /// (one entry for all axes or one per axis); throws UsageError.
  static Box from_config(const Config& config, int dim);
  double spacing(int k) const { return (upper[k] - lower[k]) / static_cast<double>(cells[k]); }
  double centre(int k, std::int64_t i) const { return lower[k] + (static_cast<double>(i) + 0.5) * spacing(k); }
  double cell_volume() const;
  std::int64_t total_cells() const;
  /// Natural index of the cell containing x, or −1 outside [lower, upper).
  std::int64_t cell_of(const double* x) const;
};

/// Whether x lies on the cell face at `face`, to round-off (1e-14
/// relative, a few dozen ulps): faces computed in different ways (lo + h,
/// or lower + (i+1) h) and atoms carried to m ± ct then agree. Not
/// collective.
inline bool on_face(double x, double face) { return std::abs(x - face) <= 1e-14 * std::max(1.0, std::abs(face)); }

/// The fraction of a point mass at x that the cell [lo, hi] holds when a
/// point on a face is shared evenly by the two cells touching it: 1 inside,
/// ½ on a face, 0 outside. Not collective.
inline double face_shared_fraction(double x, double lo, double hi) {
  if (on_face(x, lo) || on_face(x, hi)) return 0.5;
  return x > lo && x < hi ? 1.0 : 0.0;
}

/// A rank's block of cells: start and count per dimension (unused dims 0/1).
struct OwnedBlock {
  std::array<std::int64_t, 3> start{0, 0, 0}, count{1, 1, 1};
  std::int64_t size() const { return count[0] * count[1] * count[2]; }
};

class Grid {
 public:
  /// Collective. Creates the DMDA with `dof` unknowns per cell and stencil
  /// width 1; PETSc -da_* options apply (the box's cell counts are read
  /// back, so box() is the grid as built). Throws UsageError('grid.cells')
  /// when the grid cannot be split over the ranks, UsageError('PETSc
  /// options') for bad -da_* options.
  Grid(MPI_Comm comm, Box box, int dof = 1);
  /// Collective. A grid over the same box and the same owned blocks as
  /// `layout`, with `dof` unknowns per cell and the given stencil width, so
  /// that its Vecs line up cell by cell with those of `layout`.
  Grid(const Grid& layout, int dof, int stencil_width);
  ~Grid();
  Grid(const Grid&) = delete;
  Grid& operator=(const Grid&) = delete;

  MPI_Comm comm() const { return comm_; }
  DM dm() const { return dm_; }
  const Box& box() const { return box_; }
  const OwnedBlock& owned() const { return owned_; }
  int dof() const { return dof_; }

  /// Copies the owned block of a global Vec into `out` in C order of natural
  /// indices (x0 slowest, the dof unknowns of a cell fastest): the layout of
  /// the HDF5 datasets.
  void owned_values(Vec v, std::vector<double>& out) const;
  /// Inverse of owned_values.
  void set_owned_values(const std::vector<double>& in, Vec v) const;

 private:
  void read_layout();
  MPI_Comm comm_;
  Box box_;
  int dof_ = 1;
  DM dm_ = nullptr;
  OwnedBlock owned_;
};

/// Calls f(pos, idx) for every cell of an owned block in C order (x0
/// slowest): pos is the position inside the block, idx the natural index
/// per dimension (unused dimensions 0). Not collective.
template <class F>
void for_each_cell(const OwnedBlock& o, F&& f) {
  std::int64_t pos = 0;
  for (std::int64_t i = 0; i < o.count[0]; ++i)
    for (std::int64_t j = 0; j < o.count[1]; ++j)
      for (std::int64_t k = 0; k < o.count[2]; ++k, ++pos) {
        const std::array<std::int64_t, 3> idx{o.start[0] + i, o.start[1] + j, o.start[2] + k};
        f(pos, idx);
      }
}

/// Multilinear interpolation of a field given on a regular lattice of m[k]
/// points per axis, point 0 at first[k], spacing h[k], stored in C order
/// with `stride` values per point (component `component` is read). Points
/// outside the lattice take the value at the nearest lattice point along
/// each axis. Not collective.
double multilinear(int dim, const std::array<std::int64_t, 3>& m, const std::array<double, 3>& first,
                   const std::array<double, 3>& h, const double* field, int stride, int component,
                   const double* x);

/// Interpolation of a cell-centred field on the box (C order, `stride`
/// values per cell), as multilinear() with the lattice of cell centres.
double interpolate_cells(const Box& box, const double* field, int stride, int component, const double* x);

}  // namespace twinflow
