#pragma once
// PDE side of the `kac` family: the telegrapher's equation as the system of
// 2^d velocity populations of the product Kac process (docs/kac.md (C2)),
//   ∂_t p_σ + c σ·∇p_σ = a Σ_i (p_{σ with σ_i flipped} − p_σ),  σ ∈ {±1}^d,
// one DMDA dof per population, zero-flux walls. Transport is explicit
// (finite volumes, MUSCL reconstruction with the monotonised-central
// limiter, so fronts stay a few cells wide and p stays non-negative);
// relaxation is implicit and cell-local, solved exactly by point-block
// Jacobi. The default scheme is PETSc's ARKIMEX PRSSP2 (the SSP IMEX scheme
// of Pareschi and Russo for hyperbolic systems with relaxation); -ts_*
// options override it. Mass is conserved to round-off: fluxes telescope and
// relaxation moves mass only between populations of one cell.
// All member functions are collective.
#include <memory>

#include "twinflow/pde/ts_evolution.hpp"

namespace twinflow::kac {

class TelegrapherEvolution : public TsEvolution {
 public:
  /// `u0`: the initial density as this rank's owned block of `grid` (C
  /// order), split evenly over the populations. `dt` is the nominal step;
  /// it is lowered to keep the Courant number c dt Σ_i 1/h_i at most
  /// max_courant().
  TelegrapherEvolution(const Grid& grid, std::unique_ptr<Grid> populations, double rate, double speed,
                       const std::vector<double>& u0, double dt);
  ~TelegrapherEvolution() override;

  static constexpr double max_courant() { return 0.5; }

  /// u = Σ_σ p_σ (dof 1 on the grid given to the constructor).
  Vec density() const override;
  /// "flux" j = c Σ_σ σ p_σ and "velocity" v = j/u (0 where u = 0), d
  /// components each.
  std::vector<Field> extra_fields() const override;
  void extra_field(const std::string& name, std::vector<double>& owned) const override;

 private:
  static PetscErrorCode transport(TS ts, PetscReal t, Vec p, Vec f, void* ctx);
  static PetscErrorCode ifunction(TS ts, PetscReal t, Vec p, Vec p_t, Vec f, void* ctx);
  static PetscErrorCode ijacobian(TS ts, PetscReal t, Vec p, Vec p_t, PetscReal shift, Mat J, Mat P, void* ctx);
  /// f = R p, the switching term of every cell.
  void relaxation(const PetscScalar* p, PetscScalar* f, PetscInt cells) const;
  const Grid& grid_;
  std::unique_ptr<Grid> populations_;
  double rate_, speed_;
  int dim_, npop_;
  Mat J_ = nullptr;
  double shift_ = -1;
  Vec density_ = nullptr;
};

}  // namespace twinflow::kac
