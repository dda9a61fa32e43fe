#include "twinflow/core/timing.hpp"

#include <cstdio>
#include <iostream>
#include <sstream>

namespace twinflow {

PhaseTimer::PhaseTimer(std::vector<std::string> phases) : phases_(std::move(phases)) {
  PetscClassId cls = 0;
  PetscClassIdRegister("twinflow", &cls);
  for (const auto& p : phases_) {
    seconds_[p] = 0;
    PetscLogEventRegister(("tf_" + p).c_str(), cls, &events_[p]);
  }
}

PhaseTimer::Scope::Scope(PhaseTimer& timer, const std::string& phase)
    : timer_(timer), phase_(phase), start_(std::chrono::steady_clock::now()) {
  PetscLogEventBegin(timer_.events_.at(phase_), 0, 0, 0, 0);
}

PhaseTimer::Scope::~Scope() {
  PetscLogEventEnd(timer_.events_.at(phase_), 0, 0, 0, 0);
  timer_.seconds_[phase_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string PhaseTimer::report(MPI_Comm comm) const {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::ostringstream os;
  char line[160];
  std::snprintf(line, sizeof line, "%-12s %12s %12s %12s\n", "phase", "min [s]", "avg [s]", "max [s]");
  os << "\nTiming per phase over " << size << " rank(s)\n" << line;
  for (const auto& p : phases_) {
    double v = seconds_.at(p), lo = 0, hi = 0, sum = 0;
    MPI_Reduce(&v, &lo, 1, MPI_DOUBLE, MPI_MIN, 0, comm);
    MPI_Reduce(&v, &hi, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&v, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, comm);
    std::snprintf(line, sizeof line, "%-12s %12.3f %12.3f %12.3f\n", p.c_str(), lo, sum / size, hi);
    os << line;
  }
  return rank == 0 ? os.str() : std::string();
}

Progress::Progress(MPI_Comm comm, bool quiet, double interval_seconds)
    : interval_(interval_seconds), start_(std::chrono::steady_clock::now()), last_(start_) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  active_ = rank == 0 && !quiet;
}

void Progress::update(const std::string& phase, double t, double t_end, std::int64_t step) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = phase_start_.try_emplace(phase, now);
  // A new phase always prints once; otherwise at most once per interval.
  if (!fresh && std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double in_phase = std::chrono::duration<double>(now - it->second).count();
  const double frac = t_end > 0 ? t / t_end : 1.0;
  char line[200];
  if (frac > 0 && frac < 1)
    std::snprintf(line, sizeof line, "[%-9s] t = %-10.4g step %-8lld elapsed %7.1f s  ETA %7.1f s\n",
                  phase.c_str(), t, static_cast<long long>(step), elapsed, in_phase * (1 - frac) / frac);
  else
    std::snprintf(line, sizeof line, "[%-9s] t = %-10.4g step %-8lld elapsed %7.1f s\n", phase.c_str(), t,
                  static_cast<long long>(step), elapsed);
  std::cout << line << std::flush;
}

void Progress::note(const std::string& line) {
  if (active_) std::cout << line << "\n" << std::flush;
}

}  // namespace twinflow
