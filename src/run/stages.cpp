#include "twinflow/run/stages.hpp"

#include <cmath>
#include <cstdio>

#include "twinflow/core/timing.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"

namespace twinflow {

PdeStage::PdeStage(std::unique_ptr<DensitySolver> pde, std::vector<double> stops, Hooks hooks)
    : pde_(std::move(pde)), stops_(std::move(stops)), hooks_(std::move(hooks)) {}

bool PdeStage::run(StageContext& ctx) {
  return pde_->advance_through(
      stops_, next_, [&](std::size_t i) { hooks_.at_stop(i, stops_[i], *pde_, ctx); },
      [&](double t) { return ctx.boundary(t); });
}

void PdeStage::checkpoint(CheckpointArchive& a) {
  CheckpointArchive solver = a.scope("solver");
  pde_->checkpoint(solver);
  auto next = static_cast<std::int64_t>(next_);
  a.value("next_stop", next);
  next_ = static_cast<std::size_t>(next);
  if (!hooks_.state) return;
  CheckpointArchive state = a.scope("state");
  hooks_.state(state);
}

SamplerStage::SamplerStage(MPI_Comm comm, Factory make, Plan plan, Observer observer)
    : comm_(comm), make_(std::move(make)), plan_(std::move(plan)), observer_(std::move(observer)) {}

double SamplerStage::clock_now() const {
  if (stepping()) return static_cast<double>(done_) * plan_.step_clock;
  return next_ > 0 ? plan_.clocks[next_ - 1] : plan_.clocks.front();
}

void SamplerStage::prepare_output(OutputFile& out) {
  if (plan_.space && !plan_.histogram_series.empty())
    out.create_series(plan_.histogram_series, plan_.axis, static_cast<std::int64_t>(plan_.clocks.size()),
                      plan_.space->slab());
}

void SamplerStage::begin(StageContext&) {
  sampler_ = make_(plan_.sites > 0 ? Ensemble::partition_bits(comm_, plan_.units, plan_.sites)
                                   : Ensemble::partition(comm_, plan_.units, plan_.dim, plan_.points_per_unit));
}

bool SamplerStage::run(StageContext& ctx) {
  while (next_ < plan_.clocks.size()) {
    const std::size_t j = next_;
    if (stepping()) {
      // One step at a time, each a step boundary.
      while (done_ < plan_.steps[j]) {
        sampler_->advance_to(done_ + 1, static_cast<double>(done_ + 1) * plan_.step_clock);
        ++done_;
        if (ctx.boundary(static_cast<double>(done_) * plan_.step_clock)) return false;
      }
      output(j, ctx);
      ++next_;
    } else {
      // Exactly from output to output: each output is a step boundary (a
      // checkpoint there resumes at the next output).
      sampler_->advance_to(static_cast<std::int64_t>(j), plan_.clocks[j]);
      output(j, ctx);
      ++next_;
      if (ctx.boundary(plan_.clocks[j])) return false;
    }
  }
  return true;
}

void SamplerStage::output(std::size_t j, StageContext& ctx) {
  const Ensemble& e = sampler_->ensemble();
  std::vector<double> histogram;
  if (plan_.space) {
    {
      auto h = ctx.timer().scope("histogram");
      plan_.space->histogram(e, histogram);
    }
    if (!plan_.histogram_series.empty()) {
      auto io = ctx.timer().scope("io");
      ctx.out().write_entry(plan_.histogram_series, static_cast<std::int64_t>(j), plan_.space->slab(), histogram);
      ctx.out().flush();
    }
  }
  const std::vector<double>* h = plan_.space ? &histogram : nullptr;
  if (observer_) observer_(j, plan_.clocks[j], *sampler_, h);
  ctx.samples(j, plan_.clocks[j], e, plan_.space, h);
}

void SamplerStage::checkpoint(CheckpointArchive& a) {
  auto next = static_cast<std::int64_t>(next_);
  a.value("next_output", next);
  next_ = static_cast<std::size_t>(next);
  a.value("steps_done", done_);
  CheckpointArchive units = a.scope("units");
  sampler_->checkpoint(units);
}

std::string TrainerStage::progress_detail() const {
  if (std::isnan(last_loss_)) return {};
  char line[40];
  std::snprintf(line, sizeof line, "loss %.4e", last_loss_);
  return line;
}

bool TrainerStage::run(StageContext& ctx) {
  while (trainee_->iterations_done() < trainee_->iterations()) {
    last_loss_ = trainee_->train_iteration();
    if (ctx.boundary(static_cast<double>(trainee_->iterations_done()))) return false;
  }
  return true;
}

}  // namespace twinflow
