#include "model.hpp"

#include <cmath>
#include <numeric>

#include "twinflow/core/config.hpp"
#include "twinflow/core/error.hpp"

namespace twinflow::spin {
namespace {

/// ising2d: the dense site tensors (2 W L 4^W doubles) stay within 2^26 (512 MiB).
constexpr double kTensorLimit = 67108864.0;

}  // namespace

ModelSpec model_of(const Config& c) {
  ModelSpec m;
  const std::string name = c.choice("spin.model");
  m.kind = name == "ising1d" ? ModelKind::kIsing1d : name == "fredkin" ? ModelKind::kFredkin : ModelKind::kIsing2d;
  m.length = static_cast<int>(c.integer("spin.L"));
  m.beta = c.real("spin.beta");
  m.J = c.real("spin.J");
  m.h = c.real("spin.h");
  m.c = c.real("spin.c");
  if (m.c >= 1) throw UsageError("spin.c", "is " + c.text("spin.c") + "; accepted: 0 < c < 1");
  if (m.kind == ModelKind::kFredkin && (m.length % 2 != 0 || m.length > kMaxFredkin))
    throw UsageError("spin.L", "is " + c.text("spin.L") + " for fredkin; accepted: an even L from 2 to " +
                                   std::to_string(kMaxFredkin) + " (a Dyck path has as many ↓ as ↑)");
  if (m.kind == ModelKind::kIsing2d) {
    m.width = static_cast<int>(c.integer("spin.width"));
    const double tensors = 2.0 * m.width * m.length * std::pow(4.0, m.width);
    if (m.sites() > kMaxSites || tensors > kTensorLimit)
      throw UsageError("spin.L", "is " + c.text("spin.L") + " with spin.width = " + std::to_string(m.width) +
                                     "; accepted for ising2d: W·L <= " + std::to_string(kMaxSites) +
                                     " and 2·W·L·4^W <= 2^26 (the exact MPS's tensors within 512 MiB)");
  } else if (c.given("spin.width")) {
    throw UsageError("spin.width", "is set, but only ising2d has a width; accepted: spin.model=ising2d");
  }
  return m;
}


std::string ModelSpec::name() const {
  switch (kind) {
    case ModelKind::kIsing1d: return "ising1d";
    case ModelKind::kFredkin: return "fredkin";
    case ModelKind::kIsing2d: return "ising2d";
  }
  return "";
}

Mps data_law(const ModelSpec& m) {
  switch (m.kind) {
    case ModelKind::kIsing1d: return ising1d(m.length, m.beta, m.J, m.h);
    case ModelKind::kFredkin: return fredkin(m.length, m.c);
    case ModelKind::kIsing2d: return ising2d(m.width, m.length, m.beta, m.J, m.h);
  }
  throw std::logic_error("unknown spin model");
}

ModelObservables::ModelObservables(const ModelSpec& m) : m_(m) {
  const int n = m.sites();
  switch (m.kind) {
    case ModelKind::kIsing1d:
      list_ = {{"magnetisation", "m = Σ s_i / L"}, {"energy", "E / L"}};
      for (int d : {1, 2, 4})
        if (d < n) {
          distances_.push_back(d);
          list_.push_back({"correlation_" + std::to_string(d), "Σ_i s_i s_{i+" + std::to_string(d) + "} / (L − " +
                                                                    std::to_string(d) + ")"});
        }
      break;
    case ModelKind::kFredkin:
      list_ = {{"height_centre", "h_{L/2}"}, {"area", "Σ_k h_k"}, {"magnetisation", "Σ s_i / L"}};
      break;
    case ModelKind::kIsing2d:
      list_ = {{"energy", "E / (W L)"}, {"abs_magnetisation", "|Σ s_i| / (W L)"}, {"magnetisation", "Σ s_i / (W L)"}};
      break;
  }
  if (m.kind == ModelKind::kFredkin) {
    hist_.name = "area";
    hist_.label = "area Σ_k h_k of the path of steps s_i";
    for (int j = 0; j < n; ++j) hist_.weights.push_back(n - j);
    hist_.offset = -static_cast<std::int64_t>(n) * (n + 1) / 2;
  } else {
    hist_.name = "magnetisation";
    hist_.label = "magnetisation Σ_i s_i";
    hist_.weights.assign(static_cast<std::size_t>(n), 1);
    hist_.offset = -n;
  }
}

std::int64_t ModelObservables::Histogrammed::highest() const {
  return offset + 2 * std::accumulate(weights.begin(), weights.end(), std::int64_t{0});
}

double ModelObservables::histogrammed_value(const std::uint8_t* x) const {
  std::int64_t v = hist_.offset;
  for (std::size_t i = 0; i < hist_.weights.size(); ++i) v += 2 * hist_.weights[i] * x[i];
  return static_cast<double>(v);
}

double ModelObservables::histogrammed_cost(int max_bond) const {
  const double sum = std::accumulate(hist_.weights.begin(), hist_.weights.end(), 0.0);
  return static_cast<double>(hist_.weights.size()) * sum * max_bond * max_bond;
}

void ModelObservables::values(const std::uint8_t* x, double* out) const {
  const int n = m_.sites();
  auto s = [&](int i) { return x[i] ? 1.0 : -1.0; };
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += s(i);
  switch (m_.kind) {
    case ModelKind::kIsing1d: {
      double bonds = 0;
      for (int i = 0; i + 1 < n; ++i) bonds += s(i) * s(i + 1);
      out[0] = sum / n;
      out[1] = (-m_.J * bonds - m_.h * sum) / n;
      for (std::size_t k = 0; k < distances_.size(); ++k) {
        const int d = distances_[k];
        double c = 0;
        for (int i = 0; i + d < n; ++i) c += s(i) * s(i + d);
        out[2 + k] = c / (n - d);
      }
      return;
    }
    case ModelKind::kFredkin: {
      double height = 0, area = 0, centre = 0;
      for (int k = 0; k < n; ++k) {
        height += s(k);
        area += height;
        if (k + 1 == n / 2) centre = height;
      }
      out[0] = centre;
      out[1] = area;
      out[2] = sum / n;
      return;
    }
    case ModelKind::kIsing2d: {
      const int w = m_.width;
      double bonds = 0;
      for (int k = 0; k < n; ++k) {
        const int ring = k / w, p = k % w;
        bonds += s(k) * s(ring * w + (p + 1) % w);
        if (ring + 1 < m_.length) bonds += s(k) * s(k + w);
      }
      out[0] = (-m_.J * bonds - m_.h * sum) / n;
      out[1] = std::abs(sum) / n;
      out[2] = sum / n;
      return;
    }
  }
}

std::vector<double> ModelObservables::exact(const Mps& law, double law_budget) const {
  const int n = m_.sites();
  std::vector<double> spin(static_cast<std::size_t>(n));
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += (spin[static_cast<std::size_t>(i)] = law.spin(i));
  std::vector<double> e;
  switch (m_.kind) {
    case ModelKind::kIsing1d: {
      double bonds = 0;
      for (int i = 0; i + 1 < n; ++i) bonds += law.correlation(i, i + 1);
      e = {sum / n, (-m_.J * bonds - m_.h * sum) / n};
      for (int d : distances_) {
        double c = 0;
        for (int i = 0; i + d < n; ++i) c += law.correlation(i, i + d);
        e.push_back(c / (n - d));
      }
      return e;
    }
    case ModelKind::kFredkin: {
      // h_k = Σ_{j<k} s_j, so ⟨area⟩ = Σ_j (L − j) ⟨s_j⟩.
      double centre = 0, area = 0;
      for (int j = 0; j < n; ++j) {
        if (j < n / 2) centre += spin[static_cast<std::size_t>(j)];
        area += (n - j) * spin[static_cast<std::size_t>(j)];
      }
      return {centre, area, sum / n};
    }
    case ModelKind::kIsing2d: {
      const int w = m_.width;
      double bonds = 0;
      for (int k = 0; k < n; ++k) {
        const int ring = k / w, p = k % w;
        bonds += law.correlation(k, ring * w + (p + 1) % w);
        if (ring + 1 < m_.length) bonds += law.correlation(k, k + w);
      }
      const std::vector<double> counts =
          histogrammed_cost(law.max_bond()) <= law_budget ? histogrammed_law(law) : std::vector<double>{};
      double abs_m = counts.empty() ? std::nan("") : 0.0;
      for (std::size_t v = 0; v < counts.size(); ++v) abs_m += counts[v] * std::abs(2.0 * static_cast<double>(v) - n);
      return {(-m_.J * bonds - m_.h * sum) / n, abs_m / n, sum / n};
    }
  }
  return e;
}

}  // namespace twinflow::spin
