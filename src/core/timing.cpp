#include "twinflow/core/timing.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "twinflow/core/collective.hpp"

namespace twinflow {

PhaseTimer::PhaseTimer() : since_(Clock::now()) { PetscClassIdRegister("twinflow", &class_id_); }

void PhaseTimer::add(const std::string& phase) {
  if (seconds_.count(phase)) return;
  phases_.push_back(phase);
  seconds_[phase] = 0;
  PetscLogEventRegister(("tf_" + phase).c_str(), class_id_, &events_[phase]);
}

void PhaseTimer::charge_top(Clock::time_point now) {
  if (!open_.empty()) seconds_[open_.back()] += std::chrono::duration<double>(now - since_).count();
  since_ = now;
}

PhaseTimer::Scope::Scope(PhaseTimer& timer, const std::string& phase) : timer_(timer) {
  timer_.charge_top(Clock::now());
  timer_.open_.push_back(phase);
  PetscLogEventBegin(timer_.events_.at(phase), 0, 0, 0, 0);
}

PhaseTimer::Scope::~Scope() {
  PetscLogEventEnd(timer_.events_.at(timer_.open_.back()), 0, 0, 0, 0);
  timer_.charge_top(Clock::now());
  timer_.open_.pop_back();
}

std::string PhaseTimer::report(MPI_Comm comm) const {
  collective_point(comm);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::ostringstream os;
  char line[160];
  int width = 14;  // the phase column: as wide as the longest name
  for (const auto& p : phases_) width = std::max(width, static_cast<int>(p.size()));
  std::snprintf(line, sizeof line, "%-*s %12s %12s %12s\n", width, "phase", "min [s]", "avg [s]", "max [s]");
  os << "\nTiming per phase over " << size << " rank(s) (stages, then the services they share)\n" << line;
  for (const auto& p : phases_) {
    double v = seconds_.at(p), lo = 0, hi = 0, sum = 0;
    MPI_Reduce(&v, &lo, 1, MPI_DOUBLE, MPI_MIN, 0, comm);
    MPI_Reduce(&v, &hi, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    MPI_Reduce(&v, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, comm);
    std::snprintf(line, sizeof line, "%-*s %12.3f %12.3f %12.3f\n", width, p.c_str(), lo, sum / size, hi);
    os << line;
  }
  return rank == 0 ? os.str() : std::string();
}

Progress::Progress(MPI_Comm comm, bool quiet, double interval_seconds)
    : interval_(interval_seconds), start_(Clock::now()), last_(start_), stage_start_(start_) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  active_ = rank == 0 && !quiet;
}

void Progress::begin_stage(const std::string& stage, const std::string& clock, double from, double to) {
  stage_ = stage;
  clock_ = clock;
  from_ = from;
  to_ = to;
  stage_start_ = last_ = Clock::now();
}

void Progress::update(double value, std::int64_t steps, const std::function<std::string()>& detail) {
  if (!active_) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double in_stage = std::chrono::duration<double>(now - stage_start_).count();
  const double done = to_ > from_ ? (value - from_) / (to_ - from_) : 1.0;
  char line[200];
  int n = std::snprintf(line, sizeof line, "[%-9s] %s = %-10.4g step %-8lld elapsed %7.1f s", stage_.c_str(),
                        clock_.c_str(), value, static_cast<long long>(steps), elapsed);
  if (done > 0 && done < 1)
    std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), "  ETA %7.1f s", in_stage * (1 - done) / done);
  std::string text = line;
  if (detail)
    if (const std::string more = detail(); !more.empty()) text += "  " + more;
  std::cout << text << "\n" << std::flush;
}

void Progress::note(const std::string& line) {
  if (active_) std::cout << line << "\n" << std::flush;
}

}  // namespace twinflow
