#pragma once
// When a run writes a checkpoint and when it stops early: every N steps or
// every simulated-time interval (checkpoint.every), before a wall-clock
// limit (checkpoint.walltime), and on SIGTERM, SIGUSR1 or SIGINT, whose
// handlers only set a flag. The run asks at each step boundary; all ranks
// agree there with one collective, so they checkpoint and stop together.
#include <mpi.h>

#include <csignal>
#include <cstdint>
#include <string>

namespace twinflow {

/// Exit code of a run that wrote a checkpoint and stopped early (a signal or
/// checkpoint.walltime): resubmit it with --restart=latest. 75 is
/// EX_TEMPFAIL, "try again later".
inline constexpr int kExitCheckpointed = 75;

/// Makes SIGTERM, SIGUSR1 and SIGINT only set the stop flag. Called first
/// thing in main (a signal during start-up is then honoured at the first step
/// boundary) and again by RunControl, after PETSc installed its own handlers.
void catch_stop_signals();

class RunControl {
 public:
  enum class Action { kContinue, kCheckpoint, kCheckpointAndStop };

  /// checkpoint.every: "off", "steps:N" or "time:X". Throws UsageError(key).
  struct Every {
    enum class Kind { kOff, kSteps, kTime } kind = Kind::kOff;
    double amount = 0;
    static Every parse(const std::string& key, const std::string& text);
  };
  /// checkpoint.walltime: 0 (off), seconds, or [[H:]M:]S. Throws UsageError(key).
  static double parse_walltime(const std::string& key, const std::string& text);

  /// Catches the stop signals (PETSc's handlers are restored by the
  /// destructor); a signal caught earlier still counts. The wall clock
  /// starts here.
  RunControl(MPI_Comm comm, Every every, double walltime_seconds);
  ~RunControl();
  RunControl(const RunControl&) = delete;
  RunControl& operator=(const RunControl&) = delete;

  /// A phase starts at simulated time t0 (time triggers count from there).
  void begin_phase(double t0);
  /// Collective. Called at every step boundary with the phase's simulated
  /// time; returns the same action on every rank.
  Action at_step_boundary(double t);
  /// Records how long writing a checkpoint took (the walltime margin).
  void checkpoint_written(double seconds);
  /// Why the last kCheckpointAndStop was decided ("SIGTERM", "walltime", ...).
  const std::string& stop_reason() const { return stop_reason_; }
  /// Step boundaries since the run began (kept across restarts).
  std::int64_t& boundaries() { return boundaries_; }

 private:
  MPI_Comm comm_;
  Every every_;
  double walltime_, start_, last_boundary_, longest_step_ = 0, longest_write_ = 0, phase_time_ = 0;
  std::int64_t boundaries_ = 0;
  std::string stop_reason_;
  struct sigaction previous_[3];
};

}  // namespace twinflow
