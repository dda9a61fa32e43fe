#pragma once
// The particle side of the free family (docs/free.md (F7),
// (F8)): ensembles of N×N random matrices, real symmetric (β = 1) or
// Hermitian (β = 2), one matrix per unit (its N eigenvalues are the unit's
// N points, never split across ranks). Randomness is keyed by (seed,
// stream, unit id, step), so a unit's history does not depend on the rank
// count. Eigenvalues come from LAPACK (dsyevd, zheevd).
//
//   MatrixOuSampler   H_{t+Δ} = e^{−θΔ} H_t + σ √((1 − e^{−2θΔ})/(2θ)) G,
//                     exact in law between outputs, from H_0 = diag of the
//                     data's quantiles at (i − ½)/N;
//   DysonSampler      the Dyson SDE of the eigenvalues, Euler–Maruyama in
//                     free.dyson_steps steps per output interval; a step
//                     that would reorder the eigenvalues is taken again as
//                     two half steps with its Brownian increment split by a
//                     Brownian bridge (so the path stays the same path),
//                     down to 2^−16 of a step, past which the eigenvalues
//                     are relabelled in order (counted);
//   ReverseMatrixSde  dY = [θY − σ² J_{T−s}(Y)] ds + σ dS at matrix level,
//                     J applied through the eigen-decomposition, J read
//                     from the forward PDE (the field store).
// Local computation, except the ReverseMatrixSde's preparing of J (collective).
#include <cstdint>
#include <memory>
#include <vector>

#include "free_law.hpp"
#include "twinflow/models/experiment.hpp"
#include "twinflow/rng/counter_rng.hpp"
#include "twinflow/run/flow_sampler.hpp"

namespace twinflow::free {

/// Streams of the family.
constexpr Stream kMatrixStream = Stream::kFamily;
constexpr Stream kDysonStream = static_cast<Stream>(static_cast<std::uint64_t>(Stream::kFamily) + 1);

/// The matrices of the owned units: β = 1 real, β = 2 complex as (re, im)
/// pairs, column-major, full storage.
class MatrixStack {
 public:
  MatrixStack(int beta, int n, std::int64_t units);
  int beta() const { return beta_; }
  int n() const { return n_; }
  /// Doubles per matrix.
  int stride() const { return n_ * n_ * (beta_ == 2 ? 2 : 1); }
  double* matrix(std::int64_t u) { return data_.data() + u * stride(); }
  const double* matrix(std::int64_t u) const { return data_.data() + u * stride(); }
  std::vector<double>& data() { return data_; }
  const std::vector<double>& data() const { return data_; }
  /// Sets matrix u to diag(d).
  void set_diagonal(std::int64_t u, const std::vector<double>& d);
  /// H ← decay H + scale G, G from GUE/GOE (off-diagonal variance 1/N,
  /// diagonal 2/(βN)) drawn from (id, step).
  void wigner_step(std::int64_t u, double decay, double scale, const CounterRng& rng, std::uint64_t id,
                   std::uint64_t step);
  /// Eigenvalues of matrix u, ascending, into lambda (LAPACK).
  void eigenvalues(std::int64_t u, double* lambda) const;
  /// Eigenvalues and eigenvectors (column-major, complex as pairs for β = 2).
  void eigensystem(std::int64_t u, double* lambda, std::vector<double>& vectors) const;
  /// into += weight · U diag(f) U* (U as eigensystem gives it).
  void compose(const std::vector<double>& vectors, const std::vector<double>& f, double weight, double* into) const;

 private:
  int beta_, n_;
  std::vector<double> data_;
  mutable std::vector<double> work_;
};

/// The data's quantiles at (i − ½)/N, i = 1..N: H_0's spectrum.
std::vector<double> data_quantiles(const SpectralMixture& data, int n);

class MatrixOuSampler : public ParticleSampler {
 public:
  MatrixOuSampler(Ensemble units, const FreeOu& law, int beta, std::uint64_t seed,
                  Stream stream = kMatrixStream);
  /// Jumps to time t with the draw of step `index`.
  void advance_to(std::int64_t index, double t) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;
  const MatrixStack& matrices() const { return stack_; }
  double time() const { return time_; }

 private:
  Ensemble ens_;
  FreeOu law_;
  MatrixStack stack_;
  CounterRng rng_;
  double time_ = 0;
};

class DysonSampler : public ParticleSampler {
 public:
  /// Steps of each output interval (times[j−1], times[j]].
  DysonSampler(Ensemble units, const FreeOu& law, int beta, std::uint64_t seed, std::int64_t steps_per_output);
  void advance_to(std::int64_t index, double t) override;
  const Ensemble& ensemble() const override { return ens_; }
  void checkpoint(CheckpointArchive& archive) override;
  /// Steps taken again as two halves, and steps relabelled at the deepest
  /// halving (over all owned units).
  std::int64_t refinements() const { return refinements_; }
  std::int64_t relabelled() const { return relabelled_; }

 private:
  // One Euler–Maruyama step of unit u's eigenvalues over h with Brownian
  // increment dw (per eigenvalue); refines itself while it would reorder.
  void step(double* lambda, double h, const double* dw, std::uint64_t id, std::uint64_t node, int depth);
  Ensemble ens_;
  FreeOu law_;
  int beta_;
  CounterRng rng_;
  std::int64_t steps_per_output_, done_ = 0;  ///< substeps taken (the RNG step)
  double time_ = 0;
  std::int64_t refinements_ = 0, relabelled_ = 0;
  std::vector<double> dw_;
};

/// v(t, x) = −θx + (σ²/2) J_t(x) with J from the store ("J").
class FreeScoreVelocity : public VelocityModel {
 public:
  FreeScoreVelocity(const FieldStore& store, const GridSpace& grid, double theta, double sigma)
      : j_(store, grid, "J", 1), theta_(theta), sigma_(sigma) {}
  void prepare(const std::vector<double>& times) override { j_.prepare(times); }
  void evaluate(double t, const double* x, std::int64_t n, double* v) override;

 private:
  StoredField j_;
  double theta_, sigma_;
};

class ReverseMatrixSde : public ParticleSampler {
 public:
  /// Starts from H_T (one exact jump from H_0); N steps over [0, span].
  ReverseMatrixSde(Ensemble units, const FreeOu& law, int beta, std::uint64_t seed, double horizon, double span,
                   std::int64_t steps, const FieldStore& store, const GridSpace& grid);
  void advance_to(std::int64_t step, double s) override;
  /// The eigenvalues of the current matrices (computed when first asked
  /// for after a step: only outputs need them).
  const Ensemble& ensemble() const override;
  void checkpoint(CheckpointArchive& archive) override;

 private:
  mutable Ensemble ens_;
  mutable bool eigenvalues_current_ = true;
  FreeOu law_;
  MatrixStack stack_;
  CounterRng rng_;
  double horizon_, span_;
  std::int64_t steps_, done_ = 0;
  StoredField j_;
};

/// The eigenvalues of H_T for the reverse samplers' start: H_0 jumped to T
/// in one exact step (stream kReverseStart).
MatrixOuSampler reverse_start(Ensemble units, const FreeOu& law, int beta, std::uint64_t seed, double horizon);

}  // namespace twinflow::free
