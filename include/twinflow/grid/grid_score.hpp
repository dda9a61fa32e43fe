#pragma once
// ∇ log p of a density known as cell values on a grid (a PDE solution),
// evaluated at arbitrary points. Face-centred differences of log p on the
// staggered grid of each component, interpolated multilinearly: second order
// where p is smooth. Where p is tiny the logarithm is meaningless, so faces
// next to a cell with p < floor · max p, and points outside the box, get the
// score of the standard Gaussian, −x (the stationary law of the OU and
// kinetic processes; the relative score ∇log(p/γ) is 0 there). Not collective.
#include <vector>

#include "twinflow/grid/grid.hpp"

namespace twinflow {

class GridScore {
 public:
  /// `density` is the replicated natural-order field (C order, x0 slowest).
  GridScore(const Box& box, const std::vector<double>& density, double relative_floor);
  /// ∇ log p at x (box.dim entries).
  void evaluate(const double* x, double* s) const;

 private:
  Box box_;
  std::vector<std::vector<double>> faces_;  ///< per component: ∂_a log p on faces normal to a
};

}  // namespace twinflow
