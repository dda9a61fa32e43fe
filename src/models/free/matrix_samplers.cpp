#include "matrix_samplers.hpp"

#include <complex>
#define lapack_complex_float std::complex<float>
#define lapack_complex_double std::complex<double>
#include <lapacke.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"

namespace twinflow::free {
namespace {

/// Deepest halving of a Dyson step; past it the step is kept with its
/// eigenvalues relabelled in order.
constexpr int kMaxRefinement = 16;

void check_lapack(lapack_int info, const char* routine) {
  if (info != 0) throw RuntimeFailure(std::string("LAPACK ") + routine + " failed (info " + std::to_string(info) + ")");
}

bool strictly_increasing(const double* x, int n) {
  for (int i = 0; i + 1 < n; ++i)
    if (!(x[i + 1] > x[i])) return false;
  return true;
}

}  // namespace

MatrixStack::MatrixStack(int beta, int n, std::int64_t units)
    : beta_(beta), n_(n), data_(static_cast<std::size_t>(units * n * n * (beta == 2 ? 2 : 1)), 0.0) {}

void MatrixStack::set_diagonal(std::int64_t u, const std::vector<double>& d) {
  double* h = matrix(u);
  std::fill(h, h + stride(), 0.0);
  const int c = beta_ == 2 ? 2 : 1;
  for (int i = 0; i < n_; ++i) h[(static_cast<std::size_t>(i) * n_ + i) * c] = d[i];
}

void MatrixStack::wigner_step(std::int64_t u, double decay, double scale, const CounterRng& rng, std::uint64_t id,
                              std::uint64_t step) {
  const int n = n_;
  const int count = beta_ == 2 ? n * n : n + n * (n - 1) / 2;
  work_.resize(static_cast<std::size_t>(count));
  rng.normals(id, step, work_.data(), count);
  const double* z = work_.data();
  double* h = matrix(u);
  const double inv_n = 1.0 / n;
  if (beta_ == 2) {
    auto* a = reinterpret_cast<std::complex<double>*>(h);
    const double diag = scale * std::sqrt(inv_n), off = scale * std::sqrt(0.5 * inv_n);
    for (int j = 0; j < n; ++j) {
      a[j * n + j] = decay * a[j * n + j].real() + diag * *z++;
      for (int i = 0; i < j; ++i) {
        const std::complex<double> g(off * z[0], off * z[1]);
        z += 2;
        a[j * n + i] = decay * a[j * n + i] + g;
        a[i * n + j] = std::conj(a[j * n + i]);
      }
    }
  } else {
    const double diag = scale * std::sqrt(2 * inv_n), off = scale * std::sqrt(inv_n);
    for (int j = 0; j < n; ++j) {
      h[j * n + j] = decay * h[j * n + j] + diag * *z++;
      for (int i = 0; i < j; ++i) {
        h[j * n + i] = decay * h[j * n + i] + off * *z++;
        h[i * n + j] = h[j * n + i];
      }
    }
  }
}

void MatrixStack::eigenvalues(std::int64_t u, double* lambda) const {
  work_.assign(matrix(u), matrix(u) + stride());
  if (beta_ == 2)
    check_lapack(LAPACKE_zheevd(LAPACK_COL_MAJOR, 'N', 'U', n_, reinterpret_cast<std::complex<double>*>(work_.data()),
                                n_, lambda),
                 "zheevd");
  else
    check_lapack(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', n_, work_.data(), n_, lambda), "dsyevd");
}

void MatrixStack::eigensystem(std::int64_t u, double* lambda, std::vector<double>& vectors) const {
  vectors.assign(matrix(u), matrix(u) + stride());
  if (beta_ == 2)
    check_lapack(LAPACKE_zheevd(LAPACK_COL_MAJOR, 'V', 'U', n_,
                                reinterpret_cast<std::complex<double>*>(vectors.data()), n_, lambda),
                 "zheevd");
  else
    check_lapack(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', n_, vectors.data(), n_, lambda), "dsyevd");
}

void MatrixStack::compose(const std::vector<double>& vectors, const std::vector<double>& f, double weight,
                          double* into) const {
  const Eigen::Map<const Eigen::VectorXd> fd(f.data(), n_);
  if (beta_ == 2) {
    using M = Eigen::Matrix<std::complex<double>, Eigen::Dynamic, Eigen::Dynamic>;
    const Eigen::Map<const M> uu(reinterpret_cast<const std::complex<double>*>(vectors.data()), n_, n_);
    Eigen::Map<M> out(reinterpret_cast<std::complex<double>*>(into), n_, n_);
    out.noalias() += weight * (uu * fd.cast<std::complex<double>>().asDiagonal() * uu.adjoint());
  } else {
    const Eigen::Map<const Eigen::MatrixXd> uu(vectors.data(), n_, n_);
    Eigen::Map<Eigen::MatrixXd> out(into, n_, n_);
    out.noalias() += weight * (uu * fd.asDiagonal() * uu.transpose());
  }
}

std::vector<double> data_quantiles(const SpectralMixture& data, int n) {
  std::vector<double> q(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) q[i] = data.quantile((i + 0.5) / n);
  return q;
}

MatrixOuSampler::MatrixOuSampler(Ensemble units, const FreeOu& law, int beta, std::uint64_t seed, Stream stream)
    : ens_(std::move(units)), law_(law), stack_(beta, ens_.points_per_unit, ens_.count), rng_(seed, stream) {
  const std::vector<double> q = data_quantiles(law_.data(), ens_.points_per_unit);
  ens_.x.resize(static_cast<std::size_t>(ens_.points()));
  for (std::int64_t u = 0; u < ens_.count; ++u) {
    stack_.set_diagonal(u, q);
    std::copy(q.begin(), q.end(), ens_.x.begin() + u * ens_.points_per_unit);
  }
}

void MatrixOuSampler::advance_to(std::int64_t index, double t) {
  if (t <= time_) return;
  const double dt = t - time_, decay = law_.a(dt), scale = std::sqrt(law_.v(dt));
  for (std::int64_t u = 0; u < ens_.count; ++u) {
    const auto id = static_cast<std::uint64_t>(ens_.first_id + u);
    stack_.wigner_step(u, decay, scale, rng_, id, static_cast<std::uint64_t>(index));
    stack_.eigenvalues(u, ens_.x.data() + u * ens_.points_per_unit);
  }
  time_ = t;
}

void MatrixOuSampler::checkpoint(CheckpointArchive& a) {
  a.particles("eigenvalues", ens_, ens_.x, ens_.points_per_unit);
  a.particles("matrices", ens_, stack_.data(), stack_.stride());
  a.value("time", time_);
}

MatrixOuSampler reverse_start(Ensemble units, const FreeOu& law, int beta, std::uint64_t seed, double horizon) {
  MatrixOuSampler start(std::move(units), law, beta, seed, Stream::kReverseStart);
  start.advance_to(0, horizon);
  return start;
}

DysonSampler::DysonSampler(Ensemble units, const FreeOu& law, int beta, std::uint64_t seed,
                           std::int64_t steps_per_output)
    : ens_(std::move(units)), law_(law), beta_(beta), rng_(seed, kDysonStream), steps_per_output_(steps_per_output) {
  const std::vector<double> q = data_quantiles(law_.data(), ens_.points_per_unit);
  ens_.x.resize(static_cast<std::size_t>(ens_.points()));
  for (std::int64_t u = 0; u < ens_.count; ++u) std::copy(q.begin(), q.end(), ens_.x.begin() + u * ens_.points_per_unit);
}

void DysonSampler::step(double* lambda, double h, const double* dw, std::uint64_t id, std::uint64_t node, int depth) {
  const int n = ens_.points_per_unit;
  const double sigma = law_.sigma(), theta = law_.theta();
  const double noise = sigma * std::sqrt(2.0 / (beta_ * n)), repulsion = sigma * sigma / n;
  std::vector<double> trial(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    double r = 0;
    for (int j = 0; j < n; ++j)
      if (j != i) r += 1 / (lambda[i] - lambda[j]);
    trial[i] = lambda[i] + (repulsion * r - theta * lambda[i]) * h + noise * dw[i];
  }
  if (strictly_increasing(trial.data(), n)) {
    std::copy(trial.begin(), trial.end(), lambda);
    return;
  }
  if (depth >= kMaxRefinement) {
    // Two eigenvalues within the noise of a step 2^16 times shorter: the
    // drift and the noise depend on the set of eigenvalues only, so the
    // set is kept and relabelled in order (counted and reported). At β = 1
    // the gap of a close pair is a 2-dimensional Bessel process, which
    // comes arbitrarily close to 0.
    std::sort(trial.begin(), trial.end());
    std::copy(trial.begin(), trial.end(), lambda);
    ++relabelled_;
    return;
  }
  ++refinements_;
  // W over the first half given W over the step: mean dw/2, variance h/4.
  const int blocks = (n + 3) / 4;
  std::vector<double> first(static_cast<std::size_t>(n)), second(first.size());
  rng_.normals(id, static_cast<std::uint64_t>(done_), first.data(), n, (node + 1) * static_cast<std::uint64_t>(blocks));
  for (int i = 0; i < n; ++i) {
    first[i] = 0.5 * dw[i] + 0.5 * std::sqrt(h) * first[i];
    second[i] = dw[i] - first[i];
  }
  step(lambda, 0.5 * h, first.data(), id, 2 * node + 1, depth + 1);
  step(lambda, 0.5 * h, second.data(), id, 2 * node + 2, depth + 1);
}

void DysonSampler::advance_to(std::int64_t index, double t) {
  if (t <= time_ || index == 0) return;
  const int n = ens_.points_per_unit;
  const double h = (t - time_) / static_cast<double>(steps_per_output_);
  dw_.resize(static_cast<std::size_t>(n));
  MatrixStack first(beta_, n, 1);
  for (std::int64_t k = 0; k < steps_per_output_; ++k) {
    for (std::int64_t u = 0; u < ens_.count; ++u) {
      const auto id = static_cast<std::uint64_t>(ens_.first_id + u);
      double* lambda = ens_.x.data() + u * n;
      if (done_ == 0) {
        // The first step is the exact matrix transition: the drift is
        // singular at the coincident starting points of atoms.
        first.set_diagonal(0, std::vector<double>(lambda, lambda + n));
        first.wigner_step(0, law_.a(h), std::sqrt(law_.v(h)), rng_, id, 0);
        first.eigenvalues(0, lambda);
        continue;
      }
      rng_.normals(id, static_cast<std::uint64_t>(done_), dw_.data(), n, 0);
      for (double& w : dw_) w *= std::sqrt(h);
      step(lambda, h, dw_.data(), id, 0, 0);
    }
    ++done_;
  }
  time_ = t;
}

void DysonSampler::checkpoint(CheckpointArchive& a) {
  a.particles("eigenvalues", ens_, ens_.x, ens_.points_per_unit);
  a.value("substeps", done_);
  a.value("time", time_);
  std::int64_t counts[2] = {refinements_, relabelled_};
  a.rank_counts("refined_and_relabelled", counts, 2);
  refinements_ = counts[0], relabelled_ = counts[1];
}

void FreeScoreVelocity::evaluate(double t, const double* x, std::int64_t n, double* v) {
  for (std::int64_t p = 0; p < n; ++p) v[p] = -theta_ * x[p] + 0.5 * sigma_ * sigma_ * j_.at(t, 0, x + p);
}

ReverseMatrixSde::ReverseMatrixSde(Ensemble units, const FreeOu& law, int beta, std::uint64_t seed, double horizon,
                                   double span, std::int64_t steps, const FieldStore& store, const GridSpace& grid)
    : law_(law),
      stack_(beta, units.points_per_unit, units.count),
      rng_(seed, Stream::kReverse),
      horizon_(horizon),
      span_(span),
      steps_(steps),
      j_(store, grid, "J", 1) {
  MatrixOuSampler start = reverse_start(std::move(units), law, beta, seed, horizon);
  ens_ = start.ensemble();
  stack_.data() = start.matrices().data();
}

void ReverseMatrixSde::advance_to(std::int64_t step, double) {
  const int n = ens_.points_per_unit;
  const double h = span_ / static_cast<double>(steps_), theta = law_.theta(), sigma = law_.sigma();
  std::vector<double> lambda(static_cast<std::size_t>(n)), vectors, score(lambda.size());
  for (; done_ < step; ++done_) {
    const double t = horizon_ - static_cast<double>(done_) * h;
    j_.prepare({t});
    for (std::int64_t u = 0; u < ens_.count; ++u) {
      // Euler–Maruyama: Y ← (1 + θh) Y − σ² h J(Y) + σ √h G.
      stack_.eigensystem(u, lambda.data(), vectors);
      for (int i = 0; i < n; ++i) score[i] = j_.at(t, 0, &lambda[i]);
      double* y = stack_.matrix(u);
      for (int q = 0; q < stack_.stride(); ++q) y[q] *= 1 + theta * h;
      stack_.compose(vectors, score, -sigma * sigma * h, y);
      stack_.wigner_step(u, 1.0, sigma * std::sqrt(h), rng_, static_cast<std::uint64_t>(ens_.first_id + u),
                         static_cast<std::uint64_t>(done_));
    }
    eigenvalues_current_ = false;
  }
}

const Ensemble& ReverseMatrixSde::ensemble() const {
  if (!eigenvalues_current_) {
    for (std::int64_t u = 0; u < ens_.count; ++u) stack_.eigenvalues(u, ens_.x.data() + u * ens_.points_per_unit);
    eigenvalues_current_ = true;
  }
  return ens_;
}

void ReverseMatrixSde::checkpoint(CheckpointArchive& a) {
  ensemble();
  a.particles("eigenvalues", ens_, ens_.x, ens_.points_per_unit);
  a.particles("matrices", ens_, stack_.data(), stack_.stride());
  a.value("steps_done", done_);
}

}  // namespace twinflow::free
