#include "fokker_planck.hpp"

#include <cmath>

#include "twinflow/core/error.hpp"

namespace twinflow::ou {

double bernoulli(double z) {
  if (std::abs(z) < 1e-8) return 1.0 - 0.5 * z;
  return z / std::expm1(z);
}

Mat assemble_fokker_planck(const Grid& grid) {
  const Box& box = grid.box();
  Mat L = nullptr;
  if (DMCreateMatrix(grid.dm(), &L)) throw RuntimeFailure("PETSc: DMCreateMatrix failed");
  const OwnedBlock& o = grid.owned();
  for (std::int64_t k = o.start[2]; k < o.start[2] + o.count[2]; ++k)
    for (std::int64_t j = o.start[1]; j < o.start[1] + o.count[1]; ++j)
      for (std::int64_t i = o.start[0]; i < o.start[0] + o.count[0]; ++i) {
        const std::int64_t idx[3] = {i, j, k};
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
          const double h = box.spacing(a), h2 = h * h;
          const double x_left = box.lower[a] + static_cast<double>(idx[a]) * h;  // face c−½
          const double x_right = x_left + h;                                       // face c+½
          if (idx[a] + 1 < box.cells[a]) {  // outflow through the right face
            vals[0] -= bernoulli(x_right * h) / h2;
            cols[n] = row;
            (a == 0 ? cols[n].i : a == 1 ? cols[n].j : cols[n].k) += 1;
            vals[n++] = bernoulli(-x_right * h) / h2;
          }
          if (idx[a] > 0) {  // inflow through the left face
            vals[0] -= bernoulli(-x_left * h) / h2;
            cols[n] = row;
            (a == 0 ? cols[n].i : a == 1 ? cols[n].j : cols[n].k) -= 1;
            vals[n++] = bernoulli(x_left * h) / h2;
          }
        }
        MatSetValuesStencil(L, 1, &row, n, cols, vals, INSERT_VALUES);
      }
  MatAssemblyBegin(L, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(L, MAT_FINAL_ASSEMBLY);
  return L;
}

}  // namespace twinflow::ou
