#include "twinflow/run/density_twin.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "twinflow/compare/metrics.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"
#include "twinflow/io/xdmf.hpp"
#include "twinflow/pde/linear_evolution.hpp"

namespace twinflow {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

bool any_finite(const std::vector<double>& v) {
  for (double x : v)
    if (std::isfinite(x)) return true;
  return false;
}

}  // namespace

std::vector<double> snapshot_times(double horizon, std::int64_t snapshots) {
  std::vector<double> t;
  for (std::int64_t j = 0; j < snapshots; ++j)
    t.push_back(horizon * static_cast<double>(j) / static_cast<double>(snapshots - 1));
  return t;
}

std::vector<std::int64_t> reverse_output_steps(std::int64_t snapshots, std::int64_t steps) {
  std::vector<std::int64_t> k;
  for (std::int64_t j = 0; j < snapshots; ++j)
    k.push_back(static_cast<std::int64_t>(
        std::llround(static_cast<double>(j * steps) / static_cast<double>(snapshots - 1))));
  return k;
}

DensityTwinExperiment::DensityTwinExperiment(const Config& c, const Layout& layout)
    : dim_(layout.dim),
      horizon_(c.real("time.end")),
      pde_steps_(c.integer("pde.steps")),
      particles_(layout.units >= 0 ? layout.units : c.integer("particles.count")),
      reverse_steps_(layout.reverse_steps),
      points_per_unit_(layout.points_per_unit),
      reverse_span_(layout.reverse_span > 0 ? layout.reverse_span : horizon_),
      seed_(static_cast<std::uint64_t>(c.integer("seed"))),
      pde_on_(c.boolean("pde.enabled")),
      particles_on_(c.boolean("particles.enabled")),
      times_(twinflow::snapshot_times(horizon_, c.integer("time.snapshots"))),
      rev_steps_(twinflow::reverse_output_steps(c.integer("time.snapshots"), reverse_steps_)) {
  for (std::int64_t k : rev_steps_)
    rev_times_.push_back(reverse_steps_ > 0 ? reverse_span_ * static_cast<double>(k) / static_cast<double>(reverse_steps_)
                                            : 0.0);
  if (has_grid()) {
    box_ = Box::from_config(c, dim_);
  } else if (pde_on_) {
    throw UsageError("pde.enabled", "is true, but the state has " + std::to_string(dim_) +
                                        " dimensions and the PDE grid at most 3; accepted: pde.enabled=false "
                                        "(particles only, compared on the sample space) or a state of at most 3 "
                                        "dimensions");
  }
  pde_mass_.assign(times_.size(), kNaN);
  pde_exact_l1_.assign(times_.size(), kNaN);
}

std::vector<std::unique_ptr<StateSpace>> DensityTwinExperiment::spaces(MPI_Comm comm) {
  std::vector<std::unique_ptr<StateSpace>> s;
  if (has_grid()) {
    auto g = std::make_unique<GridSpace>(comm, *box_);
    grid_ = g.get();
    s.push_back(std::move(g));
  } else {
    s.push_back(std::make_unique<SampleSpace>(comm, dim_));
  }
  return s;
}

std::vector<std::string> DensityTwinExperiment::stages() const {
  std::vector<std::string> s = leading_stages();
  if (pde_on_) s.push_back("pde");
  if (particles_on_) s.push_back("forward");
  if (particles_on_ && reverse_steps_ > 0) s.push_back("reverse");
  for (const auto& f : family_stages()) s.push_back(f);
  return s;
}

std::unique_ptr<DensitySolver> DensityTwinExperiment::linear_density_solver(const Grid& grid, Mat L) const {
  std::vector<double> p0;
  if (!exact_density(0.0, grid, p0))
    throw std::logic_error("linear_density_solver needs the family's closed form at t = 0");
  Vec v = nullptr;
  TF_CHECK_PETSC(DMCreateGlobalVector(grid.dm(), &v));
  grid.set_owned_values(p0, v);
  return std::make_unique<LinearEvolution>(grid, L, v, pde_step(), grid.box().cell_volume());
}

std::unique_ptr<ParticleSampler> DensityTwinExperiment::make_reverse_sampler(Ensemble, FieldStore&) {
  throw std::logic_error("a family with reverse steps must make its reverse sampler");
}

std::unique_ptr<Stage> DensityTwinExperiment::make_family_stage(const std::string& name, RunSetup&) {
  throw std::logic_error("no stage '" + name + "' in this family");
}

std::unique_ptr<Stage> DensityTwinExperiment::make_stage(const std::string& name, RunSetup& setup) {
  if (name == "pde") return make_pde_stage(setup);
  if (name == "forward" || name == "reverse") {
    const bool reverse = name == "reverse";
    SamplerStage::Plan plan;
    plan.units = particles_;
    plan.dim = dim_;
    plan.points_per_unit = points_per_unit_;
    plan.space = grid_;
    if (reverse) {
      plan.clock = "s";
      plan.clocks = rev_times_;
      plan.steps = rev_steps_;
      plan.step_clock = reverse_step();
      plan.histogram_series = has_grid() ? "/reverse/histogram" : "";
      plan.axis = "/reverse/time";
    } else {
      plan.clocks = times_;
      plan.histogram_series = has_grid() ? "/particles/histogram" : "";
    }
    FieldStore& store = setup.store;
    auto factory = [this, reverse, &store](Ensemble units) {
      return reverse ? make_reverse_sampler(std::move(units), store) : make_forward_sampler(std::move(units));
    };
    auto observer = [this, reverse](std::size_t j, double clock, const ParticleSampler& s,
                                    const std::vector<double>* histogram) {
      observe_samples(j, clock, reverse, s, histogram);
    };
    return std::make_unique<SamplerStage>(setup.comm, factory, plan, observer);
  }
  return make_family_stage(name, setup);
}

std::unique_ptr<Stage> DensityTwinExperiment::make_pde_stage(RunSetup& setup) {
  const GridSpace& grid = *grid_;
  const bool reverse_on = particles_on_ && reverse_steps_ > 0;
  const auto pubs = publications();
  std::set<double> stops(times_.begin(), times_.end());
  if (reverse_on)
    for (double s : rev_times_) stops.insert(horizon_ - s);
  for (const auto& p : pubs) stops.insert(p.times.begin(), p.times.end());
  for (double t : extra_stops()) stops.insert(t);
  auto solver = make_density_solver(grid.grid());
  if (const std::string line = describe_solver(*solver); !line.empty()) setup.progress.note(line);
  const auto fields = solver->extra_fields();
  const auto n = static_cast<std::int64_t>(times_.size());

  PdeStage::Hooks hooks;
  hooks.prepare_output = [=, &grid](OutputFile& out) {
    out.create_series("/pde/density", "/time", n, grid.slab());
    for (const auto& f : fields) {
      out.create_series("/pde/" + f.name, "/time", n, grid.slab(), f.components);
      out.attribute("/pde/" + f.name, "components", static_cast<std::int64_t>(f.components));
    }
    if (reverse_on) out.create_series("/reverse/pde_density", "/reverse/time", n, grid.slab());
  };
  const MPI_Comm comm = setup.comm;
  hooks.at_stop = [=, this, &grid](std::size_t, double t, const DensitySolver& pde, StageContext& ctx) {
    std::vector<double> block;
    grid.grid().owned_values(pde.density(), block);
    observe_stop(t, grid, block);
    bool stored = false;
    for (std::size_t j = 0; j < times_.size(); ++j) {
      if (times_[j] != t) continue;
      observe_snapshot(j, t, grid, block);
      {
        auto io = ctx.timer().scope("io");
        ctx.out().write_entry("/pde/density", static_cast<std::int64_t>(j), grid.slab(), block);
        std::vector<double> field;
        for (const auto& f : fields) {
          pde.extra_field(f.name, field);
          ctx.out().write_entry("/pde/" + f.name, static_cast<std::int64_t>(j), grid.slab(), field);
        }
        ctx.out().flush();
      }
      ctx.store().put("density", t, grid, block, 1, FieldStore::Backing{"/pde/density", static_cast<std::int64_t>(j)});
      stored = true;
      auto c = ctx.timer().scope("compare");
      double s = 0;
      for (double v : block) s += v;
      sum_over_ranks(comm, &s, 1);
      pde_mass_[j] = s * grid.cell_measure();
      std::vector<double> exact;
      if (exact_density(t, grid.grid(), exact)) pde_exact_l1_[j] = compare(comm, grid.box(), exact, block, 0).l1;
    }
    for (std::size_t j = 0; reverse_on && j < rev_times_.size(); ++j) {
      if (horizon_ - rev_times_[j] != t) continue;
      {
        auto io = ctx.timer().scope("io");
        ctx.out().write_entry("/reverse/pde_density", static_cast<std::int64_t>(j), grid.slab(), block);
        ctx.out().flush();
      }
      if (!stored)
        ctx.store().put("density", t, grid, block, 1,
                        FieldStore::Backing{"/reverse/pde_density", static_cast<std::int64_t>(j)});
      stored = true;
    }
    for (const auto& p : pubs) {
      bool at = false;
      for (double pt : p.times) at = at || pt == t;
      if (!at) continue;
      if (p.name == "density") {
        if (!stored) ctx.store().put("density", t, grid, block);
        stored = true;
      } else {
        std::vector<double> field;
        pde.extra_field(p.name, field);
        ctx.store().put(p.name, t, grid, std::move(field), p.components);
      }
    }
  };
  hooks.finish = [this](const DensitySolver& pde, StageContext& ctx) {
    char note[160];
    std::snprintf(note, sizeof note, "[pde      ] %lld steps, max relative mass drift %.2e",
                  static_cast<long long>(pde.steps()), pde.max_mass_drift());
    ctx.progress().note(note);
    auto io = ctx.timer().scope("io");
    OutputFile& out = ctx.out();
    out.write_vector("/compare/pde_mass", pde_mass_);
    if (any_finite(pde_exact_l1_)) out.write_vector("/compare/pde_exact_l1", pde_exact_l1_);
    out.attribute("/pde/density", "max_relative_mass_drift", pde.max_mass_drift());
    out.attribute("/pde/density", "steps", pde.steps());
    out.flush();
  };
  hooks.state = [this](CheckpointArchive& a) {
    a.replicated("pde_mass", pde_mass_);
    a.replicated("pde_exact_l1", pde_exact_l1_);
  };
  return std::make_unique<PdeStage>(std::move(solver), std::vector<double>(stops.begin(), stops.end()),
                                    std::move(hooks));
}

std::vector<Twin> DensityTwinExperiment::twins(RunSetup& setup) {
  if (!particles_on_) return {};
  FieldStore& store = setup.store;
  const std::string reference = pde_on_ ? "PDE" : "closed-form";
  // The reference density at time t: the PDE's from the store, or the
  // closed form.
  auto density_at = [this, &store](double t, std::vector<double>& owned) {
    if (!pde_on_) return exact_density(t, grid_->grid(), owned);
    owned = store.owned("density", t);
    return true;
  };
  Twin forward;
  forward.name = "forward";
  forward.top_level = true;
  forward.stage = "forward";
  forward.clock = "t";
  forward.axis = "/time";
  Twin reverse;
  reverse.name = "reverse";
  reverse.stage = "reverse";
  reverse.clock = "s";
  reverse.axis = "/reverse/time";
  if (has_grid()) {
    forward.space = reverse.space = "grid";
    forward.reference_name = reverse.reference_name = pde_on_ ? "pde" : "exact";
    forward.title = "Forward: particle histogram vs the " + reference + " density at each snapshot time t\n"
                    "(floor = expected L1 of a histogram of N exact samples: the statistical noise floor)";
    reverse.title = "Reverse: generated particles at reverse time s vs the " + reference + " density p_(T-s)";
    forward.reference = [density_at](std::size_t, double t, std::vector<double>& owned) { return density_at(t, owned); };
    reverse.reference = [this, density_at](std::size_t, double s, std::vector<double>& owned) {
      return density_at(horizon_ - s, owned);
    };
    const bool line = dim_ == 1;
    if (pde_on_) forward.columns.push_back({"/compare/pde_mass", "mass"});
    for (Twin* t : {&forward, &reverse}) {
      t->columns.insert(t->columns.end(),
                        {{"l1", "L1"}, {"hellinger", "hellinger"}, {"kl", "KL"}, {"noise_floor_l1", "floor"}});
      if (line) t->columns.push_back({"w1", "W1"});
    }
    if (pde_on_) forward.columns.push_back({"/compare/pde_exact_l1", "PDE-exact L1"});
  } else {
    if (!forward_law(0) || (reverse_steps_ > 0 && !reverse_law(0, 0.0)))
      throw UsageError("grid.dim", "is " + std::to_string(dim_) + ", beyond the grid's 3 dimensions, and this family "
                                   "has no closed-form laws to compare samples with; accepted: 1 to 3");
    forward.space = reverse.space = "samples";
    forward.reference_name = reverse.reference_name = "law";
    forward.title = "Forward: particles vs the closed-form law at each snapshot time t (sample space, d = " +
                    std::to_string(dim_) + ";\nz = largest |error| / standard error over the entries; "
                    "sliced W1 against exact samples, with its noise level)";
    reverse.title = "Reverse: generated particles at reverse time s vs the law they should follow (sample space)";
    forward.law = [this](std::size_t, double t) { return forward_law(t); };
    reverse.law = [this](std::size_t j, double s) { return reverse_law(rev_steps_[j], s); };
    for (Twin* t : {&forward, &reverse})
      t->columns = {{"mean_error", "|mean err|"},  {"mean_max_z", "mean z"}, {"covariance_error", "|cov err|"},
                    {"covariance_max_z", "cov z"}, {"loglik", "loglik"},    {"loglik_reference", "exact"},
                    {"loglik_se", "± s.e."},       {"sliced_w1", "sliced W1"}, {"sliced_w1_noise", "W1 noise"}};
  }
  std::vector<Twin> more;
  customise_twins(forward, reverse, more, setup);
  std::vector<Twin> all{forward};
  if (reverse_steps_ > 0) all.push_back(reverse);
  all.insert(all.end(), more.begin(), more.end());
  return all;
}

void DensityTwinExperiment::prepare_output(OutputFile& out) {
  out.write_vector("/time", times_);
  if (particles_on_ && reverse_steps_ > 0) out.write_vector("/reverse/time", rev_times_);
}

void DensityTwinExperiment::write_sidecars(MPI_Comm comm, const std::string& output) const {
  if (has_grid()) write_xdmf(comm, output, grid_->box());
}

}  // namespace twinflow
