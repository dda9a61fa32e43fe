#pragma once
// Per-phase wall-clock timing: a scoped guard adds to a phase's total and
// brackets a PETSc log event of the same name, so -log_view shows the same
// phases. report() is collective (min/avg/max over ranks).
#include <petsclog.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace twinflow {

class PhaseTimer {
 public:
  /// Registers the PETSc log events; phases are reported in this order.
  explicit PhaseTimer(std::vector<std::string> phases);

  class Scope {
   public:
    Scope(PhaseTimer& timer, const std::string& phase);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    PhaseTimer& timer_;
    std::string phase_;
    std::chrono::steady_clock::time_point start_;
  };
  Scope scope(const std::string& phase) { return Scope(*this, phase); }

  /// Collective. The table (on rank 0; empty elsewhere).
  std::string report(MPI_Comm comm) const;

 private:
  std::vector<std::string> phases_;
  std::map<std::string, double> seconds_;
  std::map<std::string, PetscLogEvent> events_;
};

/// Rank-0 progress lines (simulated time, step, elapsed, ETA) at a bounded
/// rate. Not collective.
class Progress {
 public:
  Progress(MPI_Comm comm, bool quiet, double interval_seconds);
  /// Reports phase progress; prints at most once per interval.
  void update(const std::string& phase, double t, double t_end, std::int64_t step);
  /// Prints a one-off line (rank 0, unless quiet).
  void note(const std::string& line);

 private:
  bool active_;
  double interval_;
  std::chrono::steady_clock::time_point start_, last_;
  std::map<std::string, std::chrono::steady_clock::time_point> phase_start_;
};

}  // namespace twinflow
