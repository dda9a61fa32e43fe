#pragma once
// Distances between a reference density p (PDE or closed form) and a sample
// density q (particle histogram) on the same cells, both given as this
// rank's owned block (C order). Cell probabilities are P_i = p_i |cell|,
// Q_i = q_i |cell|.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "twinflow/grid/grid.hpp"

namespace twinflow {

struct Comparison {
  double l1 = 0;           ///< Σ |P_i − Q_i|
  double hellinger = 0;    ///< sqrt(½ Σ (√P_i − √Q_i)²)
  double kl = 0;           ///< KL(Q | P) of Q, P renormalised to unit mass in the box, sample first
  double noise_floor = 0;  ///< E L1 of an N-sample histogram of P: Σ sqrt(2 P_i (1 − P_i) / (π N))
  double w1 = 0;           ///< W1 from CDFs (cells on a line only; NaN otherwise)
  double mass_p = 0, mass_q = 0;
  /// With atoms marked: the same sums over the unmarked cells (the
  /// continuous part) and the masses of the marked ones (NaN otherwise).
  double continuous_l1 = 0, continuous_noise_floor = 0, atom_mass_p = 0, atom_mass_q = 0;
};

/// Collective over comm. Cells of measure `cell_measure`; `line`: the blocks
/// are consecutive intervals of a line in rank order (W1 is computed).
/// `samples` is the count N behind q (for the noise floor; 0 leaves it 0).
/// `atoms`, when given, marks the owned cells whose mass is compared apart.
Comparison compare(MPI_Comm comm, double cell_measure, bool line, const std::vector<double>& p,
                   const std::vector<double>& q, std::int64_t samples,
                   const std::vector<unsigned char>* atoms = nullptr);

/// The same on a box grid.
inline Comparison compare(MPI_Comm comm, const Box& box, const std::vector<double>& p, const std::vector<double>& q,
                          std::int64_t samples) {
  return compare(comm, box.cell_volume(), box.dim == 1, p, q, samples);
}

/// Collective over comm. W1 along one axis between the empirical law of
/// particles (n local points, point-major with `dim` entries, `total` in
/// all) and a law with marginal CDF `cdf`: ∫ |F_N − F| dx over [lower,
/// upper] on `bins` equal bins, so its resolution is (upper − lower)/bins,
/// independent of the PDE grid. Mass outside [lower, upper] is not counted.
double w1_to_cdf(MPI_Comm comm, const double* x, std::int64_t n, int dim, int axis, std::int64_t total,
                 const std::function<double(double)>& cdf, double lower, double upper, int bins);

/// The expected W1 of N exact samples against their law (the statistical
/// noise floor of w1_to_cdf): ∫ sqrt(2 F (1 − F) / (π N)) dx on the same bins.
double w1_noise_floor(const std::function<double(double)>& cdf, double lower, double upper, int bins,
                      std::int64_t samples);

}  // namespace twinflow
