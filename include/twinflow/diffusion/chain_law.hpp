#pragma once
// The law of a fixed-step reverse chain computed on a grid with no sampling
// (docs/ou.md (O8) and docs/kinetic.md (K7)). The density is held as
// point values at the cell centres of a 1-D or 2-D box, i.e. as the
// trigonometric polynomial through them on the periodic box. One step,
//   p'(y') = ∫ p(y) φ_Q(y' − T(y)) dy,   T = the scheme's deterministic map,
// is computed in Fourier space: the sum Σ_j p(y_j) ΔV e^{−ik·T(y_j)} (the
// trapezoid rule, spectrally accurate for smooth p) is a type-1 non-uniform
// FFT, done by Gaussian gridding onto a twice finer grid (Greengard–Lee) and
// an FFTW r2c transform; multiplying by the noise's characteristic function
// e^{−½kᵀQk} convolves with N(0, Q) exactly, also for a degenerate Q (the
// kinetic step has almost no noise in x); a c2r transform returns the point
// values. Errors are spectrally small as long as the law is resolved by the
// grid and stays inside the box; mass pushed out of the box is dropped and
// counted (lost_mass), and spectral_tail() says how well the grid resolves it.
//
// The work of spreading is split over the ranks (by source point); the FFTs
// are repeated on every rank, so every rank holds the whole law. All member
// functions are collective over the communicator.
#include <fftw3.h>
#include <mpi.h>

#include <complex>
#include <vector>

#include "twinflow/diffusion/fixed_step.hpp"
#include "twinflow/grid/grid.hpp"

namespace twinflow {

class CheckpointArchive;

class ChainLaw {
 public:
  /// box.dim must be 1 or 2 with an even number of cells per axis
  /// (std::invalid_argument otherwise; experiments check it as UsageError).
  ChainLaw(MPI_Comm comm, const Box& box);
  ~ChainLaw();
  ChainLaw(const ChainLaw&) = delete;
  ChainLaw& operator=(const ChainLaw&) = delete;

  /// The density of Y_0 ~ γ^n.
  void set_standard_normal();
  /// Applies step k of the scheme: push forward through its map, then
  /// convolve with its noise.
  void step(const FixedStepScheme& scheme, ScoreField& score, std::int64_t k);
  /// Saves or restores the law between steps (its point values and the
  /// mass lost so far).
  void checkpoint(CheckpointArchive& archive);

  /// Point values at the cell centres, C order (replicated on every rank).
  const std::vector<double>& density() const { return density_; }
  /// Integrals of the law over every cell (exact for its trigonometric
  /// interpolant), C order.
  std::vector<double> cell_masses() const;
  /// Total mass outside the box: γ's tails at the start plus what the maps
  /// have pushed out since.
  double lost_mass() const { return lost_; }
  /// Largest |p̂(k)| / p̂(0) over the outer quarter of the resolved modes: the
  /// size of what the grid cuts off.
  double spectral_tail() const;

 private:
  void spread(const double* point, double weight);
  void inverse_transform(const std::vector<std::complex<double>>& spectrum, std::vector<double>& out) const;
  MPI_Comm comm_;
  Box box_;
  int n_;
  std::array<std::int64_t, 2> cells_{1, 1}, fine_{1, 1};
  std::array<double, 2> spacing_{1, 1}, fine_spacing_{1, 1}, width_{0, 0};
  std::vector<double> density_, fine_grid_;
  std::vector<std::complex<double>> fine_spectrum_, spectrum_;
  fftw_plan forward_ = nullptr;
  mutable fftw_plan backward_ = nullptr;
  mutable std::vector<std::complex<double>> backward_in_;
  mutable std::vector<double> backward_out_;
  double lost_ = 0;
};

}  // namespace twinflow
