#include "learned_mps.hpp"

#include <petsctao.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "twinflow/core/collective.hpp"
#include "twinflow/core/exact_sum.hpp"
#include "twinflow/optim/minimise.hpp"
#include "twinflow/rng/counter_rng.hpp"

namespace twinflow::spin {
namespace {

constexpr Stream kInitialStream = static_cast<Stream>(static_cast<std::uint64_t>(Stream::kFamily) + 7);
/// Half-width of the initial noise of θ.
constexpr double kInitialNoise = 0.1;
/// Per-sample terms are rounded to 2^−40 (gradient terms lie in [0, 1]).
constexpr int kFractionBits = 40;
/// TAO stops when the gradient of the mean NLL is this small.
constexpr double kGradientTolerance = 1e-7;
/// θ is kept in [−kThetaBound, kThetaBound]: entries e^θ stay finite when
/// the NLL falls without bound along a direction (an entry that no sample
/// uses, such as a step below height 0 of a Fredkin path, tends to 0).
constexpr double kThetaBound = 30;

using Tensors = std::vector<std::array<Eigen::MatrixXd, 2>>;

}  // namespace

LearnedMps::LearnedMps(int sites, int bond, std::uint64_t seed) : sites_(sites), bond_(bond) {
  if (sites < 1 || bond < 1) throw std::invalid_argument("LearnedMps: needs at least one site and bond 1");
  for (int k = 0; k <= sites; ++k) {
    const int edge = std::min(k, sites - k);
    chi_.push_back(edge >= 30 ? bond : std::min(bond, 1 << edge));
  }
  std::size_t n = 0;
  for (int i = 0; i < sites; ++i)
    for (int b = 0; b < 2; ++b) {
      offsets_.push_back(n);
      n += static_cast<std::size_t>(chi_[static_cast<std::size_t>(i)] * chi_[static_cast<std::size_t>(i) + 1]);
    }
  theta_.resize(n);
  const CounterRng rng(seed, kInitialStream);
  for (std::size_t p = 0; p < n; ++p) theta_[p] = kInitialNoise * (2 * rng.uniform(p, 0) - 1);
}

Mps LearnedMps::law() const {
  Tensors a(static_cast<std::size_t>(sites_));
  for (int i = 0; i < sites_; ++i)
    for (int b = 0; b < 2; ++b)
      a[static_cast<std::size_t>(i)][static_cast<std::size_t>(b)] =
          Eigen::Map<const Eigen::MatrixXd>(theta_.data() + offset(i, b), chi_[static_cast<std::size_t>(i)],
                                            chi_[static_cast<std::size_t>(i) + 1])
              .array()
              .exp()
              .matrix();
  return Mps(Eigen::VectorXd::Ones(1), std::move(a), Eigen::VectorXd::Ones(1));
}

double LearnedMps::nll(MPI_Comm comm, const std::uint8_t* samples, std::int64_t count,
                       std::vector<double>* gradient) const {
  const std::size_t P = theta_.size();
  // Slots: Σ log W, the samples, those of W = 0, then Σ ∂ log W / ∂θ.
  FixedPointSum sums(3 + (gradient ? P : 0), kFractionBits);
  std::optional<Mps> law_now;
  std::exception_ptr failure;
  try {
    law_now.emplace(law());
    const Mps& mps = *law_now;
    const auto L = static_cast<std::size_t>(sites_);
    std::vector<Eigen::VectorXd> prefix(L + 1), suffix(L + 1);
    for (std::int64_t n = 0; n < count; ++n) {
      const std::uint8_t* x = samples + static_cast<std::size_t>(n) * L;
      sums.add(1, 1.0);
      prefix[0] = Eigen::VectorXd::Ones(1);
      double log_w = 0;
      for (std::size_t i = 0; i < L; ++i) {
        prefix[i + 1] = mps.tensor(static_cast<int>(i), x[i] != 0).transpose() * prefix[i];
        log_w += normalise_sum(prefix[i + 1]);
      }
      if (!std::isfinite(log_w)) {
        sums.add(2, 1.0);
        continue;
      }
      sums.add(0, log_w);
      if (!gradient) continue;
      suffix[L] = Eigen::VectorXd::Ones(1);
      for (std::size_t i = L; i-- > 0;) {
        suffix[i] = mps.tensor(static_cast<int>(i), x[i] != 0) * suffix[i + 1];
        normalise_sum(suffix[i]);
      }
      for (std::size_t i = 0; i < L; ++i) {
        const int b = x[i] != 0;
        const Eigen::MatrixXd& t = mps.tensor(static_cast<int>(i), b);
        const Eigen::MatrixXd share = (prefix[i] * suffix[i + 1].transpose()).cwiseProduct(t);
        const double total = share.sum();
        const std::size_t first = 3 + offset(static_cast<int>(i), b);
        for (Eigen::Index e = 0; e < share.size(); ++e)
          sums.add(first + static_cast<std::size_t>(e), share.data()[e] / total);
      }
    }
  } catch (...) {
    failure = std::current_exception();
  }
  agree(comm, failure);
  const std::vector<double> s = sums.reduce(comm);
  if (s[1] == 0) throw std::invalid_argument("LearnedMps::nll: no samples on any rank");
  if (s[2] > 0) {
    if (gradient) gradient->assign(P, 0.0);
    return std::numeric_limits<double>::infinity();
  }
  const Mps& mps = *law_now;
  const double value = mps.log_z() - s[0] / s[1];
  if (!gradient) return value;
  // ∂ log Z / ∂θ_i^b[j,k] = L_i[j] A_i^b[j,k] R_{i+1}[k] / Z, the entry's share.
  gradient->resize(P);
  for (int i = 0; i < sites_; ++i) {
    const std::array<Eigen::MatrixXd, 2> shares = mps.entry_shares(i);
    for (int b = 0; b < 2; ++b) {
      const std::size_t first = offset(i, b);
      for (Eigen::Index e = 0; e < shares[static_cast<std::size_t>(b)].size(); ++e)
        (*gradient)[first + static_cast<std::size_t>(e)] =
            shares[static_cast<std::size_t>(b)].data()[e] - s[3 + first + static_cast<std::size_t>(e)] / s[1];
    }
  }
  return value;
}

LearnedMps::Training LearnedMps::train(MPI_Comm comm, const std::uint8_t* samples, std::int64_t count,
                                       int iterations) {
  MinimiseSettings settings;
  settings.tao_type = TAOBLMVM;
  settings.options_prefix = "spin_learn_";
  settings.max_iterations = iterations;
  settings.gradient_tolerance = kGradientTolerance;
  settings.bound = kThetaBound;
  const MinimiseResult result = minimise(
      comm, theta_,
      [&](const std::vector<double>& theta, std::vector<double>& gradient) {
        theta_ = theta;
        return nll(comm, samples, count, &gradient);
      },
      settings);
  Training t;
  t.iterations = result.iterations;
  t.evaluations = result.evaluations;
  t.nll = nll(comm, samples, count, nullptr);
  t.reason = result.reason;
  return t;
}

}  // namespace twinflow::spin
