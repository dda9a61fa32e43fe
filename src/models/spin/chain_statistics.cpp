#include "chain_statistics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace twinflow::spin {

ChainEstimate estimate_chains(const std::vector<double>& series, int chains, int steps) {
  if (chains < 1 || steps < 2 || series.size() != static_cast<std::size_t>(chains) * static_cast<std::size_t>(steps))
    throw std::invalid_argument("estimate_chains: needs at least one chain of at least two steps");
  ChainEstimate e;
  const double n = static_cast<double>(series.size());
  for (double a : series) e.mean += a / n;
  for (double a : series) e.variance += (a - e.mean) * (a - e.mean) / (n - 1);
  std::vector<double> blocks(static_cast<std::size_t>(steps), 0.0);
  for (int c = 0; c < chains; ++c)
    for (int t = 0; t < steps; ++t)
      blocks[static_cast<std::size_t>(t)] += series[static_cast<std::size_t>(c) * static_cast<std::size_t>(steps) +
                                                    static_cast<std::size_t>(t)] / chains;
  double worst = 0;
  // Level 0 always; further levels while they keep kMinBlocks (≥ 2) blocks.
  do {
    const double m = static_cast<double>(blocks.size());
    double mean = 0, spread = 0;
    for (double b : blocks) mean += b / m;
    for (double b : blocks) spread += (b - mean) * (b - mean) / (m - 1);
    worst = std::max(worst, std::sqrt(spread / m));
    std::vector<double> halved(blocks.size() / 2);
    for (std::size_t j = 0; j < halved.size(); ++j) halved[j] = 0.5 * (blocks[2 * j] + blocks[2 * j + 1]);
    blocks = std::move(halved);
  } while (blocks.size() >= static_cast<std::size_t>(kMinBlocks));
  if (chains > 1) {
    double spread = 0;
    for (int c = 0; c < chains; ++c) {
      double m = 0;
      for (int t = 0; t < steps; ++t)
        m += series[static_cast<std::size_t>(c) * static_cast<std::size_t>(steps) + static_cast<std::size_t>(t)];
      m /= steps;
      spread += (m - e.mean) * (m - e.mean) / (chains - 1);
    }
    worst = std::max(worst, std::sqrt(spread / chains));
  }
  e.standard_error = worst;
  if (worst > 0) {
    e.effective_samples = std::min(n, e.variance / (worst * worst));
    e.tau = n / (2 * e.effective_samples);
  } else {
    // A constant observable: every sample is as good as independent.
    e.effective_samples = n;
    e.tau = 0.5;
  }
  return e;
}

}  // namespace twinflow::spin
