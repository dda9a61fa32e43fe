#include "driver.hpp"

#include <H5public.h>
#include <petscsys.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "registry.hpp"
#include "twinflow/compare/metrics.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/run_control.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/io/checkpoint.hpp"
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
  o.add("restart", "", "resume an interrupted run from a checkpoint of its output: latest, or a checkpoint path "
        "(same command line otherwise; only output-only keys may change)",
        Accept::any_text("latest, or the path of a checkpoint listed in the output's manifest"));
  o.add("checkpoint.every", "off", "also write a checkpoint every N step boundaries or every X of simulated time",
        Accept::any_text("off, steps:N or time:X"));
  o.add("checkpoint.walltime", "0", "write a checkpoint and stop (exit 75) before this much wall time has passed",
        Accept::any_text("0 (off), seconds, or [[H:]M:]S"));
  o.add("checkpoint.keep", "2", "checkpoints kept (older ones are removed once a newer one is complete)",
        Accept::integer(1, 1e6));
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


// Keys that only change how a run reports or checkpoints itself: a restart
// may change them. Every other key changes the results and must match.
bool output_only_key(const std::string& key) {
  static const std::set<std::string> keys = {"quiet",           "progress_interval",   "overwrite", "restart",
                                             "checkpoint.every", "checkpoint.walltime", "checkpoint.keep"};
  return keys.count(key) > 0;
}

// key -> value of resolved INI text (Config::resolved_ini).
std::map<std::string, std::string> ini_values(const std::string& text) {
  std::map<std::string, std::string> values;
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2) + ".";
      continue;
    }
    const auto eq = line.find('=');
    if (eq != std::string::npos) values[section + trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return values;
}

// PETSc options that change results (monitors, viewers and logging do not).
std::string physics_petsc_options(const std::string& all) {
  std::istringstream in(all);
  std::string token, out;
  bool keep = false;
  while (in >> token) {
    if (token.size() > 1 && token[0] == '-' && !std::isdigit(static_cast<unsigned char>(token[1]))) {
      keep = token.find("monitor") == std::string::npos && token.find("view") == std::string::npos &&
             token.find("log") == std::string::npos && token.find("options_left") == std::string::npos;
    }
    if (keep) out += (out.empty() ? "" : " ") + token;
  }
  return out;
}

// Refuses a checkpoint whose run differs from this one in anything that
// changes the results. Not collective (the inputs are the same everywhere).
void check_same_physics(const std::string& checkpoint, const std::string& saved_ini, const Config& config,
                        const std::string& saved_petsc) {
  const auto before = ini_values(saved_ini), now = ini_values(config.resolved_ini());
  for (const auto& [key, value] : now) {
    if (output_only_key(key)) continue;
    const auto it = before.find(key);
    const std::string old = it == before.end() ? "(absent)" : it->second;
    if (old != value)
      throw UsageError(key, "is '" + value + "' but '" + old + "' in checkpoint '" + checkpoint +
                                "'; a restart keeps every key that changes the results; accepted: '" + old + "'");
  }
  const std::string petsc_before = physics_petsc_options(saved_petsc), petsc_now = physics_petsc_options(petsc_options_text());
  if (petsc_before != petsc_now)
    throw UsageError("PETSc options", "are '" + petsc_now + "' but '" + petsc_before + "' in checkpoint '" +
                                          checkpoint + "'; accepted: the same solver options (monitors, "
                                          "viewers and -log_* may change)");
}

// A token naming this run in its output and its checkpoints.
std::string new_run_id(MPI_Comm comm) {
  std::string id(16, '0');
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    std::random_device device;
    std::snprintf(id.data(), id.size() + 1, "%08x%08x", device(), device());
  }
  MPI_Bcast(id.data(), static_cast<int>(id.size()), MPI_CHAR, 0, comm);
  return id;
}

// The comparisons at the outputs done so far, one array per member.
void checkpoint_comparisons(CheckpointArchive a, std::vector<Comparison>& c) {
  static const std::vector<std::pair<std::string, double Comparison::*>> members = {
      {"l1", &Comparison::l1},     {"hellinger", &Comparison::hellinger}, {"kl", &Comparison::kl},
      {"noise_floor", &Comparison::noise_floor}, {"w1", &Comparison::w1}, {"mass_p", &Comparison::mass_p},
      {"mass_q", &Comparison::mass_q}};
  for (const auto& [name, member] : members) {
    std::vector<double> v;
    for (const auto& x : c) v.push_back(x.*member);
    a.replicated(name, v);
    if (!a.saving()) {
      c.resize(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) c[i].*member = v[i];
    }
  }
}

/// One run: the phases PDE → forward particles → reverse particles →
/// finish, each resumable at its step boundaries from a checkpoint. All
/// member functions are collective.
class TwinRun {
 public:
  enum Phase : std::int64_t { kPde = 0, kForward = 1, kReverse = 2, kFinish = 3 };

  TwinRun(MPI_Comm comm, const Config& config, std::unique_ptr<Experiment> experiment, const std::string& family)
      : comm_(comm),
        config_(config),
        experiment_(std::move(experiment)),
        family_(family),
        grid_(comm, Box::from_config(config, experiment_->dim())),
        horizon_(config.real("time.end")),
        sched_(make_schedule(horizon_, config.integer("time.snapshots"), experiment_->reverse_steps())),
        pde_on_(config.boolean("pde.enabled")),
        particles_on_(config.boolean("particles.enabled")),
        reverse_on_(particles_on_ && experiment_->reverse_steps() > 0),
        particle_count_(config.integer("particles.count")),
        progress_(comm, config.boolean("quiet"), config.real("progress_interval")),
        control_(comm, RunControl::Every::parse("checkpoint.every", config.text("checkpoint.every")),
                 RunControl::parse_walltime("checkpoint.walltime", config.text("checkpoint.walltime"))),
        series_(config.text("output")),
        ref_(sched_.times.size()),
        ref_rev_(sched_.times.size()) {
    MPI_Comm_rank(comm_, &rank_);
    std::set<double> stops(sched_.times.begin(), sched_.times.end());
    for (double s : sched_.rev_times) stops.insert(horizon_ - s);
    const auto extra = experiment_->pde_observation_times();
    stops.insert(extra.begin(), extra.end());
    stops_.assign(stops.begin(), stops.end());
    observe_.insert(extra.begin(), extra.end());
  }

  Progress& progress() { return progress_; }

  /// Starts afresh, or continues from an open checkpoint. Returns kExitOk,
  /// or kExitCheckpointed when it stopped early after a checkpoint.
  int execute(CheckpointFile* resume) {
    const Box& box = grid_.box();
    if (resume) {
      archive_.emplace(resume->archive());
      archive_->value("sequence", sequence_);
      archive_->value("run_id", run_id_);
      CheckpointArchive driver = archive_->scope("driver");
      checkpoint_driver(driver);
      CheckpointArchive family = archive_->scope("experiment");
      experiment_->checkpoint(family);
      out_.emplace(comm_, config_.text("output"), OutputFile::Resume{});
      agree(comm_, [&] {
        if (out_->string_attribute("/", "run_id") != run_id_)
          throw UsageError("restart", "the output '" + out_->partial_path() + "' was written by another run than "
                                      "the checkpoint; accepted: the checkpoint of that output's run");
      });
      load_references();
      char note[200];
      std::snprintf(note, sizeof note, "[restart  ] from checkpoint %lld, phase %s, output %lld",
                    static_cast<long long>(sequence_), phase_name(), static_cast<long long>(position_));
      progress_.note(note);
    } else {
      run_id_ = new_run_id(comm_);
      out_.emplace(comm_, config_.text("output"), config_.boolean("overwrite"));
      auto io = timer_.scope("io");
      write_provenance(*out_, comm_, config_, family_);
      out_->attribute("/", "run_id", run_id_);
      out_->write_grid(box);
      out_->write_vector("/time", sched_.times);
      const auto n = static_cast<std::int64_t>(sched_.times.size());
      if (pde_on_) out_->create_series("/pde/density", n, box);
      if (particles_on_) out_->create_series("/particles/histogram", n, box);
      if (reverse_on_) {
        out_->write_vector("/reverse/time", sched_.rev_times);
        out_->create_series("/reverse/histogram", n, box);
        if (pde_on_) out_->create_series("/reverse/pde_density", n, box);
      }
      out_->flush();
    }
    if (!pde_on_) exact_references();
    if (phase_ == kPde && !pde_phase()) return stop();
    if (phase_ == kForward && !particle_phase(false)) return stop();
    if (phase_ == kReverse && !particle_phase(true)) return stop();
    finish();
    return kExitOk;
  }

 private:
  const char* phase_name() const {
    static const char* names[] = {"pde", "forward", "reverse", "finish"};
    return names[phase_];
  }

  // Where the run is, what it has compared so far, and the step-boundary count.
  void checkpoint_driver(CheckpointArchive& a) {
    std::int64_t phase = phase_;
    a.value("phase", phase);
    phase_ = static_cast<Phase>(phase);
    a.value("position", position_);
    a.value("reverse_steps_done", reverse_done_);
    a.value("step_boundaries", control_.boundaries());
    a.replicated("pde_mass", mass_);
    a.replicated("pde_exact_l1", exact_l1_);
    checkpoint_comparisons(a.scope("forward"), fwd_);
    checkpoint_comparisons(a.scope("reverse"), rev_);
  }

  // Writes checkpoint number sequence_ + 1 with the solver or sampler of the
  // phase in progress. Returns true when the run must stop now.
  bool serve(RunControl::Action action, DensitySolver* pde, ParticleSampler* sampler) {
    if (action == RunControl::Action::kContinue) return false;
    const double start = MPI_Wtime();
    {
      auto t = timer_.scope("checkpoint");
      out_->flush();
      out_->retain();  // the checkpoint continues this output
      ++sequence_;
      const std::string path = series_.path_of(sequence_);
      CheckpointFile file = CheckpointFile::create(comm_, path);
      CheckpointArchive a = file.archive();
      int size = 1;
      MPI_Comm_size(comm_, &size);
      std::string schema = "twinflow-checkpoint", family = family_, ini = config_.resolved_ini(),
                  petsc = petsc_options_text(), phase = phase_name(), output = config_.text("output");
      std::int64_t version = 1, ranks = size;
      a.value("schema", schema);
      a.value("schema_version", version);
      a.value("family", family);
      a.value("config", ini);
      a.value("petsc_options", petsc);
      a.value("output", output);
      a.value("run_id", run_id_);
      a.value("sequence", sequence_);
      a.value("phase_name", phase);
      a.value("nranks", ranks);
      CheckpointArchive driver = a.scope("driver");
      checkpoint_driver(driver);
      CheckpointArchive family_state = a.scope("experiment");
      experiment_->checkpoint(family_state);
      if (pde) {
        CheckpointArchive s = a.scope("pde");
        pde->checkpoint(s);
      }
      if (sampler) {
        CheckpointArchive s = a.scope("particles");
        sampler->checkpoint(s);
      }
      file.commit();
      on_root_and_agree(comm_, [&] { series_.publish(sequence_, config_.integer("checkpoint.keep")); });
    }
    const double seconds = MPI_Wtime() - start;
    control_.checkpoint_written(seconds);
    const bool stop_now = action == RunControl::Action::kCheckpointAndStop;
    char note[400];
    std::snprintf(note, sizeof note, "[checkpoint] %s (phase %s, %.2f s)%s%s", series_.path_of(sequence_).c_str(),
                  phase_name(), seconds, stop_now ? ", stopping on " : "",
                  stop_now ? control_.stop_reason().c_str() : "");
    progress_.note(note);
    return stop_now;
  }

  int stop() {
    out_->suspend();
    if (rank_ == 0)
      std::cout << "twinflow: checkpointed on " << control_.stop_reason() << "; resume with the same command and "
                << "--restart=latest (exit code " << kExitCheckpointed << ")\n"
                << timer_.report(comm_) << std::flush;
    else
      timer_.report(comm_);
    return kExitCheckpointed;
  }

  // Takes the restored solver or sampler state of the phase being resumed.
  template <class T>
  void restore(const char* scope, T& object) {
    if (!archive_) return;
    CheckpointArchive a = archive_->scope(scope);
    object.checkpoint(a);
    archive_.reset();
  }

  // A resumed run's reference densities so far, read back from its output.
  void load_references() {
    if (!pde_on_) return;
    const double done = phase_ > kPde ? horizon_ : (position_ > 0 ? stops_[position_ - 1] : -1.0);
    auto io = timer_.scope("io");
    for (std::size_t j = 0; j < sched_.times.size(); ++j) {
      if (sched_.times[j] <= done) out_->read_field("/pde/density", static_cast<std::int64_t>(j), grid_, ref_[j]);
      if (reverse_on_ && horizon_ - sched_.rev_times[j] <= done)
        out_->read_field("/reverse/pde_density", static_cast<std::int64_t>(j), grid_, ref_rev_[j]);
    }
  }

  // Without the PDE, the closed form (where the family has one) is the reference.
  void exact_references() {
    have_reference_ = true;
    for (std::size_t j = 0; j < sched_.times.size() && have_reference_; ++j) {
      have_reference_ = experiment_->exact_density(sched_.times[j], grid_, ref_[j]);
      if (reverse_on_ && have_reference_) experiment_->exact_density(horizon_ - sched_.rev_times[j], grid_, ref_rev_[j]);
    }
  }

  bool pde_phase() {
    if (!pde_on_) {
      phase_ = kForward;
      return true;
    }
    const Box& box = grid_.box();
    std::unique_ptr<DensitySolver> pde;
    {
      auto t = timer_.scope("pde");
      pde = experiment_->make_density_solver(grid_, &progress_);
    }
    const auto fields = pde->extra_fields();
    {
      auto io = timer_.scope("io");
      for (const auto& f : fields) {
        out_->create_series("/pde/" + f.name, static_cast<std::int64_t>(sched_.times.size()), box, f.components);
        out_->attribute("/pde/" + f.name, "components", static_cast<std::int64_t>(f.components));
      }
      out_->flush();
    }
    restore("pde", *pde);
    control_.begin_phase(pde->time());
    RunControl::Action pending = RunControl::Action::kContinue;
    const DensitySolver::StepHook hook = [&](double t) {
      pending = control_.at_step_boundary(t);
      return pending != RunControl::Action::kContinue;
    };
    for (; position_ < static_cast<std::int64_t>(stops_.size()); ++position_) {
      const double tau = stops_[static_cast<std::size_t>(position_)];
      for (bool reached = false; !reached;) {
        {
          auto t = timer_.scope("pde");
          reached = pde->advance_to(tau, hook);
        }
        if (serve(pending, pde.get(), nullptr)) return false;
        pending = RunControl::Action::kContinue;
      }
      pde_outputs(tau, *pde, fields);
    }
    std::vector<double> exact;
    for (std::size_t j = 0; j < sched_.times.size(); ++j) {
      auto c = timer_.scope("compare");
      double s = 0;
      for (double v : ref_[j]) s += v;
      MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, comm_);
      mass_.push_back(s * box.cell_volume());
      if (experiment_->exact_density(sched_.times[j], grid_, exact))
        exact_l1_.push_back(compare(comm_, box, exact, ref_[j], 0).l1);
    }
    char note[160];
    std::snprintf(note, sizeof note, "[pde      ] %lld steps, max relative mass drift %.2e",
                  static_cast<long long>(pde->steps()), pde->max_mass_drift());
    progress_.note(note);
    auto io = timer_.scope("io");
    out_->write_vector("/compare/pde_mass", mass_);
    if (!exact_l1_.empty()) out_->write_vector("/compare/pde_exact_l1", exact_l1_);
    out_->attribute("/pde/density", "max_relative_mass_drift", pde->max_mass_drift());
    out_->attribute("/pde/density", "steps", pde->steps());
    out_->flush();
    phase_ = kForward;
    position_ = 0;
    return true;
  }

  // Everything that happens when the PDE reaches a stop.
  void pde_outputs(double tau, const DensitySolver& pde, const std::vector<DensitySolver::Field>& fields) {
    std::vector<double> block;
    grid_.owned_values(pde.density(), block);
    for (std::size_t j = 0; j < sched_.times.size(); ++j) {
      if (sched_.times[j] != tau) continue;
      ref_[j] = block;
      experiment_->observe_snapshot(j, tau, grid_, block);
      auto io = timer_.scope("io");
      out_->write_field("/pde/density", static_cast<std::int64_t>(j), grid_, block);
      std::vector<double> field;
      for (const auto& f : fields) {
        pde.extra_field(f.name, field);
        out_->write_field("/pde/" + f.name, static_cast<std::int64_t>(j), grid_, field);
      }
      out_->flush();
    }
    for (std::size_t j = 0; j < sched_.rev_times.size(); ++j) {
      if (horizon_ - sched_.rev_times[j] != tau || !reverse_on_) continue;
      ref_rev_[j] = block;
      auto io = timer_.scope("io");
      out_->write_field("/reverse/pde_density", static_cast<std::int64_t>(j), grid_, block);
      out_->flush();
    }
    if (observe_.count(tau)) experiment_->observe_pde(tau, grid_, pde);
  }

  bool particle_phase(bool reverse) {
    if (!(reverse ? reverse_on_ : particles_on_)) {
      phase_ = reverse ? kFinish : kReverse;
      return true;
    }
    const Ensemble layout = Ensemble::partition(comm_, particle_count_, experiment_->dim());
    auto sampler = reverse ? experiment_->make_reverse_sampler(layout) : experiment_->make_forward_sampler(layout);
    restore("particles", *sampler);
    const std::size_t n = sched_.times.size();
    const double h = reverse ? horizon_ / static_cast<double>(experiment_->reverse_steps()) : 0;
    control_.begin_phase(reverse ? static_cast<double>(reverse_done_) * h
                                 : (position_ > 0 ? sched_.times[static_cast<std::size_t>(position_ - 1)] : 0.0));
    while (position_ < static_cast<std::int64_t>(n)) {
      const auto j = static_cast<std::size_t>(position_);
      if (reverse) {
        // Reverse samplers step one step at a time, each a step boundary.
        while (reverse_done_ < sched_.rev_steps[j]) {
          {
            auto t = timer_.scope("particles");
            sampler->advance_to(reverse_done_ + 1, static_cast<double>(reverse_done_ + 1) * h);
          }
          ++reverse_done_;
          if (serve(control_.at_step_boundary(static_cast<double>(reverse_done_) * h), nullptr, sampler.get()))
            return false;
        }
        particle_outputs(j, true, *sampler);
        ++position_;
      } else {
        // Forward samplers jump exactly from output to output: each output
        // is a step boundary.
        {
          auto t = timer_.scope("particles");
          sampler->advance_to(position_, sched_.times[j]);
        }
        particle_outputs(j, false, *sampler);
        ++position_;
        if (serve(control_.at_step_boundary(sched_.times[j]), nullptr, sampler.get())) return false;
      }
    }
    phase_ = reverse ? kFinish : kReverse;
    position_ = 0;
    reverse_done_ = 0;
    return true;
  }

  void particle_outputs(std::size_t j, bool reverse, const ParticleSampler& sampler) {
    const double t = reverse ? sched_.rev_times[j] : sched_.times[j];
    progress_.update(reverse ? "reverse" : "particles", t, horizon_,
                     reverse ? sched_.rev_steps[j] : static_cast<std::int64_t>(j));
    const Ensemble& e = sampler.ensemble();
    std::vector<double> hist, block;
    {
      auto s = timer_.scope("histogram");
      histogram(grid_, e.x.data(), e.count, e.total, hist);
      grid_.owned_from_replicated(hist, block);
    }
    {
      auto s = timer_.scope("io");
      out_->write_field(reverse ? "/reverse/histogram" : "/particles/histogram", static_cast<std::int64_t>(j), grid_,
                        block);
      out_->flush();
    }
    experiment_->observe_particles(j, t, reverse, grid_, block, sampler);
    if (have_reference_) {
      auto s = timer_.scope("compare");
      auto& result = reverse ? rev_ : fwd_;
      result.resize(j);
      result.push_back(compare(comm_, grid_.box(), reverse ? ref_rev_[j] : ref_[j], block, e.total));
    }
  }

  void finish() {
    const Box& box = grid_.box();
    const std::string family_report = experiment_->finish(*out_, grid_, progress_);
    {
      auto io = timer_.scope("io");
      write_comparisons(*out_, "", fwd_);
      write_comparisons(*out_, "reverse_", rev_);
      if (pde_on_ || !fwd_.empty() || !rev_.empty()) {
        out_->attribute("/compare", "reference", std::string(pde_on_ ? "pde" : "exact"));
        out_->attribute("/compare", "kl_direction", std::string("KL(histogram | reference)"));
      }
      out_->commit();
      std::vector<std::string> series;
      if (pde_on_) series.push_back("/pde/density");
      if (particles_on_) series.push_back("/particles/histogram");
      write_xdmf(comm_, out_->path(), box, sched_.times, series);
      on_root_and_agree(comm_, [&] { series_.remove_all(); });
    }
    const std::string table =
        format_table(sched_, fwd_, rev_, mass_, exact_l1_, pde_on_ ? "PDE" : "exact", box.dim == 1);
    const std::string timing = timer_.report(comm_);
    if (rank_ == 0) std::cout << table << family_report << timing << "\nwrote " << out_->path() << "\n" << std::flush;
  }

  MPI_Comm comm_;
  int rank_ = 0;
  const Config& config_;
  std::unique_ptr<Experiment> experiment_;
  std::string family_;
  const Grid grid_;
  double horizon_;
  const Schedule sched_;
  const bool pde_on_, particles_on_, reverse_on_;
  const std::int64_t particle_count_;
  std::vector<double> stops_;   ///< every time the PDE stops at, ascending
  std::set<double> observe_;    ///< the stops the experiment observes
  PhaseTimer timer_{{"pde", "particles", "histogram", "compare", "io", "checkpoint"}};
  Progress progress_;
  RunControl control_;
  CheckpointSeries series_;
  std::optional<OutputFile> out_;
  std::optional<CheckpointArchive> archive_;  ///< the checkpoint being resumed, until its phase takes it
  std::string run_id_;
  std::int64_t sequence_ = 0;
  // Where the run is: the phase, the next stop (PDE) or output (particles),
  // and the reverse steps taken.
  Phase phase_ = kPde;
  std::int64_t position_ = 0, reverse_done_ = 0;
  bool have_reference_ = true;
  std::vector<std::vector<double>> ref_, ref_rev_;  ///< reference densities (owned blocks)
  std::vector<double> mass_, exact_l1_;
  std::vector<Comparison> fwd_, rev_;
};

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
  agree(comm, [&] {
    config = Config::parse(options, args.config_path, args.overrides);
    family = config.choice("family");
    config.real("time.end");
    config.integer("time.snapshots");
    config.integer("particles.count");
    config.integer("pde.steps");
    config.integer("seed");
    config.real("progress_interval");
    const bool pde_on = config.boolean("pde.enabled"), particles_on = config.boolean("particles.enabled");
    config.boolean("overwrite");
    config.boolean("quiet");
    if (config.text("output").empty()) throw UsageError("output", "is empty; accepted: a file path");
    config.integer("checkpoint.keep");
    RunControl::Every::parse("checkpoint.every", config.text("checkpoint.every"));
    RunControl::parse_walltime("checkpoint.walltime", config.text("checkpoint.walltime"));
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

  // A fresh run must not silently abandon an interrupted one; a restart
  // needs an intact checkpoint of a run that has not finished.
  const std::string output = config.text("output"), restart = config.text("restart");
  const CheckpointSeries series(output);
  std::string checkpoint_path;
  on_root_and_agree(comm, [&] {
    const bool have_manifest = std::filesystem::exists(series.manifest_path());
    if (restart.empty()) {
      if (have_manifest && !config.boolean("overwrite"))
        throw UsageError("restart", "is not given but checkpoints of this output exist ('" + series.manifest_path() +
                                        "'); accepted: --restart=latest to resume, or --overwrite to start afresh");
      if (have_manifest) series.remove_all();
      return;
    }
    if (std::filesystem::exists(output))
      throw UsageError("restart", "the run has finished: '" + output + "' exists; accepted: no --restart for a new "
                                  "run (with --overwrite to replace it)");
    checkpoint_path = series.path_of(series.resolve(restart));
  });
  int length = static_cast<int>(checkpoint_path.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, comm);
  checkpoint_path.resize(static_cast<std::size_t>(length));
  MPI_Bcast(checkpoint_path.data(), length, MPI_CHAR, 0, comm);
  std::optional<CheckpointFile> checkpoint;
  if (!restart.empty()) {
    checkpoint.emplace(CheckpointFile::open(comm, checkpoint_path));
    CheckpointArchive a = checkpoint->archive();
    agree(comm, [&] {
      std::string schema, ini, petsc;
      try {
        a.value("schema", schema);
        a.value("config", ini);
        a.value("petsc_options", petsc);
      } catch (const RuntimeFailure&) {
        schema.clear();
      }
      if (schema != "twinflow-checkpoint")
        throw UsageError("restart", "'" + checkpoint_path + "' is not a twinflow checkpoint; accepted: latest, or "
                                    "a checkpoint listed in '" + series.manifest_path() + "'");
      check_same_physics(checkpoint_path, ini, config, petsc);
    });
  }

  const bool quiet = config.boolean("quiet");
  if (rank == 0 && !quiet)
    std::cout << "twinflow " << kVersion << " (" << kGitSha << "), family " << family << "\n"
              << "# resolved configuration\n" << config.resolved_ini() << "\n" << std::flush;
  TwinRun twin(comm, config, std::move(experiment), family);
  const int code = twin.execute(checkpoint ? &*checkpoint : nullptr);
  report_unused_petsc_options(comm);
  return code;
}

}  // namespace twinflow
