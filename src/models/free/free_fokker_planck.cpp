#include "free_fokker_planck.hpp"

#include <algorithm>
#include <cmath>

#include "twinflow/core/error.hpp"
#include "twinflow/pde/finite_volume.hpp"

namespace twinflow::free {

FreeFokkerPlanck::FreeFokkerPlanck(const Grid& grid, double theta, double sigma, const std::vector<double>& initial,
                                   double dt)
    : TsEvolution(grid.dm(), [&] {
        Vec v = nullptr;
        TF_CHECK_PETSC(DMCreateGlobalVector(grid.dm(), &v));
        grid.set_owned_values(initial, v);
        return v;
      }(), dt, grid.box().cell_volume()),
      grid_(grid),
      theta_(theta),
      sigma_(sigma),
      transforms_(grid.box().cells[0], grid.box().spacing(0)) {
  TF_CHECK_PETSC(VecScatterCreateToAll(state_, &to_all_, &all_));
  const auto m = static_cast<std::size_t>(grid.box().cells[0]);
  full_.resize(m);
  v_.resize(m);
  work_.resize(m);
  TF_CHECK_PETSC(TSSetType(ts_, TSSSP));
  TF_CHECK_PETSC(TSSSPSetType(ts_, TSSSPRKS3));
  TF_CHECK_PETSC(TSSSPSetNumStages(ts_, 4));
  TF_CHECK_PETSC(TSSetRHSFunction(ts_, nullptr, &FreeFokkerPlanck::rhs, this));
  finish_setup();
}

FreeFokkerPlanck::~FreeFokkerPlanck() {
  VecScatterDestroy(&to_all_);
  VecDestroy(&all_);
}

void FreeFokkerPlanck::gather(Vec u) const {
  TF_CHECK_PETSC(VecScatterBegin(to_all_, u, all_, INSERT_VALUES, SCATTER_FORWARD));
  TF_CHECK_PETSC(VecScatterEnd(to_all_, u, all_, INSERT_VALUES, SCATTER_FORWARD));
  const PetscScalar* a = nullptr;
  TF_CHECK_PETSC(VecGetArrayRead(all_, &a));
  std::copy(a, a + full_.size(), full_.begin());
  TF_CHECK_PETSC(VecRestoreArrayRead(all_, &a));
}

const std::vector<double>& FreeFokkerPlanck::gather() const {
  gather(state_);
  return full_;
}

void FreeFokkerPlanck::velocity(const std::vector<double>& rho, std::vector<double>& v) const {
  const Box& box = grid_.box();
  v.resize(rho.size());
  transforms_.hilbert(rho.data(), v.data());
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = -theta_ * box.centre(0, static_cast<std::int64_t>(i)) + sigma_ * sigma_ * v[i];
}

void FreeFokkerPlanck::divergence(const std::vector<double>& rho, double* f) const {
  velocity(rho, v_);
  const auto m = static_cast<std::int64_t>(rho.size());
  const double h = grid_.box().spacing(0);
  const auto at = [&](std::int64_t i) { return i >= 0 && i < m ? rho[i] : 0.0; };
  // Upwind MUSCL flux through the face between cells i and i + 1 (none
  // through the box's ends).
  const auto flux = [&](std::int64_t i) {
    if (i < 0 || i >= m - 1) return 0.0;
    return muscl_flux(0.5 * (v_[i] + v_[i + 1]), [&](int o) { return at(i + o); });
  };
  const OwnedBlock& o = grid_.owned();
  double left = flux(o.start[0] - 1);
  for (std::int64_t k = 0; k < o.count[0]; ++k) {
    const double right = flux(o.start[0] + k);
    f[k] = -(right - left) / h;
    left = right;
  }
}

PetscErrorCode FreeFokkerPlanck::rhs(TS, PetscReal, Vec u, Vec f, void* ctx) {
  auto* self = static_cast<FreeFokkerPlanck*>(ctx);
  // The gather is the callback's communication, done by every rank first.
  return self->guarded([&] {
    self->gather(u);
    PetscScalar* fa = nullptr;
    TF_CHECK_PETSC(VecGetArray(f, &fa));
    self->divergence(self->full_, fa);
    TF_CHECK_PETSC(VecRestoreArray(f, &fa));
  });
}

double FreeFokkerPlanck::stable_step() {
  velocity(gather(), v_);
  double vmax = 0;
  for (std::size_t i = 0; i + 1 < v_.size(); ++i) vmax = std::max(vmax, std::abs(0.5 * (v_[i] + v_[i + 1])));
  if (!(vmax > 0)) return std::numeric_limits<double>::infinity();
  return kCourant * grid_.box().spacing(0) / vmax;
}

void FreeFokkerPlanck::extra_field(const std::string& name, std::vector<double>& owned) const {
  if (name != "J") throw std::logic_error("free Fokker–Planck has no field '" + name + "'");
  const std::vector<double>& rho = gather();
  transforms_.hilbert(rho.data(), work_.data());
  const OwnedBlock& o = grid_.owned();
  owned.assign(static_cast<std::size_t>(o.count[0]), 0.0);
  for (std::int64_t k = 0; k < o.count[0]; ++k) owned[k] = 2 * work_[o.start[0] + k];
}

}  // namespace twinflow::free
