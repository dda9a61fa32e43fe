#include "twinflow/pde/flux_operator.hpp"

#include "twinflow/core/petsc_error.hpp"
#include "twinflow/pde/finite_volume.hpp"

namespace twinflow {

Mat assemble_drift_diffusion(const Grid& grid, const FaceDrift& drift) {
  Mat L = nullptr;
  TF_CHECK_PETSC(DMCreateMatrix(grid.dm(), &L));
  try {
    refill_drift_diffusion(grid, drift, L);
  } catch (...) {
    MatDestroy(&L);
    throw;
  }
  return L;
}

void refill_drift_diffusion(const Grid& grid, const FaceDrift& drift, Mat L) {
  const Box& box = grid.box();
  const OwnedBlock& o = grid.owned();
  for (std::int64_t k = o.start[2]; k < o.start[2] + o.count[2]; ++k)
    for (std::int64_t j = o.start[1]; j < o.start[1] + o.count[1]; ++j)
      for (std::int64_t i = o.start[0]; i < o.start[0] + o.count[0]; ++i) {
        const std::int64_t idx[3] = {i, j, k};
        double centre[3] = {0, 0, 0};
        for (int a = 0; a < box.dim; ++a) centre[a] = box.centre(a, idx[a]);
        MatStencil row{};
        row.i = static_cast<PetscInt>(i);
        row.j = static_cast<PetscInt>(j);
        row.k = static_cast<PetscInt>(k);
        MatStencil cols[7];
        PetscScalar vals[7];
        int n = 1;
        cols[0] = row;
        vals[0] = 0;
        for (int a = 0; a < box.dim; ++a) {
          const double h = box.spacing(a);
          const double x_left = box.lower[a] + static_cast<double>(idx[a]) * h;  // face c−½
          double face[3] = {centre[0], centre[1], centre[2]};
          if (idx[a] + 1 < box.cells[a]) {  // the right face: this cell is its left cell
            face[a] = x_left + h;
            const ScharfetterGummel f(1.0, drift(a, face), h);
            vals[0] -= f.from_left / h;
            cols[n] = row;
            (a == 0 ? cols[n].i : a == 1 ? cols[n].j : cols[n].k) += 1;
            vals[n++] = f.from_right / h;
          }
          if (idx[a] > 0) {  // the left face: this cell is its right cell
            face[a] = x_left;
            const ScharfetterGummel f(1.0, drift(a, face), h);
            vals[0] -= f.from_right / h;
            cols[n] = row;
            (a == 0 ? cols[n].i : a == 1 ? cols[n].j : cols[n].k) -= 1;
            vals[n++] = f.from_left / h;
          }
        }
        TF_CHECK_PETSC(MatSetValuesStencil(L, 1, &row, n, cols, vals, INSERT_VALUES));
      }
  TF_CHECK_PETSC(MatAssemblyBegin(L, MAT_FINAL_ASSEMBLY));
  TF_CHECK_PETSC(MatAssemblyEnd(L, MAT_FINAL_ASSEMBLY));
}

}  // namespace twinflow
