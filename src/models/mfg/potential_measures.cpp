#include "potential_measures.hpp"

#include <array>
#include <cmath>
#include <limits>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/petsc_error.hpp"

namespace twinflow::mfg {

PotentialMeasures measure_potential(const Grid& grid, const std::vector<double>& owned, double beta) {
  DM dm = grid.dm();
  Vec global = nullptr, local = nullptr;
  TF_CHECK_PETSC(DMGetGlobalVector(dm, &global));
  grid.set_owned_values(owned, global);
  TF_CHECK_PETSC(DMGetLocalVector(dm, &local));
  TF_CHECK_PETSC(DMGlobalToLocalBegin(dm, global, INSERT_VALUES, local));
  TF_CHECK_PETSC(DMGlobalToLocalEnd(dm, global, INSERT_VALUES, local));
  const PetscScalar* g = nullptr;
  TF_CHECK_PETSC(VecGetArrayRead(local, &g));
  PetscInt gs[3], gm[3], os[3], om[3];
  TF_CHECK_PETSC(DMDAGetGhostCorners(dm, &gs[0], &gs[1], &gs[2], &gm[0], &gm[1], &gm[2]));
  TF_CHECK_PETSC(DMDAGetCorners(dm, &os[0], &os[1], &os[2], &om[0], &om[1], &om[2]));
  const Box& box = grid.box();
  const int d = box.dim;
  std::array<PetscInt, 3> n{1, 1, 1}, stride{1, gm[0], gm[0] * gm[1]};
  for (int a = 0; a < d; ++a) n[a] = static_cast<PetscInt>(box.cells[a]);
  double sums[3] = {0, 0, 0};  // Σ |R| η, Σ η, Σ ½|∇Φ|² η
  for (PetscInt k = os[2]; k < os[2] + om[2]; ++k)
    for (PetscInt j = os[1]; j < os[1] + om[1]; ++j)
      for (PetscInt i = os[0]; i < os[0] + om[0]; ++i) {
        const PetscInt idx[3] = {i, j, k};
        const PetscInt base = (k - gs[2]) * stride[2] + (j - gs[1]) * stride[1] + (i - gs[0]);
        const double eta = g[base];
        bool inside = eta > 0;
        for (int a = 0; a < d && inside; ++a)
          inside = idx[a] > 0 && idx[a] + 1 < n[a] && g[base - stride[a]] > 0 && g[base + stride[a]] > 0;
        if (!inside) continue;
        const double phi = 2 * beta * std::log(eta);
        double laplace_eta = 0, laplace_phi = 0, gradient2 = 0;
        for (int a = 0; a < d; ++a) {
          const double h = box.spacing(a), lo = g[base - stride[a]], hi = g[base + stride[a]];
          const double phi_lo = 2 * beta * std::log(lo), phi_hi = 2 * beta * std::log(hi);
          laplace_eta += (hi - 2 * eta + lo) / (h * h);
          laplace_phi += (phi_hi - 2 * phi + phi_lo) / (h * h);
          const double slope = (phi_hi - phi_lo) / (2 * h);
          gradient2 += slope * slope;
        }
        const double residual = -2 * beta * beta * laplace_eta / eta + 0.5 * gradient2 + beta * laplace_phi;
        sums[0] += std::abs(residual) * eta;
        sums[1] += eta;
        sums[2] += 0.5 * gradient2 * eta;
      }
  TF_CHECK_PETSC(VecRestoreArrayRead(local, &g));
  TF_CHECK_PETSC(DMRestoreLocalVector(dm, &local));
  TF_CHECK_PETSC(DMRestoreGlobalVector(dm, &global));
  sum_over_ranks(grid.comm(), sums, 3);
  return {sums[1] > 0 ? sums[0] / sums[1] : std::numeric_limits<double>::quiet_NaN(), sums[2] * box.cell_volume()};
}

}  // namespace twinflow::mfg
