#include "twinflow/core/run_control.hpp"

#include <cmath>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"

namespace twinflow {
namespace {

volatile std::sig_atomic_t g_signal = 0;
constexpr int kSignals[3] = {SIGTERM, SIGUSR1, SIGINT};
constexpr int kWalltime = 1000;  // agreed code for the wall-clock limit, above every signal number

extern "C" void remember_signal(int signal) { g_signal = signal; }

std::string signal_name(int s) {
  switch (s) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGINT: return "SIGINT";
    case kWalltime: return "checkpoint.walltime";
    default: return "signal " + std::to_string(s);
  }
}

}  // namespace

void catch_stop_signals() {
  struct sigaction a {};
  a.sa_handler = remember_signal;
  sigemptyset(&a.sa_mask);
  for (int s : kSignals) sigaction(s, &a, nullptr);
}

RunControl::Every RunControl::Every::parse(const std::string& key, const std::string& text) {
  const std::string accepted = "accepted: off, steps:N (N >= 1 steps) or time:X (simulated time X > 0)";
  Every e;
  if (text == "off") return e;
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon), amount = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (kind != "steps" && kind != "time") throw UsageError(key, "'" + text + "' is not understood; " + accepted);
  e.amount = parse_real(key, amount, accepted);
  e.kind = kind == "steps" ? Kind::kSteps : Kind::kTime;
  if (!(e.amount > 0) || !std::isfinite(e.amount) || (e.kind == Kind::kSteps && e.amount != std::floor(e.amount)))
    throw UsageError(key, "'" + text + "' is out of range; " + accepted);
  return e;
}

double RunControl::parse_walltime(const std::string& key, const std::string& text) {
  const std::string accepted = "accepted: 0 (off), seconds, or [[H:]M:]S";
  const std::vector<std::string> parts = split(text, ':');
  if (parts.size() > 3) throw UsageError(key, "'" + text + "' is not understood; " + accepted);
  double seconds = 0;
  for (const auto& p : parts) {
    const double v = parse_real(key, p, accepted);
    if (v < 0 || !std::isfinite(v)) throw UsageError(key, "'" + text + "' is negative or not finite; " + accepted);
    seconds = seconds * 60 + v;
  }
  return seconds;
}

RunControl::RunControl(MPI_Comm comm, Every every, double walltime_seconds)
    : comm_(comm), every_(every), walltime_(walltime_seconds), start_(MPI_Wtime()), last_boundary_(start_) {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], nullptr, &previous_[i]);
  catch_stop_signals();
}

RunControl::~RunControl() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &previous_[i], nullptr);
}

void RunControl::begin_phase(double t0) { phase_time_ = t0; }

RunControl::Action RunControl::at_step_boundary(double t) {
  collective_point(comm_);
  ++boundaries_;
  const double now = MPI_Wtime();
  longest_step_ = std::max(longest_step_, now - last_boundary_);
  last_boundary_ = now;
  // Stop before the wall-clock limit with room for two more steps and one
  // more checkpoint; the signal flag is read once.
  int stop = g_signal;
  if (walltime_ > 0 && now - start_ + 2 * longest_step_ + longest_write_ >= walltime_) stop = std::max(stop, kWalltime);
  MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, comm_);
  bool due = false;
  if (every_.kind == Every::Kind::kSteps)
    due = boundaries_ % static_cast<std::int64_t>(every_.amount) == 0;
  else if (every_.kind == Every::Kind::kTime)
    due = std::floor(t / every_.amount) > std::floor(phase_time_ / every_.amount);
  phase_time_ = t;
  if (stop) {
    stop_reason_ = signal_name(stop);
    return Action::kCheckpointAndStop;
  }
  return due ? Action::kCheckpoint : Action::kContinue;
}

void RunControl::checkpoint_written(double seconds) {
  longest_write_ = std::max(longest_write_, seconds);
  last_boundary_ = MPI_Wtime();
}

}  // namespace twinflow
