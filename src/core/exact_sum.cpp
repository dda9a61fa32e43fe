#include "twinflow/core/exact_sum.hpp"

#include <cmath>
#include <stdexcept>

#include "twinflow/core/collective.hpp"

namespace twinflow {
namespace {
// A sum is carried as three digits in base 2^42: two non-negative and a
// signed top digit. Their sums over up to 2^20 ranks stay within int64.
constexpr int kDigitBits = 42;
constexpr __int128 kDigit = __int128{1} << kDigitBits;
constexpr double kTermLimit = 1.2676506002282294e30;  // 2^100
}  // namespace

FixedPointSum::FixedPointSum(std::size_t slots, int fraction_bits)
    : sums_(slots, 0), fraction_bits_(fraction_bits), scale_(std::ldexp(1.0, fraction_bits)) {}

void FixedPointSum::add(std::size_t slot, double term) {
  const double scaled = std::nearbyint(term * scale_);
  if (!(std::abs(scaled) < kTermLimit))
    throw std::domain_error("a term of an exact sum is not finite or beyond 2^100 units");
  sums_[slot] += static_cast<__int128>(scaled);
}

void FixedPointSum::clear() { std::fill(sums_.begin(), sums_.end(), 0); }

std::vector<double> FixedPointSum::reduce(MPI_Comm comm) const {
  const std::size_t n = sums_.size();
  std::vector<std::int64_t> digits(3 * n);
  for (std::size_t i = 0; i < n; ++i) {
    __int128 s = sums_[i];
    for (int d = 0; d < 2; ++d) {
      __int128 low = s % kDigit;
      if (low < 0) low += kDigit;
      digits[3 * i + static_cast<std::size_t>(d)] = static_cast<std::int64_t>(low);
      s = (s - low) / kDigit;
    }
    digits[3 * i + 2] = static_cast<std::int64_t>(s);
  }
  sum_over_ranks(comm, digits.data(), static_cast<int>(digits.size()));
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const __int128 total = static_cast<__int128>(digits[3 * i]) + static_cast<__int128>(digits[3 * i + 1]) * kDigit +
                           static_cast<__int128>(digits[3 * i + 2]) * kDigit * kDigit;
    out[i] = std::ldexp(static_cast<double>(total), -fraction_bits_);
  }
  return out;
}

}  // namespace twinflow
