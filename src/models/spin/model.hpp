#pragma once
// The three lattice models of the spin family (docs/spin.md
// (S9)–(S11)) as data laws P_0 with their observables: the per-configuration
// values that samples are averaged over, and the exact expectations of the
// same observables under any MPS law (P_t). Not collective.
#include <cstdint>
#include <string>
#include <vector>

#include "mps.hpp"

namespace twinflow {
class Config;
}

namespace twinflow::spin {

enum class ModelKind { kIsing1d, kFredkin, kIsing2d };

/// Limits of the spin.* keys: sites of any model, Fredkin's L, ising2d's W.
constexpr int kMaxSites = 4096, kMaxFredkin = 256, kMaxWidth = 8;

struct ModelSpec {
  ModelKind kind = ModelKind::kIsing1d;
  int length = 16;  ///< L: sites (ising1d, fredkin) or rings of the cylinder (ising2d)
  int width = 1;    ///< W: sites per ring (ising2d), 1 otherwise
  double beta = 0.5, J = 1, h = 0, c = 0.5;
  int sites() const { return length * width; }
  std::string name() const;
};

/// The model of the spin.* keys; throws UsageError naming the key for a
/// model the family does not build (odd or too long Fredkin chains, 2-D
/// tensors beyond 512 MiB, a width without ising2d, c = 1).
ModelSpec model_of(const Config& c);

/// P_0 of the model (exact MPS).
Mps data_law(const ModelSpec& m);

/// One observable: its name (an HDF5 name too), and its value on a
/// configuration of bytes.
struct Observable {
  std::string name, description;
};

class ModelObservables {
 public:
  explicit ModelObservables(const ModelSpec& m);
  const std::vector<Observable>& list() const { return list_; }
  /// Values of every observable on configuration x.
  void values(const std::uint8_t* x, double* out) const;
  /// Exact expectations of every observable under `law`; those that need
  /// the histogrammed law (⟨|m|⟩ of ising2d) are NaN when it costs more
  /// than `law_budget` multiply-adds.
  std::vector<double> exact(const Mps& law, double law_budget = kLawBudget) const;

  /// The integer observable histogrammed on the observable space: the
  /// magnetisation Σ s_i (Ising models) or the area Σ_k h_k (Fredkin), an
  /// affine image offset + 2 Σ_i c_i x_i of integer weights c_i.
  struct Histogrammed {
    std::string name, label;
    std::vector<int> weights;
    std::int64_t offset = 0;
    std::int64_t lowest() const { return offset; }
    std::int64_t highest() const;
  };
  const Histogrammed& histogrammed() const { return hist_; }
  double histogrammed_value(const std::uint8_t* x) const;
  /// Its exact law under `law`, entry v the probability of offset + 2v.
  std::vector<double> histogrammed_law(const Mps& law) const { return law.sum_distribution(hist_.weights); }
  /// The cost of that law in multiply-adds, sites · Σ c_i · χ², and the
  /// largest computed (beyond it the law, and ⟨|m|⟩ of ising2d, are not).
  double histogrammed_cost(int max_bond) const;
  static constexpr double kLawBudget = 4e9;

 private:
  ModelSpec m_;
  std::vector<Observable> list_;
  std::vector<int> distances_;  ///< ising1d: the correlation distances
  Histogrammed hist_;
};

}  // namespace twinflow::spin
