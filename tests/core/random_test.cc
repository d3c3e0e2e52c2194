#include "core/random.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

namespace fedrec {
namespace {

// Known-answer vectors for Philox4x32-10 from the Random123 distribution
// (examples/kat_vectors, "philox4x32 10").
TEST(Philox, KnownAnswerZero) {
  const auto out = Philox4x32_10({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(out, (PhiloxCounter{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
}

TEST(Philox, KnownAnswerOnes) {
  const auto out = Philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                 {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(out, (PhiloxCounter{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
}

TEST(Philox, KnownAnswerPi) {
  const auto out = Philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                                 {0xa4093822u, 0x299f31d0u});
  EXPECT_EQ(out, (PhiloxCounter{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(RandomStream, SameKeySameStream) {
  RandomStream a({.seed = 7, .purpose = "cohort", .round = 3, .client = 11, .step = 2});
  RandomStream b({.seed = 7, .purpose = "cohort", .round = 3, .client = 11, .step = 2});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.NextU32(), b.NextU32());
}

TEST(RandomStream, EveryKeyFieldChangesTheStream) {
  const StreamKey base{.seed = 7, .purpose = "cohort", .round = 3, .client = 11, .step = 2};
  std::vector<StreamKey> variants(5, base);
  variants[0].seed = 8;
  variants[1].purpose = "dropout";
  variants[2].round = 4;
  variants[3].client = 12;
  variants[4].step = 3;
  RandomStream ref(base);
  std::vector<uint32_t> ref_words(8);
  for (auto& w : ref_words) w = ref.NextU32();
  for (const auto& key : variants) {
    RandomStream s(key);
    int same = 0;
    for (uint32_t w : ref_words) same += (s.NextU32() == w);
    EXPECT_LT(same, 2);
  }
}

TEST(RandomStream, SeekResumesExactly) {
  RandomStream a({.seed = 1, .purpose = "x"});
  for (int i = 0; i < 13; ++i) a.NextU32();
  const uint64_t pos = a.position();
  std::vector<uint32_t> expected(20);
  for (auto& w : expected) w = a.NextU32();
  RandomStream b({.seed = 1, .purpose = "x"});
  b.Seek(pos);
  for (uint32_t w : expected) ASSERT_EQ(b.NextU32(), w);
}

// FillU32 is n calls of NextU32, from any position and for any length,
// across the vectorised whole-block path and its edges.
TEST(RandomStream, FillU32EqualsRepeatedNextU32) {
  for (uint64_t start : {0, 1, 3, 4, 5, 31, 32, 33, 1000}) {
    for (size_t n : {0, 1, 3, 4, 31, 32, 33, 64, 65, 100, 1027}) {
      RandomStream a({7, "fill", 2, 9, 4});
      RandomStream b({7, "fill", 2, 9, 4});
      a.Seek(start);
      b.Seek(start);
      std::vector<uint32_t> bulk(n + 1, 0xdeadbeef);
      a.FillU32(bulk.data(), n);
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(bulk[i], b.NextU32()) << start << " " << n << " " << i;
      EXPECT_EQ(bulk[n], 0xdeadbeefu) << "wrote past the end";
      EXPECT_EQ(a.position(), b.position());
      EXPECT_EQ(a.NextU32(), b.NextU32()) << "the stream continues identically";
    }
  }
}

// Eight blocks at once (FillU32's bulk step, AVX2 where built with it) are
// eight Philox4x32_10 blocks, by the portable lane loop too, for counters
// with every bit pattern in the other words, up to the last block index.
TEST(RandomStream, EightBlocksAreEightPhiloxBlocks) {
  const PhiloxKey key = {0x9E3779B9u, 0xFFFFFFFFu};
  for (uint32_t first : {0u, 5u, 0x7FFFFFFFu, 0xFFFFFFF8u}) {
    for (const PhiloxCounter& c : {PhiloxCounter{0, 0, 0, 0}, PhiloxCounter{0, 1, 2, 3},
                                   PhiloxCounter{0, 0xFFFFFFFFu, 0x80000000u, 0xDEADBEEFu}}) {
      std::array<uint32_t, 32> portable{};
      random_internal::Philox8BlocksPortable(first, c, key, portable.data());
      for (uint32_t l = 0; l < 8; ++l) {
        const PhiloxCounter block = Philox4x32_10({first + l, c[1], c[2], c[3]}, key);
        for (int j = 0; j < 4; ++j) {
          ASSERT_EQ(portable[4 * l + j], block[j]) << first << " " << l << " " << j;
        }
      }
    }
  }
  // FillU32 over whole blocks (its bulk step) against NextU32 near the end
  // of the block index range.
  RandomStream a({7, "fill", 0xFFFFFFFFu, 0x80000000u, 3}),
      b({7, "fill", 0xFFFFFFFFu, 0x80000000u, 3});
  a.Seek(4ull * 0xFFFFFFF0u);
  b.Seek(4ull * 0xFFFFFFF0u);
  std::vector<uint32_t> bulk(64);
  a.FillU32(bulk.data(), bulk.size());
  for (size_t i = 0; i < bulk.size(); ++i) ASSERT_EQ(bulk[i], b.NextU32()) << i;
}

// Chi-square test of NextBelow over 10 bins with a fixed seed; the 0.999
// quantile of chi-square with 9 degrees of freedom is 27.88.
TEST(RandomStream, NextBelowIsUniform) {
  RandomStream s({.seed = 42, .purpose = "uniformity"});
  constexpr int kBins = 10, kDraws = 100000;
  std::vector<int> counts(kBins, 0);
  for (int i = 0; i < kDraws; ++i) ++counts[s.NextBelow(kBins)];
  double chi2 = 0;
  const double expected = static_cast<double>(kDraws) / kBins;
  for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
  EXPECT_LT(chi2, 27.88);
}

TEST(RandomStream, NormalMoments) {
  RandomStream s({.seed = 5, .purpose = "normal"});
  constexpr int kDraws = 200000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double x = s.NextNormal();
    sum += x;
    sum2 += x * x;
  }
  const double mean = sum / kDraws;
  const double var = sum2 / kDraws - mean * mean;
  // Standard error of the mean is 1/sqrt(2e5) = 0.0022; of the variance ~0.0032.
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.015);
}

TEST(RandomStream, DoubleInUnitInterval) {
  RandomStream s({.seed = 9, .purpose = "u"});
  for (int i = 0; i < 10000; ++i) {
    const double u = s.NextDouble();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

// xoshiro256++ reference outputs from state {1, 2, 3, 4} (the reference C
// implementation, also used by rand_xoshiro's tests).
TEST(FastStream, KnownAnswer) {
  FastStream rng(std::array<uint64_t, 4>{1, 2, 3, 4});
  EXPECT_EQ(rng.NextU64(), 41943041u);
  EXPECT_EQ(rng.NextU64(), 58720359u);
  EXPECT_EQ(rng.NextU64(), 3588806011781223u);
  EXPECT_EQ(rng.NextU64(), 3591011842654386u);
}

TEST(FastStream, KeyedAndUniform) {
  FastStream a({.seed = 1, .purpose = "encode", .round = 2, .client = 3});
  FastStream b({.seed = 1, .purpose = "encode", .round = 2, .client = 3});
  FastStream c({.seed = 1, .purpose = "encode", .round = 2, .client = 4});
  std::vector<int> bins(16, 0);
  bool differs = false;
  const int n = 160000;
  for (int i = 0; i < n; ++i) {
    const uint32_t x = a.NextU32();
    ASSERT_EQ(x, b.NextU32());
    differs |= x != c.NextU32();
    ++bins[x >> 28];
  }
  EXPECT_TRUE(differs);
  // Chi-square, 15 degrees of freedom: the 0.999 quantile is 37.7.
  double chi2 = 0;
  for (int h : bins) chi2 += (h - n / 16.0) * (h - n / 16.0) / (n / 16.0);
  EXPECT_LT(chi2, 37.7);
}

}  // namespace
}  // namespace fedrec
