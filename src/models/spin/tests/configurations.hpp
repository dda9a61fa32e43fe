#pragma once
// Test helper: the configuration of L sites of enumeration index n (site 0
// the most significant bit, as in Mps::probabilities).
#include <cstdint>
#include <vector>

namespace twinflow::spin::test_support {

inline std::vector<std::uint8_t> configuration(int L, std::int64_t n) {
  std::vector<std::uint8_t> x(static_cast<std::size_t>(L));
  for (int i = 0; i < L; ++i) x[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>((n >> (L - 1 - i)) & 1);
  return x;
}

}  // namespace twinflow::spin::test_support
