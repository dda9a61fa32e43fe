#include "fokker_planck.hpp"

#include "twinflow/pde/flux_operator.hpp"

namespace twinflow::ou {

// ∇·(x p) + Δp = ∇·(∇p + β p) with β_a = x_a at the face.
Mat assemble_fokker_planck(const Grid& grid) {
  return assemble_drift_diffusion(grid, [](int axis, const double* face) { return face[axis]; });
}

}  // namespace twinflow::ou
