#include "twinflow/diffusion/sampler_law.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <sstream>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"

namespace twinflow {
namespace {

// Centres of every cell of a box (up to 3-D), C order.
template <class F>
void for_each_centre(const Box& box, F&& f) {
  double x[3] = {0, 0, 0};
  for (std::int64_t i = 0; i < box.cells[0]; ++i)
    for (std::int64_t j = 0; j < (box.dim > 1 ? box.cells[1] : 1); ++j)
      for (std::int64_t k = 0; k < (box.dim > 2 ? box.cells[2] : 1); ++k) {
        x[0] = box.centre(0, i);
        if (box.dim > 1) x[1] = box.centre(1, j);
        if (box.dim > 2) x[2] = box.centre(2, k);
        f(x);
      }
}

// ∫ μ log(μ/q) and ∫ |μ − q| by the trapezoid rule, q given at the same
// points; points where μ underflows contribute nothing.
void kl_and_l1(const std::vector<double>& mu, const std::vector<double>& q, double volume, double& kl, double& l1) {
  kl = l1 = 0;
  for (std::size_t i = 0; i < mu.size(); ++i) {
    l1 += std::abs(mu[i] - q[i]) * volume;
    if (mu[i] > 1e-300) kl += mu[i] * std::log(mu[i] / std::max(q[i], 1e-300)) * volume;
  }
}

std::vector<double> density_values(const GaussianMixture& law, const Box& box) {
  const MixtureScore m(law);
  std::vector<double> v;
  for_each_centre(box, [&](const double* x) { v.push_back(std::exp(m.log_density(x))); });
  return v;
}

Box first_axis(const Box& box) {
  Box b = box;
  b.dim = 1;
  return b;
}

}  // namespace

RelativeToGaussian relative_to_standard_normal(const GaussianMixture& mu, const Box& box) {
  const MixtureScore m(mu);
  const int n = mu.dim();
  const double volume = box.cell_volume(), log_norm = -0.5 * n * std::log(2 * std::numbers::pi);
  RelativeToGaussian r;
  double s[3];
  for_each_centre(box, [&](const double* x) {
    const double log_mu = m.log_density(x);
    const double p = std::exp(log_mu);
    if (p < 1e-300) return;
    m.score(x, s);
    double r2 = 0, g2 = 0;
    for (int a = 0; a < n; ++a) {
      r2 += x[a] * x[a];
      g2 += (s[a] + x[a]) * (s[a] + x[a]);
    }
    r.kl += p * (log_mu - (log_norm - 0.5 * r2)) * volume;
    r.fisher_information += p * g2 * volume;
  });
  return r;
}

SamplerLawReport::SamplerLawReport(Setup setup, const Box& box) : setup_(std::move(setup)), box_(box) {
  // Bins of equal probability under the reference marginal of each axis,
  // with edges moved to the nearest cell face: 32 bins in 1-D, 10 × 10 in
  // 2-D (few enough that the bias correction below stays small against the
  // standard error for N of 1e5 and more).
  const int bins = box.dim == 1 ? 32 : 10;
  for (int a = 0; a < box.dim; ++a) {
    std::vector<std::int64_t> e{0};
    for (int j = 1; j < bins; ++j) {
      double lo = box.lower[a], hi = box.upper[a];
      for (int it = 0; it < 100; ++it) {
        const double mid = 0.5 * (lo + hi);
        (setup_.reference.marginal_cdf(a, mid) < static_cast<double>(j) / bins ? lo : hi) = mid;
      }
      const auto face = std::clamp<std::int64_t>(std::llround((lo - box.lower[a]) / box.spacing(a)), 1,
                                                 box.cells[a] - 1);
      if (face > e.back()) e.push_back(face);
    }
    e.push_back(box.cells[a]);
    edges_.push_back(std::move(e));
  }
}

std::size_t SamplerLawReport::bin_of(const double* x) const {
  std::size_t bin = 0;
  for (int a = 0; a < box_.dim; ++a) {
    const double f = (x[a] - box_.lower[a]) / box_.spacing(a);
    const auto& e = edges_[a];
    if (!(f >= 0) || f >= static_cast<double>(e.back())) return static_cast<std::size_t>(-1);
    const auto it = std::upper_bound(e.begin(), e.end(), f,
                                     [](double v, std::int64_t edge) { return v < static_cast<double>(edge); });
    bin = bin * (e.size() - 1) + static_cast<std::size_t>(it - e.begin() - 1);
  }
  return bin;
}

void SamplerLawReport::count_particles(MPI_Comm comm, const Ensemble& ensemble) {
  std::size_t bins = 1;
  for (const auto& e : edges_) bins *= e.size() - 1;
  particle_counts_.assign(bins, 0.0);
  for (std::int64_t p = 0; p < ensemble.count; ++p) {
    const std::size_t b = bin_of(&ensemble.x[p * ensemble.dim]);
    if (b != static_cast<std::size_t>(-1)) particle_counts_[b] += 1;
  }
  sum_over_ranks(comm, particle_counts_.data(), static_cast<int>(bins));
  particle_total_ = static_cast<double>(ensemble.total);
}

void SamplerLawReport::checkpoint(CheckpointArchive& a) {
  a.replicated("particle_counts", particle_counts_);
  a.value("particle_total", particle_total_);
}

SamplerLawStage::SamplerLawStage(MPI_Comm comm, const Box& box, const FixedStepScheme& scheme,
                                 std::shared_ptr<ScoreField> score, SamplerLawReport& report, std::string& printed)
    : comm_(comm), box_(box), scheme_(scheme), score_(std::move(score)), report_(report), printed_(printed) {}

void SamplerLawStage::begin(StageContext&) {
  law_ = std::make_unique<ChainLaw>(comm_, box_);
  law_->set_standard_normal();
}

bool SamplerLawStage::run(StageContext& ctx) {
  // No boundary after the last step: the report needs the law's spectrum,
  // which is not kept in checkpoints.
  while (done_ < scheme_.steps()) {
    law_->step(scheme_, *score_, done_);
    ++done_;
    if (done_ < scheme_.steps() && ctx.boundary(clock_now())) return false;
  }
  auto io = ctx.timer().scope("io");
  printed_ = report_.write(*law_, scheme_, ctx.out());
  return true;
}

void SamplerLawStage::checkpoint(CheckpointArchive& a) {
  a.value("steps_done", done_);
  law_->checkpoint(a);
}

std::string SamplerLawReport::write(const ChainLaw& law, const FixedStepScheme& scheme, OutputFile& out) const {
  const double horizon = scheme.step() * static_cast<double>(scheme.steps());
  const std::vector<double>& q = law.density();
  const double volume = box_.cell_volume();
  double kl = 0, l1 = 0;
  kl_and_l1(density_values(setup_.reference, box_), q, volume, kl, l1);

  // The data coordinates alone (kinetic: the x-marginal, summing over v).
  const int d = setup_.data.dim();
  std::vector<double> x_marginal;
  double kl_x = NAN, l1_x = NAN;
  if (d < box_.dim) {
    const std::int64_t nx = box_.cells[0], nv = box_.cells[1];
    x_marginal.assign(static_cast<std::size_t>(nx), 0.0);
    for (std::int64_t i = 0; i < nx; ++i)
      for (std::int64_t j = 0; j < nv; ++j) x_marginal[i] += q[i * nv + j] * box_.spacing(1);
    kl_and_l1(density_values(setup_.data, first_axis(box_)), x_marginal, box_.spacing(0), kl_x, l1_x);
  }

  double kl_affine = NAN;
  if (setup_.gaussian_marginal) {
    const auto target = setup_.gaussian_marginal(0.0);
    kl_affine = gaussian_kl(target, scheme.affine_law(setup_.gaussian_marginal));
  }

  // Binned laws on the partition: the reference's bin probabilities, the
  // grid law's (exact cell integrals), and the particles' frequencies.
  std::size_t nbins = 1;
  for (const auto& e : edges_) nbins *= e.size() - 1;
  std::vector<double> ref_bins(nbins, 0.0), law_bins(nbins, 0.0);
  const std::vector<double> masses = law.cell_masses();
  for (std::int64_t c = 0; c < box_.total_cells(); ++c) {
    double x[2];
    const std::int64_t i = box_.dim == 2 ? c / box_.cells[1] : c;
    x[0] = box_.centre(0, i);
    if (box_.dim == 2) x[1] = box_.centre(1, c % box_.cells[1]);
    law_bins[bin_of(x)] += masses[c];
  }
  for (std::size_t b = 0; b < nbins; ++b) {
    double lo[2], hi[2];
    std::size_t rest = b;
    for (int a = box_.dim - 1; a >= 0; --a) {
      const auto& e = edges_[a];
      const std::size_t k = rest % (e.size() - 1);
      rest /= e.size() - 1;
      lo[a] = box_.lower[a] + static_cast<double>(e[k]) * box_.spacing(a);
      hi[a] = box_.lower[a] + static_cast<double>(e[k + 1]) * box_.spacing(a);
    }
    ref_bins[b] = setup_.reference.box_probability(lo, hi);
  }
  double binned_kl = 0;
  for (std::size_t b = 0; b < nbins; ++b) binned_kl += ref_bins[b] * std::log(ref_bins[b] / law_bins[b]);
  double particle_kl = NAN, particle_se = NAN;
  if (particle_total_ > 0) {
    // Plug-in estimate with the bias correction E log q̂ ≈ log q −
    // (1 − q)/(2 N q). Its variance has the linear (delta-method) term of the
    // multinomial frequencies, (Σ t²/q − (Σ t)²)/N, and the quadratic term
    // Σ t (q̂ − q)²/(2q²), of variance Σ t²/(2 N² q²), which matters when
    // KL is small (t ≈ q makes the linear term vanish).
    const double n = particle_total_;
    double sum_t = 0, chi = 0, quadratic = 0;
    particle_kl = 0;
    for (std::size_t b = 0; b < nbins; ++b) {
      const double t = ref_bins[b], qh = particle_counts_[b] / n;
      particle_kl += t * std::log(t / qh) - t * (1 - qh) / (2 * n * qh);
      sum_t += t;
      chi += t * t / qh;
      quadratic += t * t / (2 * n * n * qh * qh);
    }
    particle_se = std::sqrt(std::max(chi - sum_t * sum_t, 0.0) / n + quadratic);
  }

  // /sampler_law
  std::vector<std::int64_t> shape;
  for (int a = 0; a < box_.dim; ++a) shape.push_back(box_.cells[a]);
  const std::string g = "/sampler_law/";
  out.write_array(g + "density", shape, q);
  out.write_vector(g + "kl", {kl});
  out.write_vector(g + "l1", {l1});
  out.write_vector(g + "bound", {setup_.bound});
  out.write_vector(g + "binned_kl", {binned_kl});
  if (!x_marginal.empty()) {
    out.write_vector(g + "x_marginal", x_marginal);
    out.write_vector(g + "kl_x", {kl_x});
    out.write_vector(g + "l1_x", {l1_x});
  }
  if (setup_.gaussian_marginal) out.write_vector(g + "kl_affine", {kl_affine});
  if (particle_total_ > 0) {
    out.write_vector(g + "particle_binned_kl", {particle_kl});
    out.write_vector(g + "particle_binned_kl_se", {particle_se});
  }
  const std::string grp = "/sampler_law";
  out.attribute(grp, "family", setup_.family);
  out.attribute(grp, "scheme", scheme_name(scheme.scheme()));
  out.attribute(grp, "target", setup_.target);
  out.attribute(grp, "steps", scheme.steps());
  out.attribute(grp, "h", scheme.step());
  out.attribute(grp, "horizon", horizon);
  out.attribute(grp, "fisher_information", setup_.fisher_information);
  out.attribute(grp, "bound_formula", setup_.bound_formula);
  out.attribute(grp, "confidence_z", kConfidenceZ);
  out.attribute(grp, "lost_mass", law.lost_mass());
  out.attribute(grp, "spectral_tail", law.spectral_tail());
  out.attribute(grp, "representation", std::string("point values at the cell centres"));
  out.attribute(grp, "bins", static_cast<std::int64_t>(nbins));

  std::ostringstream os;
  char line[256];
  os << "\nSampler law (" << scheme_name(scheme.scheme()) << ", N = " << scheme.steps() << ", h = " << scheme.step()
     << "): exact law of Y_N on the grid, no sampling\n";
  std::snprintf(line, sizeof line, "  KL(data | law Y_N) %.6e   L1 %.3e   bound %.6e  [%s]\n", kl, l1, setup_.bound,
                setup_.bound_formula.c_str());
  os << line;
  if (!x_marginal.empty()) {
    std::snprintf(line, sizeof line, "  x-marginal: KL %.6e   L1 %.3e\n", kl_x, l1_x);
    os << line;
  }
  if (setup_.gaussian_marginal) {
    std::snprintf(line, sizeof line, "  Gaussian affine recursion KL %.9e   relative difference %.2e\n", kl_affine,
                  std::abs(kl - kl_affine) / kl_affine);
    os << line;
  }
  std::snprintf(line, sizeof line, "  binned (%zu bins): grid law KL %.4e", nbins, binned_kl);
  os << line;
  if (particle_total_ > 0) {
    std::snprintf(line, sizeof line, "   particles %.4e ± %.1e (%.1f s.e.)", particle_kl, particle_se,
                  std::abs(particle_kl - binned_kl) / particle_se);
    os << line;
  }
  std::snprintf(line, sizeof line, "\n  mass lost at the box faces %.1e, spectral tail %.1e\n", law.lost_mass(),
                law.spectral_tail());
  os << line;
  return os.str();
}

}  // namespace twinflow
