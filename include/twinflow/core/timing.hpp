#pragma once
// Wall-clock timing per phase (each stage of a run, and the services the
// stages share: histogram, compare, io, checkpoint). Scopes nest, and time
// goes to the innermost open one, so the rows add up to the run's time. A
// scope also brackets a PETSc log event tf_<phase>, so -log_view shows the
// same phases (PETSc's times are inclusive). report() is collective
// (min/avg/max over ranks).
#include <petsclog.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace twinflow {

class PhaseTimer {
 public:
  PhaseTimer();
  /// Registers a phase (once; later calls do nothing); the report lists
  /// phases in the order they were added. Not collective.
  void add(const std::string& phase);

  class Scope {
   public:
    Scope(PhaseTimer& timer, const std::string& phase);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    PhaseTimer& timer_;
  };
  /// Opens a scope of a registered phase.
  Scope scope(const std::string& phase) { return Scope(*this, phase); }

  /// Collective. The table (on rank 0; empty elsewhere).
  std::string report(MPI_Comm comm) const;

 private:
  using Clock = std::chrono::steady_clock;
  void charge_top(Clock::time_point now);
  PetscClassId class_id_ = 0;
  std::vector<std::string> phases_;
  std::map<std::string, double> seconds_;
  std::map<std::string, PetscLogEvent> events_;
  std::vector<std::string> open_;  ///< the open scopes, innermost last
  Clock::time_point since_;        ///< when the innermost scope was last charged
};

/// Rank-0 progress lines of the running stage (its clock, steps, elapsed
/// time and an ETA) at most once per interval, the first one interval after
/// the stage began (no line of a stage that has not run yet). Not
/// collective.
class Progress {
 public:
  Progress(MPI_Comm comm, bool quiet, double interval_seconds);
  /// A stage begins (or resumes) with its clock running from `from` to `to`.
  void begin_stage(const std::string& stage, const std::string& clock, double from, double to);
  /// The running stage reached `value` after `steps` step boundaries;
  /// `detail` (called only for a line that is printed) adds to the line.
  void update(double value, std::int64_t steps, const std::function<std::string()>& detail = {});
  /// Prints a one-off line (rank 0, unless quiet).
  void note(const std::string& line);

 private:
  using Clock = std::chrono::steady_clock;
  bool active_;
  double interval_;
  Clock::time_point start_, last_, stage_start_;
  std::string stage_, clock_;
  double from_ = 0, to_ = 0;
};

}  // namespace twinflow
