#pragma once
// The PDE side of the spin family (docs/spin.md (S3)–(S5)): the
// master equation on all 2^L configurations as a distributed PETSc Vec
// (StateVectorSpace layout: contiguous blocks of state indices, site 0 the
// most significant bit), with the generator applied matrix-free.
//
// Flipping site i is an XOR of the state index with 2^{L−1−i}. For the low
// bits the partner lies in the same block; for the high bits, which select
// the owning rank, it may lie in another rank's block. Those partners are
// fetched by one PETSc VecScatter per such site, built once from the
// owned states whose partner is remote (in state order), into a sequential
// ghost vector per site. A rank holds its block plus at most one ghost per
// owned state per remote site; for L = 24 on 2 ranks only site 0 is
// remote, so the ghosts add one block (64 MiB) to the 64 MiB block.
//
// Collective unless noted.
#include <petscts.h>

#include <functional>
#include <vector>

#include "twinflow/pde/ts_evolution.hpp"
#include "twinflow/run/state_space.hpp"

namespace twinflow::spin {

/// The flip partners of a block: the pattern (which owned states have a
/// remote partner for each site) and `buffers` sets of ghost vectors, so
/// that the partners of several Vecs can be held at once.
class SiteFlips {
 public:
  SiteFlips(const StateVectorSpace& space, int buffers);
  ~SiteFlips();
  SiteFlips(const SiteFlips&) = delete;
  SiteFlips& operator=(const SiteFlips&) = delete;

  int sites() const { return sites_; }
  std::int64_t first() const { return first_; }
  std::int64_t owned() const { return owned_; }
  /// Fetches into `buffer` the remote partners of v's owned entries for
  /// `site` (−1: every site).
  void exchange(Vec v, int buffer, int site = -1);
  /// Not collective. Calls f(k, partner) for every owned state k (offset in
  /// the block) with v(x_k with `site` flipped), reading `local` (v's owned
  /// array) and the ghosts of the last exchange into `buffer`.
  template <class F>
  void visit(int site, const double* local, int buffer, F&& f) const {
    const std::int64_t mask = std::int64_t{1} << (sites_ - 1 - site), lo = first_, hi = first_ + owned_;
    const double* ghost = ghost_array(buffer, site);
    std::size_t next = 0;
    for (std::int64_t k = 0; k < owned_; ++k) {
      const std::int64_t p = (lo + k) ^ mask;
      f(k, (p >= lo && p < hi) ? local[p - lo] : ghost[next++]);
    }
  }
  /// Doubles held as ghosts by this rank (all buffers). Not collective.
  std::int64_t ghost_doubles() const;

 private:
  const double* ghost_array(int buffer, int site) const {
    return ghost_values_[static_cast<std::size_t>(buffer * sites_ + site)].data();
  }
  int sites_;
  std::int64_t first_, owned_;
  std::vector<VecScatter> scatters_;  ///< per site (null: no rank has a remote partner)
  /// [buffer · sites + site]: the ghosts, and sequential Vecs on that storage.
  std::vector<std::vector<double>> ghost_values_;
  std::vector<Vec> ghost_vecs_;
};

/// e^{t𝕎} applied to v exactly, in place: the flip kernel K_t on every
/// site in turn (S2), one exchange per site (uses buffer 0).
void apply_flip_kernel(SiteFlips& flips, Vec v, double gamma, double t);

/// ∂_t P = 𝕎P, (𝕎P)(x) = γ Σ_i [P(x^{(i)}) − P(x)] (S3), PETSc TSRK (RK4 by
/// default) in steps no longer than T/pde.steps and the stability limit.
class ForwardMasterEquation : public TsEvolution {
 public:
  /// Takes ownership of p0 (a Vec of `space`'s layout).
  ForwardMasterEquation(const StateVectorSpace& space, double gamma, Vec p0, double dt);
  Vec density() const override { return state_; }
  /// out = 𝕎 in (for tests).
  void apply_generator(Vec in, Vec out);
  const SiteFlips& flips() const { return flips_; }

 protected:
  double stable_step() override;

 private:
  static PetscErrorCode rhs(TS ts, PetscReal t, Vec u, Vec f, void* ctx);
  SiteFlips flips_;
  double gamma_;
};

/// The reverse master equation in s = T − t (S5): Q_s flows under the
/// reverse generator of the noise, whose rate from y to y^{(i)} is
/// γ P_{T−s}(y^{(i)})/P_{T−s}(y), from Q_0 = P_T; its solution is P_{T−s}.
/// P_τ comes exactly from `law` (the MPS of S2 on this rank's block).
class ReverseMasterEquation : public TsEvolution {
 public:
  /// This rank's block of the exact P_τ (local work only).
  using LawAt = std::function<void(double tau, std::vector<double>& owned)>;
  /// Takes ownership of q0.
  ReverseMasterEquation(const StateVectorSpace& space, double gamma, double horizon, Vec q0, double dt, LawAt law);
  ~ReverseMasterEquation() override;
  Vec density() const override { return state_; }

 protected:
  /// The step under which the reverse generator's Gershgorin disc (centre
  /// and radius the largest exit rate) stays in RK4's stability region.
  double stable_step() override;

 private:
  static PetscErrorCode rhs(TS ts, PetscReal s, Vec u, Vec f, void* ctx);
  // The exact P at τ = T − s into law_vec_, with its partners in buffer 1.
  void load_law(double s);
  SiteFlips flips_;
  double gamma_, horizon_;
  LawAt law_;
  Vec law_vec_ = nullptr;
  double law_time_ = -1;  ///< the s law_vec_ holds (reverse times are >= 0)
};

}  // namespace twinflow::spin
