#pragma once
// Full-batch minimisation of a model fitted to data spread over the ranks,
// with PETSc TAO. The objective is collective and returns the same bits on
// every rank (its sums are exact, core/exact_sum.hpp), so every rank's TAO
// takes the same steps and the result does not depend on the rank count.
// Each rank runs its own TAO on PETSC_COMM_SELF over the full parameter
// vector; options -<prefix>tao_* reach it. An exception inside the
// objective is kept (the objective agrees failures across the ranks
// itself, as a collective must) and raised again on every rank after the
// solve.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace twinflow {

struct MinimiseSettings {
  std::string tao_type;         ///< the default method (TAOBLMVM, TAOLMVM, ...)
  std::string options_prefix;   ///< "spin_learn_" for -spin_learn_tao_*
  std::int64_t max_iterations = 100;
  double gradient_tolerance = 1e-7;  ///< absolute, on the gradient norm
  std::optional<double> bound;  ///< |x_i| <= bound (a bound-constrained method)
};

struct MinimiseResult {
  std::int64_t iterations = 0, evaluations = 0;
  double value = 0;
  std::string reason;  ///< TAO's converged reason
};

/// Collective over comm (through the objective). f(x, g) returns the
/// objective at x and writes its gradient into g (resized to x.size()).
/// Minimises from `x` in place.
MinimiseResult minimise(MPI_Comm comm, std::vector<double>& x,
                        const std::function<double(const std::vector<double>& x, std::vector<double>& g)>& f,
                        const MinimiseSettings& settings);

}  // namespace twinflow
