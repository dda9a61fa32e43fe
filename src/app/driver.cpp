#include "driver.hpp"

#include <H5public.h>
#include <petscsys.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/core/petsc_error.hpp"
#include "twinflow/core/run_control.hpp"
#include "twinflow/core/timing.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"
#include "twinflow/io/xdmf.hpp"
#include "twinflow/version.hpp"

namespace twinflow {

namespace {

/// Version of the checkpoint layout: 2 is the run model of stages, spaces,
/// twins and the field store; 3 saves samplers' per-rank event counts as
/// their sums (CheckpointArchive::rank_counts); 4 keeps what a family's
/// prepare() computed (the mfg kernel score); 5 trains the kac neural
/// velocity in a stage of its own, its state with the family's; 6 keeps the
/// spin master equations' end figures with the family's state.
constexpr std::int64_t kCheckpointSchema = 6;

// The platform defaults each family changes, for --help.
std::string family_defaults_text(const std::vector<Family>& families) {
  std::string text;
  for (const auto& f : families) {
    if (f.defaults.empty()) continue;
    text += "\nFamily " + f.name + " changes the defaults of:";
    for (const auto& [key, value] : f.defaults) text += " " + key + "=" + value;
    text += "\n";
  }
  return text;
}

}  // namespace

OptionSet all_options(const std::vector<Family>& families) {
  OptionSet o;
  std::vector<std::string> family_names;
  for (const auto& f : families) family_names.push_back(f.name);
  o.add("family", "ou", "model family", Accept::choice(family_names));
  o.add("output", "twinflow.h5", "HDF5 output path (grid runs: XDMF sidecars .xmf, .xmf2 for ParaView beside it)",
        Accept::any_text("a path in a writable directory"));
  o.add("overwrite", "false", "replace an existing output file", Accept::boolean());
  o.add("seed", "1", "seed of the counter-based RNG", Accept::integer(0, 9.007199254740992e15));
  o.add("quiet", "false", "no progress lines", Accept::boolean());
  o.add("progress_interval", "2", "seconds between progress lines", Accept::positive_real());
  o.add("grid.dim", "1",
        "space dimension d of the data (kinetic: the state is phase space (x, v), 2d axes); beyond 3 (the PDE "
        "grid's limit) a run has particles only, compared on the sample space",
        Accept::integer(1, 64));
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
  for (const auto& f : families) {
    o.set_family(f.name);
    f.declare_options(o);
  }
  o.set_family("");
  return o;
}

RunArguments split_run_arguments(const std::vector<std::string>& tokens, const OptionSet& options) {
  static const std::set<std::string> booleans = {"true", "false", "1", "0", "yes", "no", "on", "off"};
  RunArguments a;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == "--help" || t == "-h") {
      a.help = true;
    } else if (t.rfind("--", 0) == 0) {
      // `--key value`: the next token is the value when the key is declared,
      // takes a value, and the token is not an option itself.
      const OptionSet::Key* key = t.find('=') == std::string::npos ? options.find(t.substr(2)) : nullptr;
      const bool value_next = key && i + 1 < tokens.size() && tokens[i + 1].rfind("-", 0) != 0 &&
                              (key->accept.kind != Accept::Kind::kBoolean || booleans.count(tokens[i + 1]));
      a.overrides.push_back(value_next ? t + "=" + tokens[++i] : t);
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
      throw UsageError("config", "'" + t + "' is a second config file; accepted: one INI file, then --key=value "
                                 "overrides (a value after a space belongs to a key: --ou.steps 50)");
    }
  }
  return a;
}

namespace {

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
  TF_CHECK_PETSC(PetscOptionsGetAll(nullptr, &all));
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
  for (std::string* s : {&created, &job, &task}) broadcast(comm, *s);
  out.attribute("/", "created_utc", created);
  out.attribute("/", "config", config.resolved_ini(family));
  out.attribute("/", "petsc_options", petsc_options_text());
  if (!job.empty()) out.attribute("/", "slurm_job_id", job);
  if (!task.empty()) out.attribute("/", "slurm_array_task_id", task);
}

// Unused PETSc options, reported once every stage is set up (every PETSc
// object that reads options exists then), before the long work. A PETSc
// option is usually a typo when nothing read it.
void report_unused_petsc_options(MPI_Comm comm) {
  PetscInt n = 0;
  char** names = nullptr;
  char** values = nullptr;
  TF_CHECK_PETSC(PetscOptionsLeftGet(nullptr, &n, &names, &values));
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  for (PetscInt i = 0; rank == 0 && i < n; ++i)
    std::cerr << "twinflow: warning: PETSc option -" << names[i] << " is not used by this run (a typo?)\n";
  TF_CHECK_PETSC(PetscOptionsLeftRestore(nullptr, &n, &names, &values));
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
      const std::string name = line.substr(1, line.size() - 2);
      section = name == "general" ? "" : name + ".";
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
void check_same_physics(const std::string& checkpoint, const std::string& saved_ini, const std::string& ini,
                        const std::string& saved_petsc) {
  const auto before = ini_values(saved_ini), now = ini_values(ini);
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
  broadcast(comm, id);
  return id;
}

/// One run: the family's stages in order, each resumable at its step
/// boundaries from a checkpoint, and the twins computed as samples arrive.
/// All member functions are collective.
class TwinRun : public StageContext {
 public:
  /// `resume`: the checkpoint execute() will continue from, or null.
  TwinRun(MPI_Comm comm, const Config& config, std::unique_ptr<Experiment> experiment, const std::string& family,
          CheckpointFile* resume)
      : comm_(comm),
        config_(config),
        experiment_(std::move(experiment)),
        family_(family),
        ini_(config.resolved_ini(family)),
        seed_(static_cast<std::uint64_t>(config.integer("seed"))),
        store_(comm),
        progress_(comm, config.boolean("quiet"), config.real("progress_interval")),
        control_(comm, RunControl::Every::parse("checkpoint.every", config.text("checkpoint.every")),
                 RunControl::parse_walltime("checkpoint.walltime", config.text("checkpoint.walltime"))),
        series_(config.text("output")),
        setup_{config, comm, {}, store_, progress_} {
    MPI_Comm_rank(comm_, &rank_);
    timer_.add("setup");
    auto t = timer_.scope("setup");
    set_failure_context("while setting the run up");
    if (resume) {
      CheckpointArchive saved = resume->archive().scope("prepared");
      experiment_->checkpoint_prepared(saved);
    }
    experiment_->prepare(resume != nullptr);
    spaces_ = experiment_->spaces(comm_);
    for (const auto& s : spaces_) setup_.spaces.push_back(s.get());
    names_ = experiment_->stages();
    for (const auto& name : names_) {
      timer_.add(name);
      collective_point(comm_);
      stages_.push_back(experiment_->make_stage(name, setup_));
    }
    for (auto& twin : experiment_->twins(setup_)) twins_.emplace_back(std::move(twin));
    for (const char* service : {"histogram", "compare", "io", "checkpoint"}) timer_.add(service);
    report_unused_petsc_options(comm_);
  }

  /// Starts afresh, or continues from an open checkpoint. Returns kExitOk,
  /// or kExitCheckpointed when it stopped early after a checkpoint.
  int execute(CheckpointFile* resume) {
    try {
      return execute_agreed(resume);
    } catch (...) {
      // A failed run keeps what it wrote as <output>.partial, for a look at
      // how far it got (it cannot be resumed without a checkpoint); the
      // other ranks learn of the failure here if not before.
      if (out_) out_->retain();
      agree(comm_, std::current_exception());
      throw;
    }
  }

 private:
  int execute_agreed(CheckpointFile* resume) {
    if (resume) {
      restore(*resume);
    } else {
      run_id_ = new_run_id(comm_);
      out_.emplace(comm_, config_.text("output"), config_.boolean("overwrite"));
      auto io = timer_.scope("io");
      write_provenance(*out_, comm_, config_, family_);
      out_->attribute("/", "run_id", run_id_);
      for (const auto& s : spaces_) s->write_axes(*out_);
      experiment_->prepare_output(*out_);
      for (const auto& s : stages_) s->prepare_output(*out_);
      out_->flush();
    }
    for (; stage_ < stages_.size(); ++stage_) {
      Stage& stage = *stages_[stage_];
      set_failure_context("in stage '" + names_[stage_] + "'");
      auto t = timer_.scope(names_[stage_]);
      stage.begin(*this);
      if (archive_) {
        CheckpointArchive a = archive_->scope("stage");
        stage.checkpoint(a);
        archive_.reset();
      }
      progress_.begin_stage(names_[stage_], stage.clock(), stage.clock_now(), stage.clock_end());
      control_.begin_phase(stage.clock_now());
      steps_in_stage_ = 0;
      if (!stage.run(*this)) return stop();
      stage.finish(*this);
    }
    finish();
    return kExitOk;
  }

  // StageContext
 public:
  bool boundary(double clock) override {
    ++steps_in_stage_;
    char where[160];
    std::snprintf(where, sizeof where, "in stage '%s' after %s = %.6g", names_[stage_].c_str(),
                  stages_[stage_]->clock().c_str(), clock);
    set_failure_context(where);
    const Stage& stage = *stages_[stage_];
    progress_.update(clock, steps_in_stage_, [&] { return stage.progress_detail(); });
    return serve(control_.at_step_boundary(clock));
  }

  void samples(std::size_t j, double clock, const Ensemble& e, const CellSpace* space,
               const std::vector<double>* histogram) override {
    auto c = timer_.scope("compare");
    for (auto& t : twins_) {
      if (t.twin().stage != names_[stage_]) continue;
      const StateSpace& s = space_named(t.twin().space);
      t.add(j, clock, s, e, &s == space ? histogram : nullptr, seed_);
    }
  }

  OutputFile& out() override { return *out_; }
  FieldStore& store() override { return store_; }
  PhaseTimer& timer() override { return timer_; }
  Progress& progress() override { return progress_; }

 private:
  const StateSpace& space_named(const std::string& name) const { return setup_.space(name); }

  std::vector<const CellSpace*> cell_spaces() const {
    std::vector<const CellSpace*> c;
    for (const auto& s : spaces_)
      if (const auto* cells = dynamic_cast<const CellSpace*>(s.get())) c.push_back(cells);
    return c;
  }

  void restore(CheckpointFile& file) {
    archive_.emplace(file.archive());
    archive_->value("sequence", sequence_);
    archive_->value("run_id", run_id_);
    std::int64_t stage = 0;
    {
      CheckpointArchive driver = archive_->scope("driver");
      driver.value("stage_index", stage);
      driver.value("step_boundaries", control_.boundaries());
    }
    stage_ = static_cast<std::size_t>(stage);
    checkpoint_twins(*archive_);
    CheckpointArchive family = archive_->scope("experiment");
    experiment_->checkpoint(family);
    out_.emplace(comm_, config_.text("output"), OutputFile::Resume{});
    agree(comm_, [&] {
      if (out_->string_attribute("/", "run_id") != run_id_)
        throw UsageError("restart", "the output '" + out_->partial_path() + "' was written by another run than "
                                    "the checkpoint; accepted: the checkpoint of that output's run");
    });
    CheckpointArchive fields = archive_->scope("fields");
    store_.checkpoint(fields, *out_, cell_spaces());
    progress_.note("[restart  ] from checkpoint " + std::to_string(sequence_) + ", stage " + names_.at(stage_));
  }

  void checkpoint_twins(CheckpointArchive& a) {
    CheckpointArchive all = a.scope("twins");
    for (auto& t : twins_) {
      CheckpointArchive one = all.scope(t.twin().name);
      t.checkpoint(one);
    }
  }

  // Writes checkpoint number sequence_ + 1 when the action asks for one.
  // Returns true when the run must stop now.
  bool serve(RunControl::Action action) {
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
      std::string schema = "twinflow-checkpoint", family = family_, ini = ini_, petsc = petsc_options_text(),
                  stage = names_[stage_], output = config_.text("output");
      std::int64_t version = kCheckpointSchema, ranks = size, index = static_cast<std::int64_t>(stage_);
      a.value("schema", schema);
      a.value("schema_version", version);
      a.value("family", family);
      a.value("config", ini);
      a.value("petsc_options", petsc);
      a.value("output", output);
      a.value("run_id", run_id_);
      a.value("sequence", sequence_);
      a.value("stage", stage);
      a.value("nranks", ranks);
      {
        CheckpointArchive driver = a.scope("driver");
        driver.value("stage_index", index);
        driver.value("step_boundaries", control_.boundaries());
      }
      checkpoint_twins(a);
      CheckpointArchive fields = a.scope("fields");
      store_.checkpoint(fields, *out_, cell_spaces());
      CheckpointArchive family_state = a.scope("experiment");
      experiment_->checkpoint(family_state);
      CheckpointArchive prepared = a.scope("prepared");
      experiment_->checkpoint_prepared(prepared);
      CheckpointArchive stage_state = a.scope("stage");
      stages_[stage_]->checkpoint(stage_state);
      file.commit();
      on_root_and_agree(comm_, [&] { series_.publish(sequence_, config_.integer("checkpoint.keep")); });
    }
    const double seconds = MPI_Wtime() - start;
    control_.checkpoint_written(seconds);
    const bool stop_now = action == RunControl::Action::kCheckpointAndStop;
    char note[400];
    std::snprintf(note, sizeof note, "[checkpoint] %s (stage %s, %.2f s)%s%s", series_.path_of(sequence_).c_str(),
                  names_[stage_].c_str(), seconds, stop_now ? ", stopping on " : "",
                  stop_now ? control_.stop_reason().c_str() : "");
    progress_.note(note);
    return stop_now;
  }

  int stop() {
    out_->suspend();
    const std::string timing = timer_.report(comm_);
    if (rank_ == 0)
      std::cout << "twinflow: checkpointed on " << control_.stop_reason() << "; resume with the same command and "
                << "--restart=latest (exit code " << kExitCheckpointed << ")\n"
                << timing << std::flush;
    return kExitCheckpointed;
  }

  void finish() {
    set_failure_context("while writing the results");
    std::string tables, family_report;
    {
      auto io = timer_.scope("io");
      for (const auto& t : twins_) t.write(*out_);
      for (const auto& t : twins_) tables += t.table(*out_);
      family_report = experiment_->report(*out_);
      out_->commit();
      remove_xdmf_sidecars(comm_, out_->path());
      experiment_->write_sidecars(comm_, out_->path());
      on_root_and_agree(comm_, [&] { series_.remove_all(); });
    }
    const std::string timing = timer_.report(comm_);
    if (rank_ == 0) std::cout << tables << family_report << timing << "\nwrote " << out_->path() << "\n" << std::flush;
  }

  MPI_Comm comm_;
  int rank_ = 0;
  const Config& config_;
  std::unique_ptr<Experiment> experiment_;
  std::string family_, ini_;
  std::uint64_t seed_;
  FieldStore store_;
  PhaseTimer timer_;
  Progress progress_;
  RunControl control_;
  CheckpointSeries series_;
  RunSetup setup_;
  std::vector<std::unique_ptr<StateSpace>> spaces_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<TwinResults> twins_;
  std::optional<OutputFile> out_;
  std::optional<CheckpointArchive> archive_;  ///< the checkpoint being resumed, until its stage takes it
  std::string run_id_;
  std::int64_t sequence_ = 0, steps_in_stage_ = 0;
  std::size_t stage_ = 0;  ///< the stage in progress
};

}  // namespace

int run(MPI_Comm comm, const RunArguments& args, const std::vector<Family>& families) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const FailureChannel channel(comm);
  const OptionSet options = all_options(families);
  if (args.help) {
    if (rank == 0)
      std::cout << "usage: twinflow run [CONFIG.ini] [--key=value ...] [PETSc options]\n\n"
                << "Keys (INI sections map to the part before the dot; keys without a dot may stand in a\n"
                << "[general] section); defaults shown:\n"
                << options.help_text() << family_defaults_text(families)
                << "\nPETSc options (-ts_type, -ts_monitor, -ksp_type, -pc_type, -da_refine, -log_view, ...)\n"
                << "go to PETSc's options database; unused ones are reported once the run is set up.\n";
    return kExitOk;
  }

  // Parse and validate everything before anything is written.
  Config config;
  std::unique_ptr<Experiment> experiment;
  std::string family;
  agree(comm, [&] {
    config = Config::parse(options, args.config_path, args.overrides);
    family = config.choice("family");
    config.check_family(family);
    for (const auto& f : families)
      if (f.name == family)
        for (const auto& [key, value] : f.defaults) config.set_default(key, value);
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
    for (const auto& f : families) {
      if (f.name != family) continue;
      if (config.boolean("sampler_law") && !f.has_sampler_law)
        throw UsageError("sampler_law", "is not available for family " + family + "; accepted: false, or true "
                                        "with a family that has it (ou, kinetic)");
      experiment = f.make(config, comm);
    }
  });
  const std::string ini = config.resolved_ini(family);

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
  broadcast(comm, checkpoint_path);
  std::optional<CheckpointFile> checkpoint;
  if (!restart.empty()) {
    checkpoint.emplace(CheckpointFile::open(comm, checkpoint_path));
    CheckpointArchive a = checkpoint->archive();
    agree(comm, [&] {
      std::string schema, saved_ini, petsc;
      std::int64_t version = 0;
      try {
        a.value("schema", schema);
        a.value("schema_version", version);
        a.value("config", saved_ini);
        a.value("petsc_options", petsc);
      } catch (const RuntimeFailure&) {
        schema.clear();
      }
      if (schema != "twinflow-checkpoint")
        throw UsageError("restart", "'" + checkpoint_path + "' is not a twinflow checkpoint; accepted: latest, or "
                                    "a checkpoint listed in '" + series.manifest_path() + "'");
      if (version != kCheckpointSchema)
        throw UsageError("restart", "'" + checkpoint_path + "' has checkpoint schema version " +
                                        std::to_string(version) + " (an older twinflow wrote it); accepted: "
                                        "checkpoints of schema version " + std::to_string(kCheckpointSchema) +
                                        " (run the interrupted run again from its start, with --overwrite)");
      check_same_physics(checkpoint_path, saved_ini, ini, petsc);
    });
  }

  if (rank == 0 && !config.boolean("quiet"))
    std::cout << "twinflow " << kVersion << " (" << kGitSha << "), family " << family << "\n"
              << "# resolved configuration\n" << ini << "\n" << std::flush;
  std::optional<TwinRun> twin;
  CheckpointFile* resume = checkpoint ? &*checkpoint : nullptr;
  agree(comm, [&] { twin.emplace(comm, config, std::move(experiment), family, resume); });
  return twin->execute(resume);
}

}  // namespace twinflow
