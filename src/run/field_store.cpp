#include "twinflow/run/field_store.hpp"

#include <cmath>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/error.hpp"
#include "twinflow/io/checkpoint.hpp"
#include "twinflow/io/output_file.hpp"

namespace twinflow {

FieldStore::Series::const_iterator FieldStore::find(const Series& s, double t) {
  const double tol = 1e-9 * (1 + std::abs(t));
  auto it = s.lower_bound(t - tol);
  return it != s.end() && std::abs(it->first - t) <= tol ? it : s.end();
}

void FieldStore::put(const std::string& name, double t, const CellSpace& space, std::vector<double> owned,
                     int components, std::optional<Backing> backing) {
  fields_[name].insert_or_assign(t, Entry{&space, components, std::move(owned), std::move(backing)});
}

bool FieldStore::has(const std::string& name, double t) const {
  const auto f = fields_.find(name);
  return f != fields_.end() && find(f->second, t) != f->second.end();
}

const FieldStore::Entry& FieldStore::entry(const std::string& name, double t) const {
  const auto f = fields_.find(name);
  if (f != fields_.end()) {
    const auto it = find(f->second, t);
    if (it != f->second.end()) return it->second;
  }
  throw RuntimeFailure("no field '" + name + "' stored at t = " + std::to_string(t));
}

const std::vector<double>& FieldStore::owned(const std::string& name, double t) const { return entry(name, t).owned; }

void FieldStore::gather(const std::string& name, double t, std::vector<double>& full) const {
  const Entry* e = nullptr;
  agree(comm_, [&] { e = &entry(name, t); });
  e->space->gather(e->owned, e->components, full);
}

std::vector<double> FieldStore::times(const std::string& name) const {
  std::vector<double> t;
  const auto f = fields_.find(name);
  if (f != fields_.end())
    for (const auto& [time, entry] : f->second) t.push_back(time);
  return t;
}

void FieldStore::checkpoint(CheckpointArchive& a, const OutputFile& out, const std::vector<const CellSpace*>& spaces) {
  std::vector<std::string> names;
  for (const auto& [name, series] : fields_) names.push_back(name);
  a.names("fields", names);
  for (const auto& name : names) {
    CheckpointArchive f = a.scope(name);
    Series& series = fields_[name];
    // One description per field: its space, components, the times of the
    // stored entries and the (time, series, index) of the backed ones.
    std::string space, paths;
    std::int64_t components = 1;
    std::vector<double> stored_times, backed_times;
    std::vector<std::int64_t> backed_index;
    std::vector<std::string> backed_path;
    if (a.saving()) {
      for (const auto& [t, e] : series) {
        space = e.space->name();
        components = e.components;
        if (e.backing) {
          backed_times.push_back(t);
          backed_path.push_back(e.backing->path);
          backed_index.push_back(e.backing->index);
        } else {
          stored_times.push_back(t);
        }
      }
    }
    f.value("space", space);
    f.value("components", components);
    f.replicated("stored_times", stored_times);
    f.replicated("backed_times", backed_times);
    f.replicated("backed_index", backed_index);
    f.names("backed_path", backed_path);
    const CellSpace* s = nullptr;
    for (const CellSpace* candidate : spaces)
      if (candidate->name() == space) s = candidate;
    if (!s) throw RuntimeFailure("checkpoint: field '" + name + "' lives on space '" + space + "', which this run has not");
    const auto comps = static_cast<int>(components);
    const std::size_t block = static_cast<std::size_t>(s->slab().size() * comps);
    std::vector<double> values;
    if (a.saving())
      for (double t : stored_times) {
        const auto& v = series.at(t).owned;
        values.insert(values.end(), v.begin(), v.end());
      }
    f.blocks("stored", s->slab(), comps, static_cast<std::int64_t>(stored_times.size()), values);
    if (a.saving()) continue;
    series.clear();
    for (std::size_t i = 0; i < stored_times.size(); ++i)
      series[stored_times[i]] = Entry{s, comps, {values.begin() + static_cast<std::ptrdiff_t>(i * block),
                                                 values.begin() + static_cast<std::ptrdiff_t>((i + 1) * block)}, {}};
    for (std::size_t i = 0; i < backed_times.size(); ++i) {
      Entry e{s, comps, {}, Backing{backed_path[i], backed_index[i]}};
      out.read_entry(backed_path[i], backed_index[i], s->slab(), comps, e.owned);
      series[backed_times[i]] = std::move(e);
    }
  }
}

}  // namespace twinflow
