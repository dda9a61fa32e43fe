// The `free` family: free-probability diffusion of spectral measures
// (docs/free.md (F1)–(F9)), on the density-twin layout:
//   pde      the free Fokker–Planck equation, publishing J = 2πHρ at every
//            time a reverse sampler reads it;
//   forward  random matrices (matrix-ou exact in law, or the Dyson SDE);
//   reverse  the reverse flow of eigenvalues, or the reverse free SDE at
//            matrix level, from the law at T down to t_min;
// and two stages of its own: `matrix_ou` (with the Dyson sampler: the exact
// matrices beside it, for the twin of the two) and `jko` (the minimising
// movement scheme of the free energy, against the PDE).
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include "free_fokker_planck.hpp"
#include "free_law.hpp"
#include "jko.hpp"
#include "matrix_samplers.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"
#include "twinflow/run/density_twin.hpp"
#include "twinflow/run/flow_sampler.hpp"

namespace twinflow::free {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
/// PETSc TSRK scheme of the reverse flow.
constexpr const char* kFlowScheme = TSRK4;
/// The half-width of the time differences of Σ* for the de Bruijn check,
/// as a fraction of the snapshot spacing.
constexpr double kDeBruijnDelta = 0.01;

void declare(OptionSet& o) {
  o.add("free.data", "0.5:-1:0;0.5:1:0",
        "data law μ_0: components 'weight:centre:variance' joined by ';', variance 0 an atom, variance > 0 a "
        "semicircle SC(centre, variance); or file:PATH (one component per line: weight centre variance)",
        Accept::any_text("'weight:centre:variance' joined by ';' (weights > 0 summing to 1, variances >= 0), or "
                         "file:PATH"));
  o.add("free.theta", "0.5", "mean reversion θ of the free OU process", Accept::positive_real());
  o.add("free.sigma", "1", "noise σ of the free OU process", Accept::positive_real());
  o.add("free.beta", "2", "matrix symmetry class: 1 real symmetric (GOE noise), 2 Hermitian (GUE noise)",
        Accept::choice({"1", "2"}));
  o.add("free.matrix_size", "100", "N, the size of each random matrix (its N eigenvalues are one unit)",
        Accept::integer(2, 4096));
  o.add("free.matrices", "200", "matrices in the ensemble (the particle units)", Accept::integer(1, 1e9));
  o.add("free.sampler", "matrix-ou", "forward matrices: matrix-ou (exact in law between outputs) or dyson (the "
        "Dyson SDE of the eigenvalues, free.dyson_steps per output interval)", Accept::choice({"matrix-ou", "dyson"}));
  o.add("free.dyson_steps", "200", "Euler–Maruyama steps of the Dyson SDE per output interval",
        Accept::integer(1, 1e9));
  o.add("free.reverse", "flow", "generative sampler: flow (dY/ds = θY − (σ²/2) J_(T−s)(Y), eigenvalues, RK4) or "
        "sde (the reverse free SDE at matrix level, Euler–Maruyama)", Accept::choice({"flow", "sde"}));
  o.add("free.steps", "100", "steps of the generative sampler from T down to free.t_min (0: no reverse stage)",
        Accept::integer(0, 1e9));
  o.add("free.t_min", "0.02", "where the generative sampler stops: J blows up as t → 0 at atoms",
        Accept::positive_real());
  o.add("free.jko", "true", "run the minimising-movement (JKO) scheme of the free energy beside the PDE",
        Accept::boolean());
  o.add("free.jko_tau", "0.01", "JKO step τ (steps are equal within each snapshot interval, at most τ)",
        Accept::positive_real());
  o.add("free.jko_points", "100", "M, the ordered points (quantiles) of the JKO scheme (its Hessian is dense)",
        Accept::integer(2, 4096));
}

DensityTwinExperiment::Layout layout_of(const Config& c) {
  if (c.integer("grid.dim") != 1)
    throw UsageError("grid.dim", "is " + std::to_string(c.integer("grid.dim")) +
                                     "; accepted: 1 (the free family's state is a spectrum on the line)");
  if (c.given("particles.count"))
    throw UsageError("particles.count", "is set, but the free family's particle units are matrices; accepted: "
                                        "free.matrices (and free.matrix_size for their size N)");
  const double horizon = c.real("time.end"), t_min = c.real("free.t_min");
  if (!(t_min < horizon))
    throw UsageError("free.t_min", "is " + c.text("free.t_min") + "; accepted: 0 < t_min < time.end");
  DensityTwinExperiment::Layout l;
  l.dim = 1;
  l.reverse_steps = c.integer("free.steps");
  l.units = c.integer("free.matrices");
  l.points_per_unit = static_cast<int>(c.integer("free.matrix_size"));
  l.reverse_span = horizon - t_min;
  return l;
}

/// The PDE's view of a density: moments (with the in-cell parts of x², x⁴),
/// free entropy and Fisher information, and the relative free entropy.
struct SpectralDiagnostics {
  double m1 = 0, m2 = 0, m4 = 0, chi = 0, phi = 0, phi_from_j = 0, sigma_star = 0, phi_star = 0, variance = 0;
};

SpectralDiagnostics diagnose(const std::vector<double>& rho, const Box& box, const SpectralTransforms& tr,
                             double s_star) {
  SpectralDiagnostics d;
  const double h = box.spacing(0);
  std::vector<double> hil(rho.size());
  tr.hilbert(rho.data(), hil.data());
  double cube = 0;
  for (std::size_t i = 0; i < rho.size(); ++i) {
    const double x = box.centre(0, static_cast<std::int64_t>(i)), w = rho[i] * h, x2 = x * x;
    d.m1 += w * x;
    d.m2 += w * (x2 + h * h / 12);
    d.m4 += w * (x2 * x2 + x2 * h * h / 2 + h * h * h * h / 80);
    cube += w * rho[i] * rho[i];
    d.phi_from_j += w * 4 * hil[i] * hil[i];
  }
  const double energy = tr.log_energy(rho.data());
  d.chi = energy + 0.75 + 0.5 * std::log(2 * M_PI);
  d.phi = 4 * M_PI * M_PI / 3 * cube;
  d.sigma_star = d.m2 / (2 * s_star) - energy + 0.5 * std::log(s_star) - 0.75;
  d.phi_star = d.phi - 2 / s_star + d.m2 / (s_star * s_star);
  d.variance = d.m2 - d.m1 * d.m1;
  return d;
}

/// The JKO points against a piecewise-constant density on the box: the mean
/// over i of |x_i − Q_ρ((i+½)/M)|, the quantile functions compared at the
/// points' own levels. (W1 between the M atoms and ρ, as w1_to_cdf gives
/// it, would add the O(1/M) of resolving ρ by M atoms; this compares the
/// scheme's trajectory alone.)
double quantile_w1(const std::vector<double>& points, const std::vector<double>& rho, const Box& box) {
  const double h = box.spacing(0);
  std::vector<double> cdf(rho.size() + 1, 0.0);
  for (std::size_t i = 0; i < rho.size(); ++i) cdf[i + 1] = cdf[i] + rho[i] * h;
  const double total = cdf.back();
  double w1 = 0;
  std::size_t cell = 0;
  const auto m = static_cast<double>(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    const double u = (static_cast<double>(i) + 0.5) / m * total;
    while (cell + 1 < rho.size() && cdf[cell + 1] < u) ++cell;
    const double in_cell = rho[cell] > 0 ? (u - cdf[cell]) / (rho[cell] * h) : 0.5;
    const double q = box.lower[0] + (static_cast<double>(cell) + std::clamp(in_cell, 0.0, 1.0)) * h;
    w1 += std::abs(points[i] - q) / m;
  }
  return w1;
}

/// The JKO scheme through the snapshot times, compared with the PDE density
/// there (from the store). Every rank computes the same points.
class JkoStage : public Stage {
 public:
  JkoStage(const FreeOu& law, std::vector<double> start, double tau, std::vector<double> times, const GridSpace* grid)
      : law_(law), start_(std::move(start)), tau_(tau), times_(std::move(times)), grid_(grid) {
    w1_pde_.assign(times_.size(), kNaN);
    max_point_.assign(times_.size(), kNaN);
    m2_.assign(times_.size(), kNaN);
    history_.assign(times_.size() * start_.size(), kNaN);
  }
  double clock_end() const override { return times_.back(); }
  double clock_now() const override { return jko_ ? jko_->time() : 0.0; }
  void begin(StageContext&) override { jko_ = std::make_unique<JkoScheme>(law_.theta(), law_.sigma(), start_); }
  bool run(StageContext& ctx) override {
    while (next_ < times_.size()) {
      const std::size_t j = next_;
      jko_->advance_to(times_[j], tau_);
      record(j, ctx);
      ++next_;
      if (ctx.boundary(times_[j])) return false;
    }
    return true;
  }
  void checkpoint(CheckpointArchive& a) override {
    auto next = static_cast<std::int64_t>(next_);
    a.value("next_output", next);
    next_ = static_cast<std::size_t>(next);
    double t = jko_->time();
    std::int64_t iterations = jko_->newton_iterations();
    a.value("time", t);
    a.value("newton_iterations", iterations);
    jko_->restore(t, iterations);
    a.replicated("points", jko_->points());
    a.replicated("history", history_);
    a.replicated("w1_pde", w1_pde_);
    a.replicated("max_point", max_point_);
    a.replicated("second_moment", m2_);
  }
  void finish(StageContext& ctx) override {
    OutputFile& out = ctx.out();
    const auto m = static_cast<std::int64_t>(start_.size());
    out.write_array("/jko/points", {static_cast<std::int64_t>(times_.size()), m}, history_);
    out.write_vector("/jko/time", times_);
    out.attribute("/jko/points", "tau", tau_);
    out.attribute("/jko/points", "newton_iterations", jko_->newton_iterations());
    out.write_vector("/compare/jko/w1_pde", w1_pde_);
    out.write_vector("/compare/jko/max_point", max_point_);
    out.write_vector("/compare/jko/second_moment", m2_);
    out.attribute("/compare/jko/w1_pde", "axis", std::string("/jko/time"));
  }
  const std::vector<double>& w1_pde() const { return w1_pde_; }
  const std::vector<double>& max_point() const { return max_point_; }
  const std::vector<double>& second_moment() const { return m2_; }
  std::int64_t newton_iterations() const { return jko_ ? jko_->newton_iterations() : 0; }

 private:
  void record(std::size_t j, StageContext& ctx) {
    const std::vector<double>& x = jko_->points();
    std::copy(x.begin(), x.end(), history_.begin() + static_cast<std::ptrdiff_t>(j * x.size()));
    max_point_[j] = x.back();
    double m2 = 0;
    for (double p : x) m2 += p * p / static_cast<double>(x.size());
    m2_[j] = m2;
    if (grid_ && ctx.store().has("density", times_[j])) {
      std::vector<double> rho;
      ctx.store().gather("density", times_[j], rho);
      w1_pde_[j] = quantile_w1(x, rho, grid_->box());
    }
  }
  FreeOu law_;
  std::vector<double> start_;
  double tau_;
  std::vector<double> times_;
  const GridSpace* grid_;
  std::unique_ptr<JkoScheme> jko_;
  std::size_t next_ = 0;
  std::vector<double> w1_pde_, max_point_, m2_, history_;
};

class FreeExperiment : public DensityTwinExperiment {
 public:
  FreeExperiment(const Config& c, MPI_Comm comm)
      : DensityTwinExperiment(c, layout_of(c)),
        comm_(comm),
        law_(c.real("free.theta"), c.real("free.sigma"), SpectralMixture::parse("free.data", c.text("free.data"))),
        beta_(std::stoi(c.choice("free.beta"))),
        n_(static_cast<int>(c.integer("free.matrix_size"))),
        dyson_(c.choice("free.sampler") == "dyson"),
        dyson_steps_(c.integer("free.dyson_steps")),
        sde_(c.choice("free.reverse") == "sde"),
        steps_(c.integer("free.steps")),
        t_min_(c.real("free.t_min")),
        jko_(c.boolean("free.jko")),
        jko_tau_(c.real("free.jko_tau")),
        jko_points_(c.integer("free.jko_points")) {
    // The grid must hold the support at every time, with a cell to spare.
    const Box box = Box::from_config(c, 1);
    const auto [lo, hi] = law_.support_bound(horizon());
    const double h = box.spacing(0);
    char need[200];
    if (box.lower[0] > lo - h) {
      std::snprintf(need, sizeof need, "%.6g, but the support of the law reaches %.6g by t = time.end; accepted: "
                    "grid.lower <= %.6g (a cell to spare)", box.lower[0], lo, lo - h);
      throw UsageError("grid.lower", std::string("is ") + need);
    }
    if (box.upper[0] < hi + h) {
      std::snprintf(need, sizeof need, "%.6g, but the support of the law reaches %.6g by t = time.end; accepted: "
                    "grid.upper >= %.6g (a cell to spare)", box.upper[0], hi, hi + h);
      throw UsageError("grid.upper", std::string("is ") + need);
    }
    if (particles_on() && steps_ > 0 && !pde_on())
      throw UsageError("pde.enabled", "is false, but the free family's reverse samplers read J = 2πHρ from the "
                                      "forward PDE; accepted: pde.enabled=true, or free.steps=0 (no reverse stage)");
    const std::size_t n = snapshot_times().size();
    for (auto* v : {&m2_pde_, &m4_pde_, &chi_pde_, &phi_pde_, &phi_j_pde_, &sigma_star_pde_, &phi_star_pde_,
                    &cramer_rao_pde_, &sigma_before_, &sigma_after_, &m2_part_, &m2_part_se_, &m4_part_, &dyson_refined_,
                    &dyson_relabelled_})
      v->assign(n, kNaN);
    atom_mass_reverse_.assign(atoms().size(), kNaN);
  }

  std::unique_ptr<DensitySolver> make_density_solver(const Grid& g) override {
    std::vector<double> rho0;
    exact_density(0.0, g, rho0);
    return std::make_unique<FreeFokkerPlanck>(g, law_.theta(), law_.sigma(), rho0, pde_step());
  }

  std::string describe_solver(const DensitySolver& pde) const override {
    const auto& fp = dynamic_cast<const FreeFokkerPlanck&>(pde);
    char line[220];
    std::snprintf(line, sizeof line,
                  "[pde      ] free Fokker–Planck: MUSCL (MC limiter), SSP RK3 with 4 stages, Courant %.2f; πHρ by "
                  "zero-padded FFT (M = %lld, padded to %lld)",
                  FreeFokkerPlanck::kCourant, static_cast<long long>(fp.transforms().cells()),
                  static_cast<long long>(fp.transforms().padded()));
    return line;
  }

  bool exact_density(double t, const Grid& g, std::vector<double>& owned) const override {
    law_.cell_averages(t, g, owned);
    return true;
  }

  std::vector<double> extra_stops() const override {
    std::vector<double> stops;
    const auto& t = snapshot_times();
    const double delta = kDeBruijnDelta * (t[1] - t[0]);
    for (std::size_t j = 1; j + 1 < t.size(); ++j) stops.insert(stops.end(), {t[j] - delta, t[j] + delta});
    return stops;
  }

  void observe_stop(double t, const GridSpace& g, const std::vector<double>& density) override {
    const auto& times = snapshot_times();
    const double delta = kDeBruijnDelta * (times[1] - times[0]);
    for (std::size_t j = 1; j + 1 < times.size(); ++j) {
      const bool before = std::abs(t - (times[j] - delta)) <= 1e-12, after = std::abs(t - (times[j] + delta)) <= 1e-12;
      if (!before && !after) continue;
      std::vector<double> rho;
      g.gather(density, 1, rho);
      (before ? sigma_before_ : sigma_after_)[j] =
          diagnose(rho, g.box(), transforms(g), law_.stationary_variance()).sigma_star;
    }
  }

  void observe_snapshot(std::size_t j, double, const GridSpace& g, const std::vector<double>& density) override {
    std::vector<double> rho;
    g.gather(density, 1, rho);
    const SpectralDiagnostics d = diagnose(rho, g.box(), transforms(g), law_.stationary_variance());
    m2_pde_[j] = d.m2;
    m4_pde_[j] = d.m4;
    chi_pde_[j] = d.chi;
    phi_pde_[j] = d.phi;
    phi_j_pde_[j] = d.phi_from_j;
    sigma_star_pde_[j] = d.sigma_star;
    phi_star_pde_[j] = d.phi_star;
    cramer_rao_pde_[j] = d.phi * d.variance;
  }

  void observe_samples(std::size_t j, double t, bool reverse, const ParticleSampler& sampler,
                       const std::vector<double>* histogram) override {
    const Ensemble& e = sampler.ensemble();
    if (!reverse) {
      // Per-matrix spectral moments (1/N) tr H², (1/N) tr H⁴; the standard
      // error is that of the mean over matrices.
      double s[3] = {0, 0, 0};
      for (std::int64_t u = 0; u < e.count; ++u) {
        double a2 = 0, a4 = 0;
        for (int p = 0; p < e.points_per_unit; ++p) {
          const double x2 = e.x[u * e.points_per_unit + p] * e.x[u * e.points_per_unit + p];
          a2 += x2, a4 += x2 * x2;
        }
        a2 /= e.points_per_unit, a4 /= e.points_per_unit;
        s[0] += a2, s[1] += a2 * a2, s[2] += a4;
      }
      sum_over_ranks(comm_, s, 3);
      const auto k = static_cast<double>(e.total);
      m2_part_[j] = s[0] / k;
      m2_part_se_[j] = std::sqrt(std::max(s[1] / k - m2_part_[j] * m2_part_[j], 0.0) / std::max(k - 1, 1.0));
      m4_part_[j] = s[2] / k;
      if (dyson_) {
        const auto& d = dynamic_cast<const DysonSampler&>(sampler);
        double counts[2] = {static_cast<double>(d.refinements()), static_cast<double>(d.relabelled())};
        sum_over_ranks(comm_, counts, 2);
        dyson_refined_[j] = counts[0];
        dyson_relabelled_[j] = counts[1];
        if (histogram) store_->put("dyson_histogram", t, *grid(), *histogram);
      }
      return;
    }
    if (j + 1 != reverse_output_times().size()) return;
    // At the end (t = t_min): the share of generated points near each atom.
    const auto& a = atoms();
    std::vector<double> near(a.size(), 0.0);
    for (double x : e.x)
      for (std::size_t k = 0; k < a.size(); ++k)
        if (std::abs(x - law_.a(t_min_) * a[k].centre) <= atom_window()) near[k] += 1;
    sum_over_ranks(comm_, near.data(), static_cast<int>(near.size()));
    for (std::size_t k = 0; k < a.size(); ++k) atom_mass_reverse_[k] = near[k] / static_cast<double>(e.total * e.points_per_unit);
  }

  void checkpoint(CheckpointArchive& a) override {
    for (const auto& [name, v] : series()) a.replicated(name, *v);
    a.replicated("atom_mass_reverse", atom_mass_reverse_);
  }

  std::string report(OutputFile& out) override {
    const auto& t = snapshot_times();
    std::vector<double> m2_exact, m4_exact, m2_finite_n, lhs(t.size(), kNaN), rhs(t.size(), kNaN), residual(t.size(), kNaN);
    const double sigma2 = law_.sigma() * law_.sigma();
    const std::vector<double> q = data_quantiles(law_.data(), n_);
    double m2_h0 = 0;
    for (double x : q) m2_h0 += x * x / n_;
    const double delta = kDeBruijnDelta * (t[1] - t[0]);
    for (std::size_t j = 0; j < t.size(); ++j) {
      const auto m = law_.moments(t[j]);
      m2_exact.push_back(m[2]);
      m4_exact.push_back(m[4]);
      const double a = law_.a(t[j]);
      m2_finite_n.push_back(a * a * m2_h0 + law_.v(t[j]) * (1 + (2.0 / beta_ - 1) / n_));
      if (j > 0 && j + 1 < t.size()) {
        lhs[j] = (sigma_after_[j] - sigma_before_[j]) / (2 * delta);
        rhs[j] = -0.5 * sigma2 * phi_star_pde_[j];
        residual[j] = lhs[j] - rhs[j];
      }
    }
    const std::string d = "/diagnostics/free/";
    out.write_vector(d + "time", t);
    out.write_vector(d + "m2_exact", m2_exact);
    out.write_vector(d + "m4_exact", m4_exact);
    out.write_vector(d + "m2_particles_finite_n_exact", m2_finite_n);
    for (const auto& [name, v] : series())
      if (name.rfind("sigma_star_at", 0) != 0) out.write_vector(d + name, *v);
    out.write_vector(d + "de_bruijn_dsigma_dt", lhs);
    out.write_vector(d + "de_bruijn_minus_half_sigma2_phi_star", rhs);
    out.write_vector(d + "de_bruijn_residual", residual);
    out.attribute(d + "de_bruijn_residual", "delta", delta);
    out.attribute(d + "m2_particles", "matrix_size", static_cast<std::int64_t>(n_));
    out.attribute(d + "m2_particles", "beta", static_cast<std::int64_t>(beta_));
    std::vector<double> centres, weights, exact_near;
    const bool atoms_back = !atoms().empty() && particles_on() && steps_ > 0;
    if (atoms_back) {
      for (const auto& a : atoms()) {
        centres.push_back(a.centre);
        weights.push_back(a.weight);
      }
      exact_near = exact_window_masses();

      out.write_vector(d + "atoms/centre", centres);
      out.write_vector(d + "atoms/weight", weights);
      out.write_vector(d + "atoms/mass_exact_at_t_min", exact_near);
      out.write_vector(d + "atoms/mass_generated", atom_mass_reverse_);
      out.attribute(d + "atoms/mass_generated", "window", atom_window());
    }
    std::ostringstream os;
    char line[400];
    os << "\nFree diagnostics (m_n moments; PDE χ free entropy, Φ free Fisher information, Σ* relative free\n"
          "entropy; de Bruijn: dΣ*/dt by differences of ±"
       << delta << " against −(σ²/2)Φ*; Cramér–Rao Φ·Var ≥ 1;\nparticles: (1/N) tr H² over "
       << (particles_on() ? std::to_string(particle_count()) : std::string("no")) << " matrices, N = " << n_
       << ", β = " << beta_ << ", exact at finite N: a²m₂(H₀) + v(1 + (2/β − 1)/N))\n";
    std::snprintf(line, sizeof line, "%7s | %9s %9s %9s %9s %8s | %9s %9s | %9s %9s %9s | %10s %10s %9s | %7s\n", "t",
                  "m2 exact", "m2 PDE", "m2 part", "N exact", "± s.e.", "m4 exact", "m4 PDE", "χ PDE", "Φ PDE",
                  "Σ* PDE", "dΣ*/dt", "−σ²Φ*/2", "residual", "Φ·Var");
    os << line;
    for (std::size_t j = 0; j < t.size(); ++j) {
      std::snprintf(line, sizeof line,
                    "%7.3f | %9.5f %9.5f %9.5f %9.5f %8.1e | %9.5f %9.5f | %9.5f %9.4g %9.5f | %10.3e %10.3e %9.1e | "
                    "%7.4f\n",
                    t[j], m2_exact[j], m2_pde_[j], m2_part_[j], m2_finite_n[j], m2_part_se_[j], m4_exact[j],
                    m4_pde_[j], chi_pde_[j], phi_pde_[j], sigma_star_pde_[j], lhs[j], rhs[j], residual[j],
                    cramer_rao_pde_[j]);
      os << line;
    }
    if (atoms_back) {
      std::snprintf(line, sizeof line,
                    "\nAtoms come back: mass of the generated points within %.3f of each atom's place at t_min = %g\n",
                    atom_window(), t_min_);
      os << line;
      for (std::size_t k = 0; k < centres.size(); ++k) {
        std::snprintf(line, sizeof line, "  atom at %8.4f: data weight %.4f, exact law at t_min %.4f, generated %.4f\n",
                      centres[k], weights[k], exact_near[k], atom_mass_reverse_[k]);
        os << line;
      }
    }
    if (jko_stage_) {
      os << "\nJKO (minimising movements of F, M = " << jko_points_ << " points, τ ≤ " << jko_tau_ << ", "
         << jko_stage_->newton_iterations() << " Newton iterations) against the PDE:\n";
      std::snprintf(line, sizeof line, "%7s | %10s %10s %10s\n", "t", "W1 to PDE", "max point", "m2");
      os << line;
      for (std::size_t j = 0; j < t.size(); ++j) {
        std::snprintf(line, sizeof line, "%7.3f | %10.3e %10.5f %10.5f\n", t[j], jko_stage_->w1_pde()[j],
                      jko_stage_->max_point()[j], jko_stage_->second_moment()[j]);
        os << line;
      }
    }
    return os.str();
  }

 protected:
  std::unique_ptr<ParticleSampler> make_forward_sampler(Ensemble units) override {
    if (dyson_) return std::make_unique<DysonSampler>(std::move(units), law_, beta_, seed(), dyson_steps_);
    return std::make_unique<MatrixOuSampler>(std::move(units), law_, beta_, seed());
  }

  std::unique_ptr<ParticleSampler> make_reverse_sampler(Ensemble units, FieldStore& store) override {
    if (sde_)
      return std::make_unique<ReverseMatrixSde>(std::move(units), law_, beta_, seed(), horizon(), reverse_span(),
                                                steps_, store, *grid());
    MatrixOuSampler start = reverse_start(std::move(units), law_, beta_, seed(), horizon());
    return std::make_unique<FlowSampler>(start.ensemble(), horizon(), reverse_span(), steps_, kFlowScheme,
                                         std::make_shared<FreeScoreVelocity>(store, *grid(), law_.theta(), law_.sigma()));
  }

  std::vector<Publication> publications() const override {
    if (!particles_on() || steps_ == 0) return {};
    if (!sde_) return {{"J", 1, flow_stage_times(horizon(), reverse_span(), steps_, kFlowScheme)}};
    std::vector<double> times;
    for (std::int64_t k = 0; k < steps_; ++k) times.push_back(horizon() - static_cast<double>(k) * reverse_step());
    return {{"J", 1, times}};
  }

  void customise_twins(Twin& forward, Twin& reverse, std::vector<Twin>& more, RunSetup& setup) override {
    store_ = &setup.store;
    const std::string sampler = dyson_ ? "Dyson SDE" : "matrix-ou";
    forward.title = "Forward: eigenvalues of " + std::to_string(particle_count()) + " " + (beta_ == 2 ? "GUE" : "GOE") +
                    "-driven matrices (N = " + std::to_string(n_) + ", " + sampler + ") vs the " +
                    (pde_on() ? "PDE" : "closed-form") + " density\n(floor = expected L1 of as many "
                    "independent exact samples; finite N adds a bias of its own)";
    reverse.title = std::string("Reverse: ") + (sde_ ? "the reverse free SDE at matrix level" : "the reverse flow of "
                    "eigenvalues") + " from T down to t_min = " + std::to_string(t_min_) +
                    ", vs the PDE density at T − s";
    // Finite-N spectra reach past the support edges, where the densities
    // vanish: KL is infinite there, so it is not printed.
    for (Twin* t : {&forward, &reverse}) {
      std::vector<std::pair<std::string, std::string>> columns;
      for (const auto& c : t->columns)
        if (c.first != "kl") columns.push_back(c);
      t->columns = columns;
    }
    if (!dyson_) return;
    Twin d;
    d.name = "dyson";
    d.stage = "matrix_ou";
    d.space = "grid";
    d.clock = "t";
    d.axis = "/time";
    d.reference_name = "dyson";
    d.title = "Dyson SDE against matrix-ou: the exact matrices' eigenvalue histogram vs the Dyson one at each t\n"
              "(the same process in law; both carry noise, the floor is one histogram's)";
    d.reference = [this](std::size_t, double t, std::vector<double>& owned) {
      owned = store_->owned("dyson_histogram", t);
      return true;
    };
    d.columns = {{"l1", "L1"}, {"noise_floor_l1", "floor"}, {"w1", "W1"}};
    more.push_back(d);
  }

  std::vector<std::string> family_stages() const override {
    std::vector<std::string> s;
    if (particles_on() && dyson_) s.push_back("matrix_ou");
    if (jko_) s.push_back("jko");
    return s;
  }

  std::unique_ptr<Stage> make_family_stage(const std::string& name, RunSetup& setup) override {
    if (name == "jko") {
      auto stage = std::make_unique<JkoStage>(law_, data_quantiles(law_.data(), static_cast<int>(jko_points_)),
                                              jko_tau_, snapshot_times(), pde_on() ? grid() : nullptr);
      jko_stage_ = stage.get();
      return stage;
    }
    if (name != "matrix_ou") return DensityTwinExperiment::make_family_stage(name, setup);
    SamplerStage::Plan plan;
    plan.clocks = snapshot_times();
    plan.units = particle_count();
    plan.dim = 1;
    plan.points_per_unit = n_;
    plan.space = grid();
    plan.histogram_series = "/free/matrix_ou/histogram";
    auto factory = [this](Ensemble units) -> std::unique_ptr<ParticleSampler> {
      return std::make_unique<MatrixOuSampler>(std::move(units), law_, beta_, seed());
    };
    return std::make_unique<SamplerStage>(setup.comm, factory, plan);
  }

 private:
  std::vector<std::pair<std::string, std::vector<double>*>> series() {
    return {{"m2_pde", &m2_pde_},
            {"m4_pde", &m4_pde_},
            {"chi_pde", &chi_pde_},
            {"phi_pde", &phi_pde_},
            {"phi_pde_from_J", &phi_j_pde_},
            {"sigma_star_pde", &sigma_star_pde_},
            {"phi_star_pde", &phi_star_pde_},
            {"cramer_rao_pde", &cramer_rao_pde_},
            {"sigma_star_at_minus_delta", &sigma_before_},
            {"sigma_star_at_plus_delta", &sigma_after_},
            {"m2_particles", &m2_part_},
            {"m2_particles_stderr", &m2_part_se_},
            {"m4_particles", &m4_part_},
            {"dyson_refined_steps", &dyson_refined_},
            {"dyson_relabelled_steps", &dyson_relabelled_}};
  }

  const SpectralTransforms& transforms(const GridSpace& g) {
    if (!transforms_) transforms_ = std::make_unique<SpectralTransforms>(g.box().cells[0], g.box().spacing(0));
    return *transforms_;
  }

  std::vector<SpectralComponent> atoms() const {
    std::vector<SpectralComponent> a;
    for (const auto& c : law_.data().components())
      if (c.atom()) a.push_back(c);
    return a;
  }

  /// Half-width of the window around an atom's place: the atom has spread to
  /// a semicircle of radius at most 2√v(t_min) by t_min.
  double atom_window() const { return 2 * std::sqrt(law_.v(t_min_)) + 2 * grid_spacing(); }
  double grid_spacing() const { return grid() ? grid()->box().spacing(0) : 0.0; }

  // Collective. The exact law's mass at t_min within the window around each
  // atom's place a_{t_min} c.
  std::vector<double> exact_window_masses() const {
    std::vector<double> owned;
    law_.cell_averages(t_min_, grid()->grid(), owned);
    const Box& box = grid()->box();
    const auto a = atoms();
    std::vector<double> mass(a.size(), 0.0);
    for (std::size_t k = 0; k < a.size(); ++k)
      for (std::size_t i = 0; i < owned.size(); ++i) {
        const double c = box.centre(0, grid()->grid().owned().start[0] + static_cast<std::int64_t>(i));
        if (std::abs(c - law_.a(t_min_) * a[k].centre) <= atom_window()) mass[k] += owned[i] * box.spacing(0);
      }
    sum_over_ranks(comm_, mass.data(), static_cast<int>(mass.size()));
    return mass;
  }

  MPI_Comm comm_;
  FreeOu law_;
  int beta_, n_;
  bool dyson_;
  std::int64_t dyson_steps_;
  bool sde_;
  std::int64_t steps_;
  double t_min_;
  bool jko_;
  double jko_tau_;
  std::int64_t jko_points_;
  FieldStore* store_ = nullptr;
  JkoStage* jko_stage_ = nullptr;
  std::unique_ptr<SpectralTransforms> transforms_;
  std::vector<double> m2_pde_, m4_pde_, chi_pde_, phi_pde_, phi_j_pde_, sigma_star_pde_, phi_star_pde_,
      cramer_rao_pde_, sigma_before_, sigma_after_, m2_part_, m2_part_se_, m4_part_, dyson_refined_,
      dyson_relabelled_, atom_mass_reverse_;
};

}  // namespace

Family family() {
  return {"free",
          "free-probability diffusion: free Fokker–Planck, random matrices, the free score, JKO (docs/free.md)",
          declare,
          [](const Config& c, MPI_Comm comm) { return std::make_unique<FreeExperiment>(c, comm); },
          false,
          {{"time.end", "2"}, {"grid.lower", "-3"}, {"grid.upper", "3"}, {"grid.cells", "600"}}};
}

}  // namespace twinflow::free
