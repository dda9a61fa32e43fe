#pragma once
// Samples against a law on the grid-free sample space (any dimension):
// moments with their standard errors, the mean log-likelihood under the
// law's density, and the sliced Wasserstein-1 distance to exact samples of
// the law with its noise level for the sample size.
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "twinflow/math/gaussian_mixture.hpp"
#include "twinflow/run/ensemble.hpp"

namespace twinflow {

/// A law with closed-form moments that can be sampled exactly (and may have
/// a density). Not collective.
class ReferenceLaw {
 public:
  virtual ~ReferenceLaw() = default;
  virtual int dim() const = 0;
  virtual std::vector<double> mean() const = 0;
  /// dim × dim, row-major.
  virtual std::vector<double> covariance() const = 0;
  virtual bool has_density() const = 0;
  virtual double log_density(const double* x) const = 0;
  /// Exact samples for the units of `layout` (one point each, unit-major),
  /// a function of (seed, unit id) only.
  virtual void sample(const Ensemble& layout, std::uint64_t seed, std::vector<double>& x) const = 0;
};

/// A Gaussian mixture as a reference law.
class MixtureLaw : public ReferenceLaw {
 public:
  explicit MixtureLaw(GaussianMixture mixture);
  int dim() const override { return mixture_.dim(); }
  std::vector<double> mean() const override;
  std::vector<double> covariance() const override;
  bool has_density() const override { return density_ != nullptr; }
  double log_density(const double* x) const override { return density_->log_density(x); }
  void sample(const Ensemble& layout, std::uint64_t seed, std::vector<double>& x) const override;

 private:
  GaussianMixture mixture_;
  std::unique_ptr<MixtureScore> density_;
};

struct SampleComparison {
  double mean_error = 0;        ///< |m̂ − m| (Euclidean)
  double mean_max_z = 0;        ///< max_k |m̂_k − m_k| / sqrt(C_kk / N)
  double covariance_error = 0;  ///< |Ĉ − C| (Frobenius), Ĉ centred at the law's mean
  double covariance_max_z = 0;  ///< max_{k<=l} |Ĉ_kl − C_kl| / sqrt((C_kk C_ll + C_kl²) / N) (Gaussian s.e.)
  double loglik = 0, loglik_reference = 0, loglik_se = 0;  ///< mean log density of the samples and of exact ones
  double sliced_w1 = 0, sliced_w1_noise = 0;  ///< mean over directions of W1 to exact samples, and its noise level
};

/// Directions of the sliced distance.
inline constexpr int kSlicedDirections = 16;

struct LogLikelihood {
  double mean = 0, reference = 0;  ///< mean log density of the ensemble's points and of the reference points
  double standard_error = 0;       ///< of their difference
};
/// Collective over comm. The law's mean log density at the ensemble's
/// points (one per unit) and at `reference`, points of the same layout.
/// The law must have a density.
LogLikelihood mean_log_likelihood(MPI_Comm comm, const Ensemble& e, const std::vector<double>& reference,
                                  const ReferenceLaw& law);

struct SlicedDistance {
  double w1 = 0;     ///< mean over the directions of the projections' W1
  double noise = 0;  ///< its expectation for two independent samples of this size from one law
};
/// Collective over comm. The sliced W1 distance between the ensemble's
/// points (one per unit) and `reference`, points of the same layout, over
/// kSlicedDirections fixed directions (the same in every run). Counts are
/// summed as integers, so the result does not depend on the rank count.
SlicedDistance sliced_w1(MPI_Comm comm, const Ensemble& e, const std::vector<double>& reference);

/// Collective over comm. Compares the ensemble's points (one per unit) with
/// the law; exact samples are drawn for the same unit ids from `seed`. The
/// log-likelihood entries are NaN when the law has no density.
SampleComparison compare_samples(MPI_Comm comm, const Ensemble& e, const ReferenceLaw& law, std::uint64_t seed);

}  // namespace twinflow
