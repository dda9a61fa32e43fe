#pragma once
// Non-negative matrix product states over binary sites: the laws
//   P(x) = e^{s} lᵀ A_0^{x_0} A_1^{x_1} ⋯ A_{L−1}^{x_{L−1}} r / Z,  x ∈ {0,1}^L,
// with A_i^b a χ_i × χ_{i+1} non-negative matrix (χ_0 = dim l, χ_L = dim r)
// and s a constant log scale (a gauge that keeps the entries in range, so
// that log Z is the model's partition function). x_i = 1 is the spin
// s_i = +1 (up, a Fredkin step ↑), x_i = 0 is s_i = −1. In an enumeration of
// all 2^L states the index of x is Σ_i x_i 2^{L−1−i} (site 0 the most
// significant bit).
//
// Every product is kept normalised site by site with its logarithm
// accumulated, so nothing overflows or underflows at L = 1000; results that
// can leave the range of a double are logarithms. Nothing here is
// collective; an Mps is immutable after construction and safe to share
// between threads.
#include <Eigen/Dense>
#include <array>
#include <cstdint>
#include <vector>

namespace twinflow::spin {

class Mps {
 public:
  /// Validates the shapes (every bond agrees, at least one site), finite
  /// non-negative entries and Z > 0 (std::invalid_argument). The weight of x
  /// is e^{log_scale} lᵀ A_0^{x_0} ⋯ r.
  Mps(Eigen::VectorXd l, std::vector<std::array<Eigen::MatrixXd, 2>> sites, Eigen::VectorXd r, double log_scale = 0);

  int sites() const { return static_cast<int>(sites_.size()); }
  int max_bond() const;
  /// The site tensor A_i^b (χ_i × χ_{i+1}).
  const Eigen::MatrixXd& tensor(int i, int b) const { return site(i, b); }
  /// log Z (with the log scale).
  double log_z() const { return log_scale_ + log_norm_; }
  /// log P(x), x of length sites(); −inf when P(x) = 0.
  double log_prob(const std::uint8_t* x) const;
  /// An exact sample from the conditionals P(x_i | x_<i): x_i = 1 iff
  /// uniform[i] ≤ P(x_i = 1 | x_<i), for L uniforms in (0, 1] (a value outside
  /// never picks a value of conditional probability 0). Writes x, returns
  /// log P(x). O(L χ²).
  double sample(const double* uniforms, std::uint8_t* x) const;
  /// The law after the kernel K (K(a, b) = Prob(new = a | old = b)) acts on
  /// every site independently: A_i^a ← Σ_b K(a, b) A_i^b, same bonds. K need
  /// only be non-negative (Z is recomputed).
  Mps channel(const Eigen::Matrix2d& K) const;
  /// Site tensors times local non-negative factors, A_i^b ← w[i][b] A_i^b
  /// (a Bayes posterior with w[i][b] the likelihood of the observation at
  /// site i given b). Throws std::invalid_argument if the result has Z = 0.
  Mps weighted(const std::vector<std::array<double, 2>>& w) const;
  /// out[i] = log P(y^{(i)}) − log P(y) for every site i, y^{(i)} being y with
  /// site i flipped; −inf where P(y^{(i)}) = 0 (also when P(y) = 0 too),
  /// +inf where P(y) = 0 < P(y^{(i)}). O(L χ²) from prefix and suffix products.
  void flip_log_ratios(const std::uint8_t* y, double* out) const;

  /// A diagonal factor f(x_site) = value0 or value1 (either sign).
  struct SiteFactor {
    int site;
    double value0, value1;
  };
  /// E[Π_k f_k(x_{site_k})], sites distinct, in any order; 1 for none.
  /// O((max site − min site + 1) χ²) from the cached environments.
  double expect(std::vector<SiteFactor> factors) const;
  /// The marginals of site i's entries: out[b](j, k) = L_i[j] A_i^b[j,k]
  /// R_{i+1}[k] / Z, the probability that x_i = b with bond indices j and
  /// k, L and R the environments of A^0 + A^1 (all entries of both b sum
  /// to 1). O(χ²) from the cached environments.
  std::array<Eigen::MatrixXd, 2> entry_shares(int i) const;
  /// ⟨s_i⟩ with s = 2x − 1.
  double spin(int i) const;
  /// ⟨s_i s_j⟩ (1 for i = j).
  double correlation(int i, int j) const;
  /// The law of Σ_i c_i x_i for integers c_i ≥ 0: entry v is
  /// P(Σ c_i x_i = v), size Σ c_i + 1. O(L χ² Σc); Σc ≤ 10^7.
  std::vector<double> sum_distribution(const std::vector<int>& c) const;
  /// P(x) for the states of index first .. first + count − 1, into out, by a
  /// walk that recomputes only the prefixes that change: O(count χ²)
  /// amortised. Requires L ≤ 40.
  void probabilities(std::int64_t first, std::int64_t count, double* out) const;

 private:
  const Eigen::MatrixXd& site(int i, int b) const {
    return sites_[static_cast<std::size_t>(i)][static_cast<std::size_t>(b)];
  }

  Eigen::VectorXd l_, r_;
  std::vector<std::array<Eigen::MatrixXd, 2>> sites_;
  double log_scale_ = 0;
  // Environments of the summed tensors A_i^0 + A_i^1 at every bond k = 0..L,
  // each of unit sum, with their logarithmic scales: left_[k] ∝ lᵀ Π_{i<k},
  // right_[k] ∝ Π_{i≥k} r. log_norm_ = log(lᵀ Π r), without log_scale_.
  std::vector<Eigen::VectorXd> left_, right_;
  std::vector<double> left_log_, right_log_;
  double log_norm_ = 0;
};

/// Scales a non-negative v to unit sum and returns the log of the old sum;
/// −inf (v unchanged) when the sum is not positive and finite.
double normalise_sum(Eigen::VectorXd& v);

/// The single-site flip kernel of the noise at rate gamma over time t:
/// K_t = ½[[1 + e^{−2γt}, 1 − e^{−2γt}], [1 − e^{−2γt}, 1 + e^{−2γt}]].
Eigen::Matrix2d flip_kernel(double gamma, double t);

/// Boltzmann laws P ∝ e^{−βE} as exact MPS (per-site gauge in log_scale, so
/// log_z() is the partition function).
///
/// Open Ising chain of L ≥ 1 sites, E = −J Σ_{i<L−1} s_i s_{i+1} − h Σ_i s_i;
/// the bond index is the previous spin (χ = 2; the first bond 1).
Mps ising1d(int L, double beta, double J, double h);
/// Fredkin chain, L ≥ 2 even, 0 < c < 1: Dyck paths of steps ↑ (x = 1) and ↓,
/// heights h_0 = 0, h_k = Σ_{j<k} s_j, π ∝ y^{area}, y = √(c/(1−c)),
/// area = Σ_{k=0}^{L} h_k. The bond index is the height: A^↑[h, h+1] = y^{h+1},
/// A^↓[h, h−1] = y^{h−1}, l = r = e_0; bond k keeps the heights
/// 0..min(k, L − k) a Dyck path can reach (χ = L/2 + 1 in the middle). For
/// y > 1 site k is divided by y^{min(k+1, L−k−1)} (into the log scale), so no
/// entry overflows. Dense tensors: about L³/6 doubles (1.3 GB at L = 1000).
Mps fredkin(int L, double c);
/// 2-D Ising on a W × L cylinder, 3 ≤ W ≤ 12 (periodic around each ring), L ≥ 1
/// rings with open ends; site k = ring·W + position.
/// E = −J Σ_<nn> s s − h Σ s, neighbours (p, p+1 mod W) within a ring and the
/// same position on consecutive rings. χ = 2^W: bit p of the bond state is
/// the latest spin at position p; l = e_0 (no couplings back from ring 0),
/// r = all ones. Dense tensors: 2 W L 4^W doubles.
Mps ising2d(int W, int L, double beta, double J, double h);

/// h = 0 open chain: log(2 (2 cosh βJ)^{L−1}).
double ising1d_log_z_free(int L, double beta, double J);
/// Z_0..Z_n of the Fredkin chain of L = 2n steps at y, by first return:
/// Z_0 = 1, Z_n = Σ_{k<n} y^{2k+1} Z_k Z_{n−1−k} (Z_n(1) the Catalan numbers;
/// +inf past the range of a double).
std::vector<double> fredkin_partition(int n, double y);
/// log Z_n by the same recursion in logarithms (any n, y > 0).
double fredkin_log_partition(int n, double y);
/// Onsager's energy per site of the square-lattice Ising model, J = 1, β > 0:
/// u = −coth 2β [1 + (2/π)(2 tanh² 2β − 1) K(k)], k = 2 sinh 2β / cosh² 2β;
/// u(β_c) = −√2 at β_c = ½ ln(1 + √2).
double onsager_energy(double beta);
/// Onsager's (Yang's) spontaneous magnetisation of the same lattice, J = 1:
/// M = (1 − sinh^{−4} 2β)^{1/8} above β_c, 0 at and below it.
double onsager_magnetisation(double beta);

}  // namespace twinflow::spin
