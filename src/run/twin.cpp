#include "twinflow/run/twin.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "twinflow/compare/metrics.hpp"
#include "twinflow/core/collective.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"

namespace twinflow {
namespace {

constexpr int kFineW1Bins = 1 << 16;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

void TwinResults::set(std::size_t j, const std::string& metric, double value) {
  auto& v = metrics_[metric];
  if (v.size() <= j) v.resize(j + 1, kNaN);
  v[j] = value;
}

const std::vector<double>& TwinResults::metric(const std::string& name) const {
  static const std::vector<double> none;
  const auto it = metrics_.find(name);
  return it == metrics_.end() ? none : it->second;
}

void TwinResults::add(std::size_t j, double clock, const StateSpace& space, const Ensemble& e,
                      const std::vector<double>* histogram, std::uint64_t seed) {
  if (clock_.size() <= j) clock_.resize(j + 1, kNaN);
  clock_[j] = clock;
  const MPI_Comm comm = space.comm();
  if (const auto* cells = dynamic_cast<const CellSpace*>(&space)) {
    std::vector<double> reference, own;
    if (!histogram) {
      cells->histogram(e, own);
      histogram = &own;
    }
    if (!twin_.reference || !twin_.reference(j, clock, reference)) return;
    std::vector<unsigned char> atoms;
    if (twin_.atoms) twin_.atoms(j, clock, atoms);
    const Comparison c = compare(comm, cells->cell_measure(), cells->is_line(), reference, *histogram,
                                 cells->located_total(e), twin_.atoms ? &atoms : nullptr);
    set(j, "l1", c.l1);
    set(j, "tv", 0.5 * c.l1);
    set(j, "hellinger", c.hellinger);
    set(j, "kl", c.kl);
    set(j, "noise_floor_l1", c.noise_floor);
    set(j, "w1", c.w1);
    if (twin_.atoms) {
      set(j, "continuous_l1", c.continuous_l1);
      set(j, "continuous_noise_floor_l1", c.continuous_noise_floor);
      set(j, "atom_mass_reference", c.atom_mass_p);
      set(j, "atom_mass_samples", c.atom_mass_q);
    }
    if (twin_.marginal_cdf) {
      const auto& grid = dynamic_cast<const GridSpace&>(space);
      const Box& box = grid.box();
      double w1 = 0, floor = 0;
      for (int a = 0; a < e.dim; ++a) {
        const auto cdf = [&](double x) { return twin_.marginal_cdf(j, a, x); };
        w1 += w1_to_cdf(comm, e.x.data(), e.points(), e.dim, a, e.total * e.points_per_unit, cdf, box.lower[a],
                        box.upper[a], kFineW1Bins) / e.dim;
        floor += w1_noise_floor(cdf, box.lower[a], box.upper[a], kFineW1Bins, e.total * e.points_per_unit) / e.dim;
      }
      set(j, "w1_fine", w1);
      set(j, "w1_fine_floor", floor);
    }
  } else {
    const auto law = twin_.law(j, clock);
    // Exact reference samples come from a seed no run can be given (seeds
    // are below 2^53), so they are independent of every stream of the run.
    const SampleComparison c = compare_samples(comm, e, *law, seed | (std::uint64_t{1} << 63));
    set(j, "mean_error", c.mean_error);
    set(j, "mean_max_z", c.mean_max_z);
    set(j, "covariance_error", c.covariance_error);
    set(j, "covariance_max_z", c.covariance_max_z);
    set(j, "loglik", c.loglik);
    set(j, "loglik_reference", c.loglik_reference);
    set(j, "loglik_se", c.loglik_se);
    set(j, "sliced_w1", c.sliced_w1);
    set(j, "sliced_w1_noise", c.sliced_w1_noise);
  }
  if (twin_.expected) set(j, "expected", twin_.expected(j, clock));
}

void TwinResults::write(OutputFile& out) const {
  if (metrics_.empty()) return;
  const std::string group = twin_.top_level ? "/compare" : "/compare/" + twin_.name;
  for (const auto& [name, values] : metrics_) {
    std::vector<double> v = values;
    v.resize(clock_.size(), kNaN);
    out.write_vector(group + "/" + name, v);
  }
  out.attribute(group, "title", twin_.title);
  out.attribute(group, "stage", twin_.stage);
  out.attribute(group, "space", twin_.space);
  if (!twin_.axis.empty()) out.attribute(group, "axis", twin_.axis);
  if (!twin_.reference_name.empty()) out.attribute(group, "reference", twin_.reference_name);
  if (twin_.reference) out.attribute(group, "kl_direction", std::string("KL(histogram | reference)"));
}

std::string TwinResults::table(const OutputFile& out) const {
  if (twin_.columns.empty()) return {};
  std::vector<std::vector<double>> columns;
  for (const auto& [source, header] : twin_.columns) {
    std::vector<double> v;
    if (source.front() == '/') {
      if (out.exists(source)) v = out.read_vector(source);
    } else {
      v = metric(source);
    }
    v.resize(clock_.size(), kNaN);
    columns.push_back(std::move(v));
  }
  if (metrics_.empty()) return {};
  std::ostringstream os;
  char cell[64];
  os << "\n" << twin_.title << "\n";
  std::snprintf(cell, sizeof cell, "%8s", twin_.clock.c_str());
  os << cell;
  for (const auto& [source, header] : twin_.columns) {
    std::snprintf(cell, sizeof cell, " %11s", header.c_str());
    os << cell;
  }
  os << "\n";
  for (std::size_t j = 0; j < clock_.size(); ++j) {
    std::snprintf(cell, sizeof cell, "%8.4f", clock_[j]);
    os << cell;
    for (const auto& c : columns) {
      std::snprintf(cell, sizeof cell, " %11.3e", c[j]);
      os << cell;
    }
    os << "\n";
  }
  return os.str();
}

void TwinResults::checkpoint(CheckpointArchive& a) {
  std::vector<std::string> names;
  for (const auto& [name, values] : metrics_) names.push_back(name);
  a.replicated("clock", clock_);
  a.names("metrics", names);
  for (const auto& name : names) a.replicated("metric_" + name, metrics_[name]);
}

}  // namespace twinflow
