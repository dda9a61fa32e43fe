#include "twinflow/grid/grid.hpp"

#include <algorithm>
#include <cmath>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/petsc_error.hpp"

namespace twinflow {

Box Box::from_config(const Config& config, int dim) {
  Box b;
  b.dim = dim;
  const auto d = static_cast<std::size_t>(b.dim);
  const auto cells = config.integer_list("grid.cells", d);
  const auto lo = config.real_list("grid.lower", d);
  const auto hi = config.real_list("grid.upper", d);
  for (std::size_t k = 0; k < d; ++k) {
    if (!(lo[k] < hi[k]))
      throw UsageError("grid.upper", "must exceed grid.lower in every dimension (dimension " +
                                         std::to_string(k) + ": " + std::to_string(lo[k]) +
                                         " >= " + std::to_string(hi[k]) + ")");
    b.cells[k] = cells[k];
    b.lower[k] = lo[k];
    b.upper[k] = hi[k];
  }
  return b;
}

double Box::cell_volume() const {
  double v = 1;
  for (int k = 0; k < dim; ++k) v *= spacing(k);
  return v;
}

std::int64_t Box::total_cells() const {
  std::int64_t n = 1;
  for (int k = 0; k < dim; ++k) n *= cells[k];
  return n;
}

std::int64_t Box::cell_of(const double* x) const {
  std::int64_t idx = 0;
  for (int k = 0; k < dim; ++k) {
    const double f = (x[k] - lower[k]) / spacing(k);
    if (!(f >= 0) || f >= static_cast<double>(cells[k])) return -1;
    idx = idx * cells[k] + static_cast<std::int64_t>(f);
  }
  return idx;
}

Grid::Grid(MPI_Comm comm, Box box, int dof) : comm_(comm), box_(box), dof_(dof) {
  // A grid too small for the rank count makes DMSetUp fail: a user error
  // (and so are bad -da_* options), agreed by every rank.
  const auto n = [&](int k) { return static_cast<PetscInt>(box_.cells[k]); };
  int size = 1;
  MPI_Comm_size(comm, &size);
  agree(comm_, [&] {
    PetscErrorCode ierr = 0;
    if (box_.dim == 1) {
      ierr = DMDACreate1d(comm, DM_BOUNDARY_NONE, n(0), dof, 1, nullptr, &dm_);
    } else if (box_.dim == 2) {
      ierr = DMDACreate2d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n(0), n(1), PETSC_DECIDE,
                          PETSC_DECIDE, dof, 1, nullptr, nullptr, &dm_);
    } else {
      ierr = DMDACreate3d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n(0), n(1),
                          n(2), PETSC_DECIDE, PETSC_DECIDE, PETSC_DECIDE, dof, 1, nullptr, nullptr, nullptr, &dm_);
    }
    petsc_check_options(ierr ? ierr : DMSetFromOptions(dm_), "DMSetFromOptions (-da_*)");
    if (DMSetUp(dm_))
      throw UsageError("grid.cells", "the grid cannot be split over " + std::to_string(size) +
                                         " ranks; accepted: at least one cell per rank in each "
                                         "split dimension (use more cells or fewer ranks)");
  });
  read_layout();
}

Grid::Grid(const Grid& layout, int dof, int stencil_width)
    : comm_(layout.comm_), box_(layout.box_), dof_(dof) {
  // The same ownership ranges as `layout`; a block narrower than the stencil
  // cannot be set up, which is a grid too small for the rank count.
  const PetscInt *lx = nullptr, *ly = nullptr, *lz = nullptr;
  PetscInt m = 1, n = 1, p = 1;
  TF_CHECK_PETSC(DMDAGetInfo(layout.dm_, nullptr, nullptr, nullptr, nullptr, &m, &n, &p, nullptr, nullptr, nullptr,
                             nullptr, nullptr, nullptr));
  TF_CHECK_PETSC(DMDAGetOwnershipRanges(layout.dm_, &lx, &ly, &lz));
  const auto c = [&](int k) { return static_cast<PetscInt>(box_.cells[k]); };
  agree(comm_, [&] {
    PetscErrorCode ierr = 0;
    if (box_.dim == 1) {
      ierr = DMDACreate1d(comm_, DM_BOUNDARY_NONE, c(0), dof, stencil_width, lx, &dm_);
    } else if (box_.dim == 2) {
      ierr = DMDACreate2d(comm_, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, c(0), c(1), m, n, dof,
                          stencil_width, lx, ly, &dm_);
    } else {
      ierr = DMDACreate3d(comm_, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, c(0),
                          c(1), c(2), m, n, p, dof, stencil_width, lx, ly, lz, &dm_);
    }
    if (ierr || DMSetUp(dm_))
      throw UsageError("grid.cells", "each rank's block must be at least " + std::to_string(stencil_width) +
                                         " cells wide for this family's stencil; accepted: more cells or fewer ranks");
  });
  read_layout();
}

void Grid::read_layout() {
  PetscInt M = 1, N = 1, P = 1, xs = 0, ys = 0, zs = 0, xm = 1, ym = 1, zm = 1;
  TF_CHECK_PETSC(DMDAGetInfo(dm_, nullptr, &M, &N, &P, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                             nullptr, nullptr, nullptr));
  TF_CHECK_PETSC(DMDAGetCorners(dm_, &xs, &ys, &zs, &xm, &ym, &zm));
  const PetscInt global[3] = {M, N, P}, start[3] = {xs, ys, zs}, count[3] = {xm, ym, zm};
  for (int k = 0; k < box_.dim; ++k) {
    box_.cells[k] = global[k];
    owned_.start[k] = start[k];
    owned_.count[k] = count[k];
  }
  // Coordinates of cell centres, so PETSc viewers and monitors see the box.
  TF_CHECK_PETSC(DMDASetUniformCoordinates(dm_, box_.centre(0, 0), box_.centre(0, box_.cells[0] - 1),
                                           box_.dim > 1 ? box_.centre(1, 0) : 0.0,
                                           box_.dim > 1 ? box_.centre(1, box_.cells[1] - 1) : 0.0,
                                           box_.dim > 2 ? box_.centre(2, 0) : 0.0,
                                           box_.dim > 2 ? box_.centre(2, box_.cells[2] - 1) : 0.0));
}

Grid::~Grid() {
  if (dm_) DMDestroy(&dm_);
}

// The DMDA stores a block x-fastest (index 0 fastest); HDF5 datasets are C
// order with x0 slowest, so a block is transposed on the way in and out.
namespace {
template <class F>
void for_each_owned(const OwnedBlock& o, int dim, F&& f) {
  // Visits cells in DMDA local order (x0 fastest) and gives the C-order
  // position (x0 slowest) inside the block.
  const auto c0 = o.count[0], c1 = dim > 1 ? o.count[1] : 1, c2 = dim > 2 ? o.count[2] : 1;
  std::int64_t local = 0;
  for (std::int64_t k = 0; k < c2; ++k)
    for (std::int64_t j = 0; j < c1; ++j)
      for (std::int64_t i = 0; i < c0; ++i, ++local) {
        const std::int64_t cpos = dim == 1 ? i : dim == 2 ? i * c1 + j : (i * c1 + j) * c2 + k;
        f(local, cpos);
      }
}

}  // namespace

void Grid::owned_values(Vec v, std::vector<double>& out) const {
  const PetscScalar* a = nullptr;
  TF_CHECK_PETSC(VecGetArrayRead(v, &a));
  const std::int64_t k = dof_;
  out.resize(static_cast<std::size_t>(owned_.size() * k));
  for_each_owned(owned_, box_.dim, [&](std::int64_t local, std::int64_t cpos) {
    for (std::int64_t c = 0; c < k; ++c) out[cpos * k + c] = a[local * k + c];
  });
  TF_CHECK_PETSC(VecRestoreArrayRead(v, &a));
}

void Grid::set_owned_values(const std::vector<double>& in, Vec v) const {
  PetscScalar* a = nullptr;
  TF_CHECK_PETSC(VecGetArray(v, &a));
  const std::int64_t k = dof_;
  for_each_owned(owned_, box_.dim, [&](std::int64_t local, std::int64_t cpos) {
    for (std::int64_t c = 0; c < k; ++c) a[local * k + c] = in[cpos * k + c];
  });
  TF_CHECK_PETSC(VecRestoreArray(v, &a));
}

double multilinear(int dim, const std::array<std::int64_t, 3>& m, const std::array<double, 3>& first,
                   const std::array<double, 3>& h, const double* field, int stride, int component,
                   const double* x) {
  std::array<std::int64_t, 3> lo{0, 0, 0};
  std::array<double, 3> w{0, 0, 0};
  for (int b = 0; b < dim; ++b) {
    const double f = std::clamp((x[b] - first[b]) / h[b], 0.0, static_cast<double>(std::max<std::int64_t>(m[b] - 1, 0)));
    lo[b] = std::min<std::int64_t>(static_cast<std::int64_t>(f), std::max<std::int64_t>(m[b] - 2, 0));
    w[b] = m[b] > 1 ? f - static_cast<double>(lo[b]) : 0.0;
  }
  double v = 0;
  for (int corner = 0; corner < (1 << dim); ++corner) {
    double weight = 1;
    std::int64_t idx = 0;
    for (int b = 0; b < dim; ++b) {
      const int up = (corner >> b) & 1;
      if (up && m[b] == 1) {
        weight = 0;
        break;
      }
      weight *= up ? w[b] : 1 - w[b];
      idx = idx * m[b] + lo[b] + up;
    }
    if (weight != 0) v += weight * field[idx * stride + component];
  }
  return v;
}

double interpolate_cells(const Box& box, const double* field, int stride, int component, const double* x) {
  std::array<double, 3> first{0, 0, 0}, h{1, 1, 1};
  for (int b = 0; b < box.dim; ++b) first[b] = box.centre(b, 0), h[b] = box.spacing(b);
  return multilinear(box.dim, box.cells, first, h, field, stride, component, x);
}

}  // namespace twinflow
