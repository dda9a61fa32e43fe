#include "telegrapher.hpp"

#include <algorithm>
#include <cmath>

#include "twinflow/pde/finite_volume.hpp"

namespace twinflow::kac {
namespace {

// The step no longer than dt with Courant number c dt Σ_i 1/h_i <= limit.
double limited_step(const Box& box, double speed, double dt, double limit) {
  double inverse = 0;
  for (int a = 0; a < box.dim; ++a) inverse += 1 / box.spacing(a);
  return std::min(dt, limit / (speed * inverse));
}

// Population s moves with velocity c sign(s, a) along axis a: bit a of s set
// means −c.
int sign(int s, int a) { return (s >> a) & 1 ? -1 : 1; }

}  // namespace

TelegrapherEvolution::TelegrapherEvolution(const Grid& grid, std::unique_ptr<Grid> populations, double rate,
                                           double speed, const std::vector<double>& u0, double dt)
    : TsEvolution(populations->dm(), nullptr, limited_step(grid.box(), speed, dt, max_courant()),
                  grid.box().cell_volume()),
      grid_(grid),
      populations_(std::move(populations)),
      rate_(rate),
      speed_(speed),
      dim_(grid.box().dim),
      npop_(1 << grid.box().dim) {
  DM dm = populations_->dm();
  TF_CHECK_PETSC(DMCreateGlobalVector(dm, &state_));
  std::vector<double> p0(u0.size() * static_cast<std::size_t>(npop_));
  for (std::size_t c = 0; c < u0.size(); ++c)
    for (int s = 0; s < npop_; ++s) p0[c * npop_ + s] = u0[c] / npop_;
  populations_->set_owned_values(p0, state_);
  TF_CHECK_PETSC(DMCreateGlobalVector(grid.dm(), &density_));

  // J = shift I − R couples only the populations of one cell: one
  // npop × npop block per cell row, nothing off the block diagonal.
  PetscInt local = 0, global = 0;
  TF_CHECK_PETSC(VecGetLocalSize(state_, &local));
  TF_CHECK_PETSC(VecGetSize(state_, &global));
  TF_CHECK_PETSC(
      MatCreateBAIJ(populations_->comm(), npop_, local, local, global, global, 1, nullptr, 0, nullptr, &J_));

  TF_CHECK_PETSC(TSSetType(ts_, TSARKIMEX));
  TF_CHECK_PETSC(TSARKIMEXSetType(ts_, TSARKIMEXPRSSP2));
  TF_CHECK_PETSC(TSSetProblemType(ts_, TS_LINEAR));  // the implicit part is linear
  TF_CHECK_PETSC(TSSetRHSFunction(ts_, nullptr, &TelegrapherEvolution::transport, this));
  TF_CHECK_PETSC(TSSetIFunction(ts_, nullptr, &TelegrapherEvolution::ifunction, this));
  TF_CHECK_PETSC(TSSetIJacobian(ts_, J_, J_, &TelegrapherEvolution::ijacobian, this));
  SNES snes = nullptr;
  KSP ksp = nullptr;
  PC pc = nullptr;
  TF_CHECK_PETSC(TSGetSNES(ts_, &snes));
  TF_CHECK_PETSC(SNESGetKSP(snes, &ksp));
  TF_CHECK_PETSC(KSPSetType(ksp, KSPPREONLY));
  TF_CHECK_PETSC(KSPGetPC(ksp, &pc));
  TF_CHECK_PETSC(PCSetType(pc, PCPBJACOBI));  // exact: J is block diagonal
  finish_setup();
}

TelegrapherEvolution::~TelegrapherEvolution() {
  MatDestroy(&J_);
  VecDestroy(&density_);
}

void TelegrapherEvolution::relaxation(const PetscScalar* p, PetscScalar* f, PetscInt cells) const {
  for (PetscInt c = 0; c < cells; ++c) {
    const PetscScalar* q = p + c * npop_;
    for (int s = 0; s < npop_; ++s) {
      double in = 0;
      for (int a = 0; a < dim_; ++a) in += q[s ^ (1 << a)];
      f[c * npop_ + s] = rate_ * (in - dim_ * q[s]);
    }
  }
}

PetscErrorCode TelegrapherEvolution::transport(TS, PetscReal, Vec p, Vec f, void* ctx) {
  auto* self = static_cast<TelegrapherEvolution*>(ctx);
  return self->guarded([&] {
    DM dm = self->populations_->dm();
    Vec local = nullptr;
    TF_CHECK_PETSC(DMGetLocalVector(dm, &local));
    TF_CHECK_PETSC(DMGlobalToLocalBegin(dm, p, INSERT_VALUES, local));
    TF_CHECK_PETSC(DMGlobalToLocalEnd(dm, p, INSERT_VALUES, local));
    const PetscScalar* g = nullptr;
    PetscScalar* out = nullptr;
    TF_CHECK_PETSC(VecGetArrayRead(local, &g));
    TF_CHECK_PETSC(VecGetArray(f, &out));
    PetscInt gs[3], gm[3], os[3], om[3];
    TF_CHECK_PETSC(DMDAGetGhostCorners(dm, &gs[0], &gs[1], &gs[2], &gm[0], &gm[1], &gm[2]));
    TF_CHECK_PETSC(DMDAGetCorners(dm, &os[0], &os[1], &os[2], &om[0], &om[1], &om[2]));
    const Box& box = self->grid_.box();
    const int d = self->dim_, npop = self->npop_;
    std::array<PetscInt, 3> n{1, 1, 1}, stride{1, 1, 1};
    for (int a = 0; a < d; ++a) n[a] = static_cast<PetscInt>(box.cells[a]);
    stride[1] = gm[0];
    stride[2] = gm[0] * gm[1];
    const double c = self->speed_;
    PetscInt cell = 0;
    for (PetscInt k = os[2]; k < os[2] + om[2]; ++k)
      for (PetscInt j = os[1]; j < os[1] + om[1]; ++j)
        for (PetscInt i = os[0]; i < os[0] + om[0]; ++i, ++cell) {
          const PetscInt idx[3] = {i, j, k};
          const PetscInt base = (k - gs[2]) * stride[2] + (j - gs[1]) * stride[1] + (i - gs[0]);
          for (int s = 0; s < npop; ++s) {
            double rate_of_change = 0;
            for (int a = 0; a < d; ++a) {
              // Value of population s at offset o along a, with the walls
              // mirrored as constant extension (zero slope in wall cells).
              const auto at = [&](PetscInt o) {
                const PetscInt m = std::clamp(idx[a] + o, PetscInt{0}, n[a] - 1) - idx[a];
                return g[(base + m * stride[a]) * npop + s];
              };
              const double v = c * sign(s, a);
              // Upwind-reconstructed flux through the face between offsets o and o + 1.
              const auto face_flux = [&](PetscInt o) {
                if (idx[a] + o < 0 || idx[a] + o + 1 >= n[a]) return 0.0;  // a wall
                return muscl_flux(v, [&](PetscInt k) { return at(o + k); });
              };
              rate_of_change -= (face_flux(0) - face_flux(-1)) / box.spacing(a);
            }
            out[cell * npop + s] = rate_of_change;
          }
        }
    TF_CHECK_PETSC(VecRestoreArray(f, &out));
    TF_CHECK_PETSC(VecRestoreArrayRead(local, &g));
    TF_CHECK_PETSC(DMRestoreLocalVector(dm, &local));
  });
}

PetscErrorCode TelegrapherEvolution::ifunction(TS, PetscReal, Vec p, Vec p_t, Vec f, void* ctx) {
  auto* self = static_cast<TelegrapherEvolution*>(ctx);
  return self->guarded([&] {
    const PetscScalar *pa = nullptr, *pt = nullptr;
    PetscScalar* fa = nullptr;
    PetscInt n = 0;
    TF_CHECK_PETSC(VecGetLocalSize(p, &n));
    TF_CHECK_PETSC(VecGetArrayRead(p, &pa));
    TF_CHECK_PETSC(VecGetArrayRead(p_t, &pt));
    TF_CHECK_PETSC(VecGetArray(f, &fa));
    self->relaxation(pa, fa, n / self->npop_);
    for (PetscInt i = 0; i < n; ++i) fa[i] = pt[i] - fa[i];
    TF_CHECK_PETSC(VecRestoreArray(f, &fa));
    TF_CHECK_PETSC(VecRestoreArrayRead(p_t, &pt));
    TF_CHECK_PETSC(VecRestoreArrayRead(p, &pa));
  });
}

PetscErrorCode TelegrapherEvolution::ijacobian(TS, PetscReal, Vec, Vec, PetscReal shift, Mat J, Mat, void* ctx) {
  auto* self = static_cast<TelegrapherEvolution*>(ctx);
  return self->guarded([&] {
    if (shift == self->shift_) return;
    const int npop = self->npop_, d = self->dim_;
    std::vector<PetscScalar> block(static_cast<std::size_t>(npop * npop), 0.0);
    for (int s = 0; s < npop; ++s) {
      block[s * npop + s] = shift + self->rate_ * d;
      for (int a = 0; a < d; ++a) block[s * npop + (s ^ (1 << a))] = -self->rate_;
    }
    PetscInt lo = 0, hi = 0;
    TF_CHECK_PETSC(MatGetOwnershipRange(J, &lo, &hi));
    std::vector<PetscInt> idx(static_cast<std::size_t>(npop));
    for (PetscInt row = lo; row < hi; row += npop) {
      for (int s = 0; s < npop; ++s) idx[s] = row + s;
      TF_CHECK_PETSC(MatSetValues(J, npop, idx.data(), npop, idx.data(), block.data(), INSERT_VALUES));
    }
    TF_CHECK_PETSC(MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY));
    TF_CHECK_PETSC(MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY));
    self->shift_ = shift;
  });
}

Vec TelegrapherEvolution::density() const {
  const PetscScalar* p = nullptr;
  PetscScalar* u = nullptr;
  PetscInt n = 0;
  TF_CHECK_PETSC(VecGetLocalSize(density_, &n));
  TF_CHECK_PETSC(VecGetArrayRead(state_, &p));
  TF_CHECK_PETSC(VecGetArray(density_, &u));
  for (PetscInt c = 0; c < n; ++c) {
    double sum = 0;
    for (int s = 0; s < npop_; ++s) sum += p[c * npop_ + s];
    u[c] = sum;
  }
  TF_CHECK_PETSC(VecRestoreArray(density_, &u));
  TF_CHECK_PETSC(VecRestoreArrayRead(state_, &p));
  return density_;
}

std::vector<DensitySolver::Field> TelegrapherEvolution::extra_fields() const {
  return {{"flux", dim_}, {"velocity", dim_}};
}

void TelegrapherEvolution::extra_field(const std::string& name, std::vector<double>& owned) const {
  std::vector<double> p;
  populations_->owned_values(state_, p);
  const std::size_t cells = p.size() / static_cast<std::size_t>(npop_);
  owned.assign(cells * static_cast<std::size_t>(dim_), 0.0);
  for (std::size_t c = 0; c < cells; ++c) {
    double u = 0;
    for (int s = 0; s < npop_; ++s) u += p[c * npop_ + s];
    for (int a = 0; a < dim_; ++a) {
      double j = 0;
      for (int s = 0; s < npop_; ++s) j += speed_ * sign(s, a) * p[c * npop_ + s];
      // |j| <= c u while the populations are non-negative; the clamp keeps
      // round-off negatives from making |v| > c.
      owned[c * dim_ + a] = name == "flux" ? j : (u > 0 ? std::clamp(j / u, -speed_, speed_) : 0.0);
    }
  }
}

}  // namespace twinflow::kac
