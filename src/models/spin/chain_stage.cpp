#include "chain_stage.hpp"

#include <mpi.h>

#include <algorithm>

#include "twinflow/core/collective.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"

namespace twinflow::spin {

namespace {

// Collective. The per-chain blocks of all ranks (`per` values per chain) in
// chain-id order.
std::vector<double> gather_chains(MPI_Comm comm, const Ensemble& chains, const std::vector<double>& local, int per) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::vector<int> counts(static_cast<std::size_t>(size)), displacements(static_cast<std::size_t>(size));
  const int mine = static_cast<int>(chains.count) * per;
  collective_point(comm);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 1; r < size; ++r)
    displacements[static_cast<std::size_t>(r)] =
        displacements[static_cast<std::size_t>(r) - 1] + counts[static_cast<std::size_t>(r) - 1];
  std::vector<double> all(static_cast<std::size_t>(chains.total) * static_cast<std::size_t>(per));
  // Ranks own consecutive id ranges in rank order, so rank order is id order.
  MPI_Allgatherv(local.data(), mine, MPI_DOUBLE, all.data(), counts.data(), displacements.data(), MPI_DOUBLE, comm);
  return all;
}

}  // namespace

double acceptance_over_ranks(MPI_Comm comm, const std::int64_t counts[2]) {
  std::int64_t sums[2] = {counts[0], counts[1]};
  sum_over_ranks(comm, sums, 2);
  return sums[1] > 0 ? static_cast<double>(sums[0]) / static_cast<double>(sums[1]) : 0.0;
}

std::vector<ChainEstimate> estimate_all_chains(MPI_Comm comm, const Ensemble& chains, const std::vector<double>& local,
                                               std::size_t observables, std::int64_t steps,
                                               std::vector<double>* series) {
  const auto n = static_cast<std::size_t>(steps), total = static_cast<std::size_t>(chains.total);
  const std::vector<double> all = gather_chains(comm, chains, local, static_cast<int>(observables * n));
  std::vector<ChainEstimate> estimates;
  std::vector<double> one(total * n);
  for (std::size_t a = 0; a < observables; ++a) {
    for (std::size_t c = 0; c < total; ++c)
      std::copy_n(all.begin() + static_cast<std::ptrdiff_t>((c * observables + a) * n), n,
                  one.begin() + static_cast<std::ptrdiff_t>(c * n));
    estimates.push_back(estimate_chains(one, static_cast<int>(total), static_cast<int>(n)));
    if (series) series->insert(series->end(), one.begin(), one.end());
  }
  return estimates;
}

ChainStage::ChainStage(MPI_Comm comm, Plan plan, MoveFactory make)
    : comm_(comm),
      plan_(std::move(plan)),
      make_(std::move(make)),
      rng_(plan_.seed, plan_.stream),
      chains_(Ensemble::partition(comm, plan_.chains, 1)),
      sites_(plan_.lattice->sites()) {}

void ChainStage::begin(StageContext&) {
  const auto n = static_cast<std::size_t>(chains_.count);
  states_.assign(n * static_cast<std::size_t>(sites_), 0);
  cache_.assign(n * ChainMove::kCache, 0.0);
  series_.assign(n * observables() * static_cast<std::size_t>(plan_.steps), 0.0);
  profile_sums_.assign(n * static_cast<std::size_t>(plan_.profile_size), 0.0);
}

void ChainStage::start_setting(std::size_t k) {
  const std::vector<std::uint8_t> start = plan_.lattice->start();
  for (std::int64_t c = 0; c < chains_.count; ++c) {
    std::copy(start.begin(), start.end(), states_.begin() + c * sites_);
    UniformStream u(rng_, static_cast<std::uint64_t>(chains_.first_id + c),
                    static_cast<std::uint64_t>(total_steps()) + k);
    move_->start(&states_[static_cast<std::size_t>(c * sites_)], u);
  }
  std::fill(series_.begin(), series_.end(), 0.0);
  std::fill(profile_sums_.begin(), profile_sums_.end(), 0.0);
  counts_[0] = counts_[1] = 0;
  seconds_ = 0;
}

bool ChainStage::run(StageContext& ctx) {
  const std::size_t k_obs = observables();
  const auto steps = static_cast<std::size_t>(plan_.steps);
  std::vector<double> values(k_obs), profile(static_cast<std::size_t>(plan_.profile_size));
  while (done_ < total_steps()) {
    const auto k = static_cast<std::size_t>(done_ / per_setting());
    const std::int64_t s = done_ % per_setting();
    if (s == 0 || !move_ || move_setting_ != k) {
      if (!move_ || move_setting_ != k) move_ = make_(k);
      move_setting_ = k;
      if (s == 0) start_setting(k);
      for (std::int64_t c = 0; c < chains_.count; ++c)
        move_->prime(&states_[static_cast<std::size_t>(c * sites_)],
                     &cache_[static_cast<std::size_t>(c) * ChainMove::kCache]);
    }
    const double start = MPI_Wtime();  // ESS per second counts the recorded steps
    for (std::int64_t c = 0; c < chains_.count; ++c) {
      std::uint8_t* x = &states_[static_cast<std::size_t>(c * sites_)];
      UniformStream u(rng_, static_cast<std::uint64_t>(chains_.first_id + c), static_cast<std::uint64_t>(done_));
      counts_[0] += move_->step(x, &cache_[static_cast<std::size_t>(c) * ChainMove::kCache], u);
      counts_[1] += move_->attempts_per_step();
      if (s < plan_.burn_in) continue;
      const auto t = static_cast<std::size_t>(s - plan_.burn_in);
      plan_.observables->values(x, values.data());
      for (std::size_t a = 0; a < k_obs; ++a)
        series_[(static_cast<std::size_t>(c) * k_obs + a) * steps + t] = values[a];
      if (plan_.profile_size > 0) {
        plan_.profile(x, profile.data());
        for (std::size_t i = 0; i < profile.size(); ++i)
          profile_sums_[static_cast<std::size_t>(c) * profile.size() + i] += profile[i];
      }
    }
    if (s >= plan_.burn_in) seconds_ += MPI_Wtime() - start;
    ++done_;
    if (done_ % per_setting() == 0) complete_setting();
    if (ctx.boundary(static_cast<double>(done_))) return false;
  }
  return true;
}

void ChainStage::complete_setting() {
  ChainResult r;
  r.observables = estimate_all_chains(comm_, chains_, series_, observables(), plan_.steps, &completed_series_);
  if (plan_.profile_size > 0) {
    r.profile.assign(static_cast<std::size_t>(plan_.profile_size), 0.0);
    for (std::int64_t c = 0; c < chains_.count; ++c)
      for (std::size_t i = 0; i < r.profile.size(); ++i)
        r.profile[i] += profile_sums_[static_cast<std::size_t>(c) * r.profile.size() + i];
    sum_over_ranks(comm_, r.profile.data(), plan_.profile_size);
    for (double& v : r.profile) v /= static_cast<double>(plan_.chains * plan_.steps);
  }
  r.acceptance = acceptance_over_ranks(comm_, counts_);
  r.seconds = max_over_ranks(comm_, seconds_);
  results_.push_back(std::move(r));
}

void ChainStage::checkpoint(CheckpointArchive& a) {
  a.value("steps_done", done_);
  a.particles("states", chains_, states_, sites_);
  a.particles("series", chains_, series_, static_cast<int>(observables() * static_cast<std::size_t>(plan_.steps)));
  if (plan_.profile_size > 0) a.particles("profile_sums", chains_, profile_sums_, plan_.profile_size);
  a.rank_counts("moves", counts_, 2);
  // The slowest rank's time so far, on every rank.
  if (a.saving()) seconds_ = max_over_ranks(comm_, seconds_);
  a.value("seconds", seconds_);
  // Completed settings: their estimates.
  auto completed = static_cast<std::int64_t>(results_.size());
  a.value("settings_done", completed);
  results_.resize(static_cast<std::size_t>(completed));
  for (std::size_t k = 0; k < results_.size(); ++k) {
    CheckpointArchive one = a.scope("setting_" + std::to_string(k));
    ChainResult& r = results_[k];
    std::vector<double> flat;
    for (const ChainEstimate& e : r.observables)
      flat.insert(flat.end(), {e.mean, e.standard_error, e.variance, e.tau, e.effective_samples});
    one.replicated("estimates", flat);
    r.observables.resize(flat.size() / 5);
    for (std::size_t o = 0; o < r.observables.size(); ++o)
      r.observables[o] = {flat[5 * o], flat[5 * o + 1], flat[5 * o + 2], flat[5 * o + 3], flat[5 * o + 4]};
    one.replicated("profile", r.profile);
    one.value("acceptance", r.acceptance);
    one.value("seconds", r.seconds);
  }
  a.replicated("completed_series", completed_series_);
  if (!a.saving()) move_.reset();  // primed again from the restored states
}

void ChainStage::finish(StageContext& ctx) {
  OutputFile& out = ctx.out();
  const std::string d = "/monte_carlo/" + plan_.name + "/";
  const auto settings = static_cast<std::int64_t>(results_.size());
  std::vector<double> acceptance, seconds, ess_per_second;
  for (const ChainResult& r : results_) {
    acceptance.push_back(r.acceptance);
    seconds.push_back(r.seconds);
    ess_per_second.push_back(r.observables[plan_.primary].effective_samples / r.seconds);
  }
  out.write_vector(d + "acceptance", acceptance);
  out.write_vector(d + "seconds", seconds);
  out.write_vector(d + "ess_per_second", ess_per_second);
  out.attribute(d + "ess_per_second", "observable", plan_.observables->list()[plan_.primary].name);
  if (!plan_.setting_name.empty()) out.write_vector(d + plan_.setting_name, plan_.settings);
  out.attribute(d + "acceptance", "chains", plan_.chains);
  out.attribute(d + "acceptance", "burn_in", plan_.burn_in);
  out.attribute(d + "acceptance", "steps", plan_.steps);
  const std::size_t per = static_cast<std::size_t>(plan_.chains * plan_.steps);
  for (std::size_t a = 0; a < observables(); ++a) {
    const Observable& o = plan_.observables->list()[a];
    std::vector<double> mean, se, tau, ess, series;
    for (std::size_t k = 0; k < results_.size(); ++k) {
      const ChainEstimate& e = results_[k].observables[a];
      mean.push_back(e.mean), se.push_back(e.standard_error), tau.push_back(e.tau), ess.push_back(e.effective_samples);
      const auto from = completed_series_.begin() + static_cast<std::ptrdiff_t>((k * observables() + a) * per);
      series.insert(series.end(), from, from + static_cast<std::ptrdiff_t>(per));
    }
    const std::string p = d + o.name + "/";
    out.write_vector(p + "mean", mean);
    out.write_vector(p + "standard_error", se);
    out.write_vector(p + "tau", tau);
    out.write_vector(p + "effective_samples", ess);
    out.write_array(p + "series", {settings, plan_.chains, plan_.steps}, series);
    out.attribute(p + "mean", "exact", plan_.exact[a]);
    out.attribute(p + "mean", "definition", o.description);
  }
  if (plan_.profile_size > 0) {
    std::vector<double> profile;
    for (const ChainResult& r : results_) profile.insert(profile.end(), r.profile.begin(), r.profile.end());
    out.write_array(d + "profile", {settings, plan_.profile_size}, profile);
  }
}

}  // namespace twinflow::spin
