// Random123 Philox4x64-10 known-answer values (from the Random123
// distribution's kat_vectors) and the keying contract of CounterRng.
#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "twinflow/rng/counter_rng.hpp"

using twinflow::CounterRng;
using twinflow::Stream;

TEST(Philox, KnownAnswers) {
  struct Case {
    r123::Philox4x64::ctr_type ctr;
    r123::Philox4x64::key_type key;
    std::array<std::uint64_t, 4> expected;
  };
  const Case cases[] = {
      {{{0, 0, 0, 0}}, {{0, 0}}, {0x16554d9eca36314cULL, 0xdb20fe9d672d0fdcULL, 0xd7e772cee186176bULL, 0x7e68b68aec7ba23bULL}},
      {{{0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL}},
       {{0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL}},
       {0xa528f45403e61d95ULL, 0x38c72dbd566e9788ULL, 0xa5a1610e72fd18b5ULL, 0x57bd43b5e52b7fe6ULL}},
  };
  for (const auto& c : cases) {
    const auto r = r123::Philox4x64()(c.ctr, c.key);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r[i], c.expected[i]) << "word " << i;
  }
}

TEST(CounterRng, DrawsAreAFunctionOfTheirKeysOnly) {
  const CounterRng a(7, Stream::kReverse), b(7, Stream::kReverse), other(8, Stream::kReverse);
  double x[5], y[5], z[5];
  a.normals(123, 4, x, 5);
  b.normals(123, 4, y, 5);
  other.normals(123, 4, z, 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(x[i], y[i]);
    EXPECT_NE(x[i], z[i]);
  }
  double w[5];
  a.normals(124, 4, w, 5);
  EXPECT_NE(x[0], w[0]);
}

TEST(CounterRng, NormalMomentsWithinConfidence) {
  // 2e5 draws: standard errors 2.2e-3 (mean) and 3.2e-3 (variance); bounds
  // at 4.5 standard errors (two-sided confidence 1 − 7e-6), fixed seed.
  const CounterRng rng(1, Stream::kForward);
  const int n = 200000;
  double s = 0, s2 = 0, z[2];
  for (int i = 0; i < n / 2; ++i) {
    rng.normals(static_cast<std::uint64_t>(i), 0, z, 2);
    s += z[0] + z[1];
    s2 += z[0] * z[0] + z[1] * z[1];
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  EXPECT_LT(std::abs(mean), 4.5 * std::sqrt(1.0 / n));
  EXPECT_LT(std::abs(var - 1), 4.5 * std::sqrt(2.0 / n));
}
