#include "driver.hpp"

#include <H5public.h>
#include <petscsys.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

#include "registry.hpp"
#include "twinflow/compare/metrics.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/io/output_file.hpp"
#include "twinflow/version.hpp"

namespace twinflow {

OptionSet all_options() {
  OptionSet o;
  std::string names;
  for (const auto& f : families()) names += (names.empty() ? "" : ", ") + f.name;
  std::vector<std::string> family_names;
  for (const auto& f : families()) family_names.push_back(f.name);
  o.add("family", "ou", "model family: " + names, Accept::choice(family_names));
  o.add("output", "twinflow.h5", "HDF5 output path (an XDMF sidecar .xmf is written beside it)",
        Accept::any_text("a path in a writable directory"));
  o.add("overwrite", "false", "replace an existing output file", Accept::boolean());
  o.add("seed", "1", "seed of the counter-based RNG", Accept::integer(0, 9.007199254740992e15));
  o.add("quiet", "false", "no progress lines", Accept::boolean());
  o.add("progress_interval", "2", "seconds between progress lines", Accept::positive_real());
  o.add("grid.dim", "1", "space dimension d of the data (kinetic: the grid is phase space (x, v), 2d axes)",
        Accept::integer(1, 3));
  o.add("grid.cells", "256", "cells per dimension", Accept::integer_list(1));
  o.add("grid.lower", "-6", "lower corner of the box", Accept::real_list());
  o.add("grid.upper", "6", "upper corner of the box", Accept::real_list());
  o.add("time.end", "1", "horizon T", Accept::positive_real());
  o.add("time.snapshots", "11", "output times, evenly spaced from 0 to T inclusive", Accept::integer(2, 1e6));
  o.add("pde.enabled", "true", "run the PDE side", Accept::boolean());
  o.add("pde.steps", "200", "PDE time steps over [0, T] (more where stops split a step)", Accept::integer(1, 1e9));
  o.add("particles.enabled", "true", "run the particle side", Accept::boolean());
  o.add("particles.count", "1000000", "global number of particles N", Accept::integer(1, 1e12));
  o.add("sampler_law", "false", "also compute the exact law of the generative sampler's output on the grid, "
        "with no sampling (families ou with grid.dim 1-2, and kinetic), written under /sampler_law",
        Accept::boolean());
  for (const auto& f : families()) f.declare_options(o);
  return o;
}

RunArguments split_run_arguments(const std::vector<std::string>& tokens) {
  RunArguments a;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == "--help" || t == "-h") {
      a.help = true;
    } else if (t.rfind("--", 0) == 0) {
      a.overrides.push_back(t);
    } else if (t.size() > 1 && t[0] == '-') {
      // A PETSc option; its value is the next token unless that is an option.
      a.petsc.push_back(t);
      if (i + 1 < tokens.size()) {
        const std::string& v = tokens[i + 1];
        const bool is_number = v.size() > 1 && v[0] == '-' && (std::isdigit(static_cast<unsigned char>(v[1])) || v[1] == '.');
        if (v.empty() || v[0] != '-' || is_number) a.petsc.push_back(tokens[++i]);
      }
    } else if (a.config_path.empty()) {
      a.config_path = t;
    } else {
      throw UsageError("config", "'" + t + "' is a second config file; accepted: one INI file, then --key=value overrides");
    }
  }
  return a;
}

namespace {

struct Schedule {
  std::vector<double> times;            ///< forward output times t_j
  std::vector<std::int64_t> rev_steps;  ///< reverse output steps k_j
  std::vector<double> rev_times;        ///< s_j = k_j T / N
};

Schedule make_schedule(double horizon, std::int64_t snapshots, std::int64_t reverse_steps) {
  Schedule s;
  for (std::int64_t j = 0; j < snapshots; ++j) {
    s.times.push_back(horizon * static_cast<double>(j) / static_cast<double>(snapshots - 1));
    if (reverse_steps > 0) {
      const auto k = static_cast<std::int64_t>(std::llround(static_cast<double>(j * reverse_steps) / static_cast<double>(snapshots - 1)));
      s.rev_steps.push_back(k);
      s.rev_times.push_back(horizon * static_cast<double>(k) / static_cast<double>(reverse_steps));
    }
  }
  return s;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string mpi_library() {
  char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(v, &len);
  std::string s(v, static_cast<std::size_t>(len));
  return trim(s.substr(0, s.find('\n')));
}

std::string petsc_options_text() {
  char* all = nullptr;
  PetscOptionsGetAll(nullptr, &all);
  std::string s = all ? all : "";
  PetscFree(all);
  return trim(s);
}

void write_provenance(OutputFile& out, MPI_Comm comm, const Config& config, const std::string& family) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  char petsc[128];
  PetscGetVersion(petsc, sizeof petsc);
  out.attribute("/", "schema", std::string("twinflow"));
  out.attribute("/", "schema_version", std::int64_t{1});
  out.attribute("/", "twinflow_version", std::string(kVersion));
  out.attribute("/", "git_sha", std::string(kGitSha));
  out.attribute("/", "petsc_version", std::string(petsc));
  out.attribute("/", "hdf5_version", std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel));
  out.attribute("/", "mpi_library", mpi_library());
  out.attribute("/", "nranks", static_cast<std::int64_t>(size));
  out.attribute("/", "seed", config.integer("seed"));
  out.attribute("/", "family", family);
  // Rank 0's clock and environment, so every rank writes the same value.
  std::string created = utc_now(), job, task;
  if (const char* j = std::getenv("SLURM_JOB_ID")) job = j;
  if (const char* t = std::getenv("SLURM_ARRAY_TASK_ID")) task = t;
  for (std::string* s : {&created, &job, &task}) {
    int len = static_cast<int>(s->size());
    MPI_Bcast(&len, 1, MPI_INT, 0, comm);
    s->resize(static_cast<std::size_t>(len));
    MPI_Bcast(s->data(), len, MPI_CHAR, 0, comm);
  }
  out.attribute("/", "created_utc", created);
  out.attribute("/", "config", config.resolved_ini());
  out.attribute("/", "petsc_options", petsc_options_text());
  if (!job.empty()) out.attribute("/", "slurm_job_id", job);
  if (!task.empty()) out.attribute("/", "slurm_array_task_id", task);
}

std::string format_table(const Schedule& s, const std::vector<Comparison>& fwd, const std::vector<Comparison>& rev,
                         const std::vector<double>& mass, const std::vector<double>& exact_l1, const std::string& reference,
                         bool w1) {
  std::ostringstream os;
  char line[400];
  os << "\nForward: particle histogram vs " << reference << " density at each snapshot time t;\n"
     << "reverse: generated particles at reverse time s = T - t vs the " << reference << " density p_t.\n"
     << "floor = expected L1 of a histogram of N exact samples (statistical noise floor).\n";
  std::snprintf(line, sizeof line, "%8s %10s | %9s %9s %9s %9s%s | %8s %9s %9s%s%s\n", "t", "mass", "L1", "hellinger",
                "KL", "floor", w1 ? "        W1" : "", "rev s", "rev L1", "rev floor", w1 ? "    rev W1" : "",
                exact_l1.empty() ? "" : " | PDE-exact L1");
  os << line;
  const std::size_t n = s.times.size();
  for (std::size_t j = 0; j < n; ++j) {
    std::string row;
    auto add = [&](const char* fmt, double v) {
      char b[64];
      std::snprintf(b, sizeof b, fmt, v);
      row += b;
    };
    add("%8.4f ", s.times[j]);
    add("%10.6f |", mass.empty() ? NAN : mass[j]);
    if (!fwd.empty()) {
      add(" %9.2e", fwd[j].l1);
      add(" %9.2e", fwd[j].hellinger);
      add(" %9.2e", fwd[j].kl);
      add(" %9.2e", fwd[j].noise_floor);
      if (w1) add(" %9.2e", fwd[j].w1);
    } else {
      row += std::string(w1 ? 50 : 40, ' ');
    }
    row += " |";
    if (!rev.empty()) {
      const std::size_t r = n - 1 - j;  // reverse output whose s matches T − t_j
      add(" %8.4f", s.rev_times[r]);
      add(" %9.2e", rev[r].l1);
      add(" %9.2e", rev[r].noise_floor);
      if (w1) add(" %9.2e", rev[r].w1);
    }
    if (!exact_l1.empty()) add(" | %12.2e", exact_l1[j]);
    os << row << "\n";
  }
  return os.str();
}

void write_comparisons(OutputFile& out, const std::string& prefix, const std::vector<Comparison>& c) {
  if (c.empty()) return;
  for (const auto& name : comparison_fields()) {
    std::vector<double> v;
    for (const auto& x : c) v.push_back(comparison_field(x, name));
    out.write_vector("/compare/" + prefix + name, v);
  }
}

void report_unused_petsc_options(MPI_Comm comm) {
  PetscInt n = 0;
  char** names = nullptr;
  char** values = nullptr;
  PetscOptionsLeftGet(nullptr, &n, &names, &values);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  for (PetscInt i = 0; rank == 0 && i < n; ++i)
    std::cerr << "twinflow: warning: PETSc option -" << names[i] << " was not used\n";
  PetscOptionsLeftRestore(nullptr, &n, &names, &values);
}

}  // namespace

int run(MPI_Comm comm, const RunArguments& args) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const OptionSet options = all_options();
  if (args.help) {
    if (rank == 0)
      std::cout << "usage: twinflow run [CONFIG.ini] [--key=value ...] [PETSc options]\n\n"
                << "Keys (INI sections map to the part before the dot); defaults shown:\n"
                << options.help_text()
                << "\nPETSc options (-ts_type, -ts_monitor, -ksp_type, -pc_type, -da_refine, -log_view, ...)\n"
                << "go to PETSc's options database; unused ones are reported at the end.\n";
    return kExitOk;
  }

  // Parse and validate everything before anything is written.
  Config config;
  std::unique_ptr<Experiment> experiment;
  std::string family;
  std::int64_t snapshots = 0, particle_count = 0;
  double horizon = 0;
  bool pde_on = true, particles_on = true;
  agree(comm, [&] {
    config = Config::parse(options, args.config_path, args.overrides);
    family = config.choice("family");
    horizon = config.real("time.end");
    snapshots = config.integer("time.snapshots");
    particle_count = config.integer("particles.count");
    config.integer("pde.steps");
    config.integer("seed");
    config.real("progress_interval");
    pde_on = config.boolean("pde.enabled");
    particles_on = config.boolean("particles.enabled");
    config.boolean("overwrite");
    config.boolean("quiet");
    if (!pde_on && !particles_on && !config.boolean("sampler_law"))
      throw UsageError("pde.enabled", "and particles.enabled are both false and sampler_law is off; accepted: "
                                      "at least one of them on");
    for (const auto& f : families())
      if (f.name == family) experiment = f.make(config, comm);
    Box::from_config(config, experiment->dim());
    if (config.boolean("sampler_law") && !experiment->has_sampler_law())
      throw UsageError("sampler_law", "is not available for family " + family +
                                          "; accepted: false, or true with the families ou and kinetic");
  });
  const bool quiet = config.boolean("quiet");
  Progress progress(comm, quiet, config.real("progress_interval"));
  if (rank == 0 && !quiet)
    std::cout << "twinflow " << kVersion << " (" << kGitSha << "), family " << family << "\n"
              << "# resolved configuration\n" << config.resolved_ini() << "\n" << std::flush;

  const Grid grid(comm, Box::from_config(config, experiment->dim()));
  const Box& box = grid.box();
  const Schedule sched = make_schedule(horizon, snapshots, experiment->reverse_steps());
  const bool reverse_on = particles_on && experiment->reverse_steps() > 0;

  PhaseTimer timer({"pde", "particles", "histogram", "compare", "io"});
  OutputFile out(comm, config.text("output"), config.boolean("overwrite"));
  {
    auto io = timer.scope("io");
    write_provenance(out, comm, config, family);
    out.write_grid(box);
    out.write_vector("/time", sched.times);
    if (pde_on) out.create_series("/pde/density", snapshots, box);
    if (particles_on) out.create_series("/particles/histogram", snapshots, box);
    if (reverse_on) {
      out.write_vector("/reverse/time", sched.rev_times);
      out.create_series("/reverse/histogram", snapshots, box);
      if (pde_on) out.create_series("/reverse/pde_density", snapshots, box);
    }
  }

  // Reference densities (owned blocks): the PDE where it runs, else the
  // closed form where the family has one.
  std::vector<std::vector<double>> ref(static_cast<std::size_t>(snapshots)), ref_rev(ref.size());
  std::vector<double> mass, exact_l1;
  bool have_reference = pde_on;
  if (pde_on) {
    std::set<double> stops(sched.times.begin(), sched.times.end());
    for (double s : sched.rev_times) stops.insert(horizon - s);
    const auto extra = experiment->pde_observation_times();
    stops.insert(extra.begin(), extra.end());
    const std::set<double> observe(extra.begin(), extra.end());
    std::unique_ptr<DensitySolver> pde;
    {
      auto t = timer.scope("pde");
      pde = experiment->make_density_solver(grid, &progress);
    }
    const auto fields = pde->extra_fields();
    for (const auto& f : fields) {
      auto io = timer.scope("io");
      out.create_series("/pde/" + f.name, snapshots, box, f.components);
      out.attribute("/pde/" + f.name, "components", static_cast<std::int64_t>(f.components));
    }
    for (double tau : stops) {
      {
        auto t = timer.scope("pde");
        pde->advance_to(tau);
      }
      std::vector<double> block;
      grid.owned_values(pde->density(), block);
      for (std::size_t j = 0; j < sched.times.size(); ++j) {
        if (sched.times[j] != tau) continue;
        ref[j] = block;
        experiment->observe_snapshot(j, tau, grid, block);
        auto io = timer.scope("io");
        out.write_field("/pde/density", static_cast<std::int64_t>(j), grid, block);
        std::vector<double> field;
        for (const auto& f : fields) {
          pde->extra_field(f.name, field);
          out.write_field("/pde/" + f.name, static_cast<std::int64_t>(j), grid, field);
        }
      }
      for (std::size_t j = 0; j < sched.rev_times.size(); ++j) {
        if (horizon - sched.rev_times[j] != tau || !reverse_on) continue;
        ref_rev[j] = block;
        auto io = timer.scope("io");
        out.write_field("/reverse/pde_density", static_cast<std::int64_t>(j), grid, block);
      }
      if (observe.count(tau)) experiment->observe_pde(tau, grid, *pde);
    }
    std::vector<double> exact;
    for (std::size_t j = 0; j < sched.times.size(); ++j) {
      auto c = timer.scope("compare");
      double s = 0;
      for (double v : ref[j]) s += v;
      MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, comm);
      mass.push_back(s * box.cell_volume());
      if (experiment->exact_density(sched.times[j], grid, exact))
        exact_l1.push_back(compare(comm, box, exact, ref[j], 0).l1);
    }
    char note[160];
    std::snprintf(note, sizeof note, "[pde      ] %lld steps, max relative mass drift %.2e",
                  static_cast<long long>(pde->steps()), pde->max_mass_drift());
    progress.note(note);
    auto io = timer.scope("io");
    out.write_vector("/compare/pde_mass", mass);
    if (!exact_l1.empty()) out.write_vector("/compare/pde_exact_l1", exact_l1);
    out.attribute("/pde/density", "max_relative_mass_drift", pde->max_mass_drift());
    out.attribute("/pde/density", "steps", pde->steps());
  } else {
    have_reference = true;
    for (std::size_t j = 0; j < sched.times.size() && have_reference; ++j) {
      have_reference = experiment->exact_density(sched.times[j], grid, ref[j]);
      if (reverse_on && have_reference) experiment->exact_density(horizon - sched.rev_times[j], grid, ref_rev[j]);
    }
  }

  std::vector<Comparison> fwd, rev;
  auto run_particles = [&](ParticleSampler& sampler, const std::string& series, bool reverse,
                           std::vector<std::vector<double>>& reference, std::vector<Comparison>& result) {
    std::vector<double> hist, block;
    for (std::size_t j = 0; j < sched.times.size(); ++j) {
      {
        auto t = timer.scope("particles");
        if (reverse)
          sampler.advance_to(sched.rev_steps[j], sched.rev_times[j]);
        else
          sampler.advance_to(static_cast<std::int64_t>(j), sched.times[j]);
      }
      progress.update(reverse ? "reverse" : "particles", reverse ? sched.rev_times[j] : sched.times[j], horizon,
                      reverse ? sched.rev_steps[j] : static_cast<std::int64_t>(j));
      const Ensemble& e = sampler.ensemble();
      {
        auto t = timer.scope("histogram");
        histogram(grid, e.x.data(), e.count, e.total, hist);
        grid.owned_from_replicated(hist, block);
      }
      {
        auto t = timer.scope("io");
        out.write_field(series, static_cast<std::int64_t>(j), grid, block);
      }
      experiment->observe_particles(j, reverse ? sched.rev_times[j] : sched.times[j], reverse, grid, block, sampler);
      if (have_reference) {
        auto t = timer.scope("compare");
        result.push_back(compare(comm, box, reference[j], block, e.total));
      }
    }
  };
  if (particles_on) {
    auto fwd_sampler = experiment->make_forward_sampler(Ensemble::partition(comm, particle_count, experiment->dim()));
    run_particles(*fwd_sampler, "/particles/histogram", false, ref, fwd);
  }
  if (reverse_on) {
    auto rev_sampler = experiment->make_reverse_sampler(Ensemble::partition(comm, particle_count, experiment->dim()));
    run_particles(*rev_sampler, "/reverse/histogram", true, ref_rev, rev);
  }
  const std::string family_report = experiment->finish(out, grid, progress);
  {
    auto io = timer.scope("io");
    write_comparisons(out, "", fwd);
    write_comparisons(out, "reverse_", rev);
    if (pde_on || !fwd.empty() || !rev.empty()) {
      out.attribute("/compare", "reference", std::string(pde_on ? "pde" : "exact"));
      out.attribute("/compare", "kl_direction", std::string("KL(histogram | reference)"));
    }
    out.commit();
    std::vector<std::string> series;
    if (pde_on) series.push_back("/pde/density");
    if (particles_on) series.push_back("/particles/histogram");
    write_xdmf(comm, out.path(), box, sched.times, series);
  }
  const std::string table = format_table(sched, fwd, rev, mass, exact_l1, pde_on ? "PDE" : "exact", box.dim == 1);
  const std::string timing = timer.report(comm);
  if (rank == 0) std::cout << table << family_report << timing << "\nwrote " << out.path() << "\n" << std::flush;
  report_unused_petsc_options(comm);
  return kExitOk;
}

}  // namespace twinflow
