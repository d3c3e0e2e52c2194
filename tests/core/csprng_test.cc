#include "core/csprng.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <random>
#include <set>

namespace fedrec {
namespace {

TEST(Csprng, FillsBytesAndDiffersBetweenCalls) {
  std::array<uint8_t, 64> a{}, b{};
  ASSERT_TRUE(SecureRandomBytes(a).ok());
  ASSERT_TRUE(SecureRandomBytes(b).ok());
  EXPECT_NE(a, b);  // fails with probability 2^-512
  EXPECT_FALSE(std::all_of(a.begin(), a.end(), [](uint8_t x) { return x == 0; }));
}

TEST(Csprng, EmptySpanIsOk) { EXPECT_TRUE(SecureRandomBytes({}).ok()); }

TEST(Csprng, U64Distinct) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto v = SecureRandomU64();
    ASSERT_TRUE(v.ok());
    seen.insert(*v);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(Csprng, UrbgWorksWithStdDistributionsAcrossRefills) {
  auto urbg = SecureUrbg::Create();
  ASSERT_TRUE(urbg.ok());
  static_assert(std::uniform_random_bit_generator<SecureUrbg>);
  // Roughly half the bits set over many words (crossing several refills).
  uint64_t ones = 0;
  constexpr int kWords = 10 * SecureUrbg::kBufferWords + 3;
  for (int i = 0; i < kWords; ++i) ones += std::popcount((*urbg)());
  const double frac = static_cast<double>(ones) / (64.0 * kWords);
  EXPECT_NEAR(frac, 0.5, 0.02);
  std::normal_distribution<double> normal(0.0, 1.0);
  double sum = 0;
  for (int i = 0; i < 4000; ++i) sum += normal(*urbg);
  EXPECT_NEAR(sum / 4000, 0.0, 0.1);
}

TEST(Csprng, MovedUrbgKeepsWorking) {
  auto urbg = SecureUrbg::Create();
  ASSERT_TRUE(urbg.ok());
  SecureUrbg moved = std::move(*urbg);
  EXPECT_NE(moved(), moved());
}

}  // namespace
}  // namespace fedrec
