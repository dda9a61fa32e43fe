#include "phase_space_fp.hpp"

#include <algorithm>
#include <cmath>

#include "twinflow/core/error.hpp"
#include "twinflow/pde/finite_volume.hpp"

namespace twinflow::kinetic {
namespace {

// The largest |v| of a cell centre, which sets the Courant number.
double max_speed(const Box& box) {
  return std::max(std::abs(box.centre(1, 0)), std::abs(box.centre(1, box.cells[1] - 1)));
}

// L_v p, the implicit v-part: the Scharfetter–Gummel flux of
// 2 ∂_v(∂_v p + β p), β = (x + 2v)/2 at the face.
Mat assemble_velocity_part(const Grid& grid) {
  const Box& box = grid.box();
  Mat L = nullptr;
  TF_CHECK_PETSC(DMCreateMatrix(grid.dm(), &L));
  const OwnedBlock& o = grid.owned();
  const double h = box.spacing(1);
  for (std::int64_t j = o.start[1]; j < o.start[1] + o.count[1]; ++j)
    for (std::int64_t i = o.start[0]; i < o.start[0] + o.count[0]; ++i) {
      MatStencil row{}, cols[3];
      row.i = static_cast<PetscInt>(i);
      row.j = static_cast<PetscInt>(j);
      PetscScalar vals[3] = {0, 0, 0};
      int n = 1;
      cols[0] = row;
      const double x = box.centre(0, i);
      const double v_low = box.lower[1] + static_cast<double>(j) * h;
      if (j + 1 < box.cells[1]) {  // the upper face: this cell is its lower cell
        const ScharfetterGummel f(2.0, 0.5 * (x + 2 * (v_low + h)), h);
        vals[0] -= f.from_left / h;
        cols[n] = row;
        cols[n].j += 1;
        vals[n++] = f.from_right / h;
      }
      if (j > 0) {  // the lower face: this cell is its upper cell
        const ScharfetterGummel f(2.0, 0.5 * (x + 2 * v_low), h);
        vals[0] -= f.from_right / h;
        cols[n] = row;
        cols[n].j -= 1;
        vals[n++] = f.from_left / h;
      }
      TF_CHECK_PETSC(MatSetValuesStencil(L, 1, &row, n, cols, vals, INSERT_VALUES));
    }
  TF_CHECK_PETSC(MatAssemblyBegin(L, MAT_FINAL_ASSEMBLY));
  TF_CHECK_PETSC(MatAssemblyEnd(L, MAT_FINAL_ASSEMBLY));
  return L;
}

}  // namespace

PhaseSpaceFokkerPlanck::PhaseSpaceFokkerPlanck(const Grid& grid, const std::vector<double>& p0, double dt)
    : PhaseSpaceFokkerPlanck(grid, std::make_unique<Grid>(grid, 1, 2), p0, dt) {}

PhaseSpaceFokkerPlanck::PhaseSpaceFokkerPlanck(const Grid& grid, std::unique_ptr<Grid> wide,
                                               const std::vector<double>& p0, double dt)
    : TsEvolution(wide->dm(), nullptr,
                  std::min(dt, max_courant() * grid.box().spacing(0) / max_speed(grid.box())),
                  grid.box().cell_volume()),
      grid_(grid),
      wide_(std::move(wide)),
      velocity_part_(assemble_velocity_part(*wide_)) {
  TF_CHECK_PETSC(DMCreateGlobalVector(wide_->dm(), &state_));
  wide_->set_owned_values(p0, state_);
  TF_CHECK_PETSC(DMCreateGlobalVector(grid.dm(), &density_));
  TF_CHECK_PETSC(TSSetType(ts_, TSARKIMEX));
  TF_CHECK_PETSC(TSARKIMEXSetType(ts_, TSARKIMEXPRSSP2));
  TF_CHECK_PETSC(TSSetRHSFunction(ts_, nullptr, &PhaseSpaceFokkerPlanck::transport, this));
  velocity_part_.attach(ts_, callback_failures());
  finish_setup();
}

PhaseSpaceFokkerPlanck::~PhaseSpaceFokkerPlanck() { VecDestroy(&density_); }

PetscErrorCode PhaseSpaceFokkerPlanck::transport(TS, PetscReal, Vec p, Vec f, void* ctx) {
  auto* self = static_cast<PhaseSpaceFokkerPlanck*>(ctx);
  return self->guarded([&] {
    DM dm = self->wide_->dm();
    Vec local = nullptr;
    TF_CHECK_PETSC(DMGetLocalVector(dm, &local));
    TF_CHECK_PETSC(DMGlobalToLocalBegin(dm, p, INSERT_VALUES, local));
    TF_CHECK_PETSC(DMGlobalToLocalEnd(dm, p, INSERT_VALUES, local));
    const PetscScalar** g = nullptr;
    PetscScalar** out = nullptr;
    TF_CHECK_PETSC(DMDAVecGetArrayRead(dm, local, &g));
    TF_CHECK_PETSC(DMDAVecGetArray(dm, f, &out));
    PetscInt xs, ys, xm, ym;
    TF_CHECK_PETSC(DMDAGetCorners(dm, &xs, &ys, nullptr, &xm, &ym, nullptr));
    const Box& box = self->grid_.box();
    const auto nx = static_cast<PetscInt>(box.cells[0]);
    const double dx = box.spacing(0);
    for (PetscInt j = ys; j < ys + ym; ++j) {
      const double v = box.centre(1, j);
      for (PetscInt i = xs; i < xs + xm; ++i) {
        // Cell values along x, extended constantly beyond the walls.
        const auto at = [&](PetscInt o) { return g[j][std::clamp(i + o, PetscInt{0}, nx - 1)]; };
        const auto face_flux = [&](PetscInt o) {  // the face between cells i + o and i + o + 1
          if (i + o < 0 || i + o + 1 >= nx) return 0.0;  // a wall
          return muscl_flux(v, [&](PetscInt k) { return at(o + k); });
        };
        out[j][i] = -(face_flux(0) - face_flux(-1)) / dx;
      }
    }
    TF_CHECK_PETSC(DMDAVecRestoreArray(dm, f, &out));
    TF_CHECK_PETSC(DMDAVecRestoreArrayRead(dm, local, &g));
    TF_CHECK_PETSC(DMRestoreLocalVector(dm, &local));
  });
}

Vec PhaseSpaceFokkerPlanck::density() const {
  TF_CHECK_PETSC(VecCopy(state_, density_));  // one dof on the same cells and ownership
  return density_;
}

}  // namespace twinflow::kinetic
