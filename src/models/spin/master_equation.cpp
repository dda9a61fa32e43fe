#include "master_equation.hpp"

#include <petscis.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/petsc_error.hpp"

namespace twinflow::spin {
namespace {

/// RK4's stability region holds the disc |z + 1| <= 1, which holds the
/// Gershgorin disc of a generator times dt when dt <= 1 / (largest exit rate).
constexpr double kCourant = 1.0;

/// Read access to a Vec's owned array for one scope.
class ReadArray {
 public:
  explicit ReadArray(Vec v) : v_(v) { TF_CHECK_PETSC(VecGetArrayRead(v_, &a_)); }
  ~ReadArray() { VecRestoreArrayRead(v_, &a_); }
  const double* get() const { return a_; }

 private:
  Vec v_;
  const PetscScalar* a_ = nullptr;
};

class WriteArray {
 public:
  explicit WriteArray(Vec v) : v_(v) { TF_CHECK_PETSC(VecGetArray(v_, &a_)); }
  ~WriteArray() { VecRestoreArray(v_, &a_); }
  double* get() const { return a_; }

 private:
  Vec v_;
  PetscScalar* a_ = nullptr;
};

}  // namespace

SiteFlips::SiteFlips(const StateVectorSpace& space, int buffers)
    : sites_(space.sites()), first_(space.slab().start[0]), owned_(space.slab().count[0]) {
  const MPI_Comm comm = space.comm();
  Vec layout = space.create_vector();
  scatters_.assign(static_cast<std::size_t>(sites_), nullptr);
  ghost_values_.resize(static_cast<std::size_t>(buffers * sites_));
  ghost_vecs_.assign(ghost_values_.size(), nullptr);
  try {
    for (int i = 0; i < sites_; ++i) {
      const std::int64_t mask = std::int64_t{1} << (sites_ - 1 - i), lo = first_, hi = first_ + owned_;
      std::vector<PetscInt> remote;
      for (std::int64_t x = lo; x < hi; ++x) {
        const std::int64_t p = x ^ mask;
        if (p < lo || p >= hi) remote.push_back(static_cast<PetscInt>(p));
      }
      std::int64_t any = static_cast<std::int64_t>(remote.size());
      sum_over_ranks(comm, &any, 1);
      if (any == 0) continue;
      IS is = nullptr;
      TF_CHECK_PETSC(ISCreateGeneral(PETSC_COMM_SELF, static_cast<PetscInt>(remote.size()), remote.data(),
                                     PETSC_COPY_VALUES, &is));
      for (int b = 0; b < buffers; ++b) {
        const auto slot = static_cast<std::size_t>(b * sites_ + i);
        ghost_values_[slot].assign(remote.size(), 0.0);
        TF_CHECK_PETSC(VecCreateSeqWithArray(PETSC_COMM_SELF, 1, static_cast<PetscInt>(remote.size()),
                                             ghost_values_[slot].data(), &ghost_vecs_[slot]));
      }
      const PetscErrorCode ierr = VecScatterCreate(layout, is, ghost_vecs_[static_cast<std::size_t>(i)], nullptr,
                                                   &scatters_[static_cast<std::size_t>(i)]);
      ISDestroy(&is);
      TF_CHECK_PETSC(ierr);
    }
  } catch (...) {
    VecDestroy(&layout);
    throw;
  }
  VecDestroy(&layout);
}

SiteFlips::~SiteFlips() {
  for (auto& s : scatters_) VecScatterDestroy(&s);
  for (auto& v : ghost_vecs_) VecDestroy(&v);
}

void SiteFlips::exchange(Vec v, int buffer, int site) {
  const int lo = site < 0 ? 0 : site, hi = site < 0 ? sites_ : site + 1;
  collective_point(PetscObjectComm(reinterpret_cast<PetscObject>(v)));
  for (int i = lo; i < hi; ++i)
    if (scatters_[static_cast<std::size_t>(i)])
      TF_CHECK_PETSC(VecScatterBegin(scatters_[static_cast<std::size_t>(i)], v,
                                     ghost_vecs_[static_cast<std::size_t>(buffer * sites_ + i)], INSERT_VALUES,
                                     SCATTER_FORWARD));
  for (int i = lo; i < hi; ++i)
    if (scatters_[static_cast<std::size_t>(i)])
      TF_CHECK_PETSC(VecScatterEnd(scatters_[static_cast<std::size_t>(i)], v,
                                   ghost_vecs_[static_cast<std::size_t>(buffer * sites_ + i)], INSERT_VALUES,
                                   SCATTER_FORWARD));
}

std::int64_t SiteFlips::ghost_doubles() const {
  std::int64_t n = 0;
  for (const auto& g : ghost_values_) n += static_cast<std::int64_t>(g.size());
  return n;
}

void apply_flip_kernel(SiteFlips& flips, Vec v, double gamma, double t) {
  // K_t = ½[[1 + e, 1 − e], [1 − e, 1 + e]], e = e^{−2γt}, on one site at a
  // time: v(x) ← K(x_i|x_i) v(x) + K(x_i|1 − x_i) v(x^{(i)}).
  const double e = std::exp(-2 * gamma * t), stay = 0.5 * (1 + e), flip = 0.5 * (1 - e);
  std::vector<double> next(static_cast<std::size_t>(flips.owned()));
  for (int i = 0; i < flips.sites(); ++i) {
    flips.exchange(v, 0, i);
    WriteArray a(v);
    double* p = a.get();
    flips.visit(i, p, 0, [&](std::int64_t k, double partner) { next[k] = stay * p[k] + flip * partner; });
    std::copy(next.begin(), next.end(), p);
  }
}

ForwardMasterEquation::ForwardMasterEquation(const StateVectorSpace& space, double gamma, Vec p0, double dt)
    : TsEvolution(nullptr, p0, dt, 1.0), flips_(space, 1), gamma_(gamma) {
  TF_CHECK_PETSC(TSSetType(ts_, TSRK));
  TF_CHECK_PETSC(TSRKSetType(ts_, TSRK4));
  TF_CHECK_PETSC(TSSetRHSFunction(ts_, nullptr, &ForwardMasterEquation::rhs, this));
  finish_setup();
}

void ForwardMasterEquation::apply_generator(Vec in, Vec out) {
  flips_.exchange(in, 0);
  ReadArray a(in);
  WriteArray b(out);
  const double* u = a.get();
  double* f = b.get();
  const double diagonal = -gamma_ * flips_.sites();
  for (std::int64_t k = 0; k < flips_.owned(); ++k) f[k] = diagonal * u[k];
  for (int i = 0; i < flips_.sites(); ++i)
    flips_.visit(i, u, 0, [&](std::int64_t k, double partner) { f[k] += gamma_ * partner; });
}

PetscErrorCode ForwardMasterEquation::rhs(TS, PetscReal, Vec u, Vec f, void* ctx) {
  auto* self = static_cast<ForwardMasterEquation*>(ctx);
  return self->guarded([&] { self->apply_generator(u, f); });
}

double ForwardMasterEquation::stable_step() { return kCourant / (gamma_ * flips_.sites()); }

ReverseMasterEquation::ReverseMasterEquation(const StateVectorSpace& space, double gamma, double horizon, Vec q0,
                                             double dt, LawAt law)
    : TsEvolution(nullptr, q0, dt, 1.0), flips_(space, 2), gamma_(gamma), horizon_(horizon), law_(std::move(law)) {
  law_vec_ = space.create_vector();
  TF_CHECK_PETSC(TSSetType(ts_, TSRK));
  TF_CHECK_PETSC(TSRKSetType(ts_, TSRK4));
  TF_CHECK_PETSC(TSSetRHSFunction(ts_, nullptr, &ReverseMasterEquation::rhs, this));
  finish_setup();
}

ReverseMasterEquation::~ReverseMasterEquation() { VecDestroy(&law_vec_); }

void ReverseMasterEquation::load_law(double s) {
  // RK4's two middle stages share a time, and a step's first stage that of
  // the stable step before it.
  if (s == law_time_) return;
  law_time_ = s;
  std::vector<double> p;
  law_(horizon_ - s, p);
  {
    WriteArray a(law_vec_);
    std::copy(p.begin(), p.end(), a.get());
  }
  flips_.exchange(law_vec_, 1);
}

PetscErrorCode ReverseMasterEquation::rhs(TS, PetscReal s, Vec u, Vec f, void* ctx) {
  auto* self = static_cast<ReverseMasterEquation*>(ctx);
  return self->guarded([&] {
    // (G_s Q)(y) = γ Σ_i [P(y)/P(y^{(i)}) Q(y^{(i)}) − P(y^{(i)})/P(y) Q(y)], P = P_{T−s}.
    self->load_law(s);
    self->flips_.exchange(u, 0);
    ReadArray pa(self->law_vec_), qa(u);
    WriteArray fa(f);
    const double *p = pa.get(), *q = qa.get();
    double* out = fa.get();
    const std::int64_t n = self->flips_.owned();
    std::fill(out, out + n, 0.0);
    std::vector<double> p_partner(static_cast<std::size_t>(n));
    for (int i = 0; i < self->flips_.sites(); ++i) {
      self->flips_.visit(i, p, 1, [&](std::int64_t k, double partner) { p_partner[k] = partner; });
      self->flips_.visit(i, q, 0, [&](std::int64_t k, double q_partner) {
        out[k] += self->gamma_ * (p[k] / p_partner[k] * q_partner - p_partner[k] / p[k] * q[k]);
      });
    }
  });
}

double ReverseMasterEquation::stable_step() {
  load_law(time());
  double largest = 0;
  {
    ReadArray pa(law_vec_);
    const double* p = pa.get();
    std::vector<double> exit(static_cast<std::size_t>(flips_.owned()), 0.0);
    for (int i = 0; i < flips_.sites(); ++i)
      flips_.visit(i, p, 1, [&](std::int64_t k, double partner) { exit[k] += gamma_ * partner / p[k]; });
    for (double r : exit) largest = std::max(largest, r);
  }
  collective_point(PetscObjectComm(reinterpret_cast<PetscObject>(law_vec_)));
  MPI_Allreduce(MPI_IN_PLACE, &largest, 1, MPI_DOUBLE, MPI_MAX, PetscObjectComm(reinterpret_cast<PetscObject>(law_vec_)));
  return largest > 0 ? kCourant / largest : std::numeric_limits<double>::infinity();
}

}  // namespace twinflow::spin
