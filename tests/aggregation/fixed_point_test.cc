#include "aggregation/fixed_point.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace fedrec {
namespace {

TEST(FixedPoint, ScaleIsTheLargestPowerOfTwoThatCannotWrap) {
  for (int bits : {32, 64}) {
    for (double clip : {0.1, 1.0, 3.7, 100.0}) {
      for (uint64_t m : {1ull, 7ull, 100ull, 943ull, 100000ull}) {
        auto codec = FixedPointCodec::Derive(bits, clip, m);
        ASSERT_TRUE(codec.ok()) << codec.status();
        const long double limit = std::ldexp(1.0L, bits - 1) - 1;
        const long double s = codec->scale();
        EXPECT_LE(m * (clip * s + 1), limit) << bits << " " << clip << " " << m;
        EXPECT_GT(m * (clip * 2 * s + 1), limit) << bits << " " << clip << " " << m;
      }
    }
  }
}

TEST(FixedPoint, KnownScale) {
  // 2^31 - 1 over 943 clients, C = 1: ((2^31-1)/943 - 1) = 2277270.3 -> 2^21.
  auto codec = FixedPointCodec::Derive(32, 1.0, 943);
  ASSERT_TRUE(codec.ok());
  EXPECT_EQ(codec->scale_log2(), 21);
  EXPECT_DOUBLE_EQ(codec->resolution(), std::ldexp(1.0, -21));
}

TEST(FixedPoint, RefusesAConfigWithoutResolution) {
  // A million Poisson clients in 32 bits with C = 1 leave 2^10 > 2^8: fine;
  // a billion leave none.
  EXPECT_TRUE(FixedPointCodec::Derive(32, 1.0, 1000000).ok());
  auto bad = FixedPointCodec::Derive(32, 1.0, 1000000000);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("aggregation.bits = 64"), std::string::npos);
  EXPECT_TRUE(FixedPointCodec::Derive(64, 1.0, 1000000000).ok());
  EXPECT_FALSE(FixedPointCodec::Derive(16, 1.0, 10).ok());
  EXPECT_FALSE(FixedPointCodec::Derive(32, 0.0, 10).ok());
}

TEST(FixedPoint, ZeroEncodesToZeroWithoutDrawing) {
  auto codec = FixedPointCodec::Derive(32, 1.0, 10);
  ASSERT_TRUE(codec.ok());
  RandomStream rng({.seed = 1, .purpose = "t"});
  EXPECT_EQ(codec->Encode(0.0, rng), 0u);
  EXPECT_EQ(rng.position(), 0u);
}

TEST(FixedPoint, NegativeValuesRoundTripThroughTwosComplement) {
  for (int bits : {32, 64}) {
    auto codec = FixedPointCodec::Derive(bits, 1.0, 10);
    ASSERT_TRUE(codec.ok());
    RandomStream rng({.seed = 2, .purpose = "t"});
    for (double x : {-1.0, -0.5, -1e-3, 0.25, 1.0}) {
      const double back = codec->Decode(codec->Encode(x, rng));
      EXPECT_LE(std::abs(back - x), codec->resolution()) << bits << " " << x;
    }
  }
}

TEST(FixedPoint, StochasticRoundingIsUnbiased) {
  auto codec = FixedPointCodec::Derive(32, 1.0, 1u << 20);  // coarse: scale 2^10
  ASSERT_TRUE(codec.ok());
  const double x = 0.3 * codec->resolution() + 5 * codec->resolution();
  RandomStream rng({.seed = 3, .purpose = "t"});
  const int n = 200000;
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += codec->Decode(codec->Encode(x, rng));
  // Each draw is x rounded to one of two neighbours: the mean's std is
  // resolution * sqrt(0.21 / n); allow 5 sigma.
  const double sigma = codec->resolution() * std::sqrt(0.3 * 0.7 / n);
  EXPECT_NEAR(sum / n, x, 5 * sigma);
}

TEST(FixedPoint, SumOfClippedUpdatesIsWithinTheDocumentedResolution) {
  for (int bits : {32, 64}) {
    const uint64_t m = 64;
    auto codec = FixedPointCodec::Derive(bits, 1.0, m);
    ASSERT_TRUE(codec.ok());
    const size_t dim = 257;
    std::vector<uint64_t> acc(dim, 0);
    std::vector<double> exact(dim, 0);
    RandomStream data({.seed = 4, .purpose = "data"});
    for (uint64_t c = 0; c < m; ++c) {
      std::vector<double> x(dim);
      double norm2 = 0;
      for (double& v : x) {
        v = data.NextNormal();
        norm2 += v * v;
      }
      const double f = 1.0 / std::sqrt(norm2);  // clip to norm 1
      RandomStream rng({.seed = 4, .purpose = "encode", .client = static_cast<uint32_t>(c)});
      for (size_t i = 0; i < dim; ++i) {
        acc[i] += codec->Encode(x[i] * f, rng);
        exact[i] += x[i] * f;
      }
    }
    for (size_t i = 0; i < dim; ++i) {
      EXPECT_LE(std::abs(codec->Decode(acc[i]) - exact[i]), m * codec->resolution());
    }
  }
}

TEST(FixedPoint, WorstCaseCohortDoesNotWrap) {
  for (int bits : {32, 64}) {
    const uint64_t m = 1000;
    auto codec = FixedPointCodec::Derive(bits, 2.0, m);
    ASSERT_TRUE(codec.ok());
    RandomStream rng({.seed = 5, .purpose = "t"});
    for (double sign : {1.0, -1.0}) {
      uint64_t acc = 0;
      // Every client at the clip bound, just below the next grid point so
      // rounding can go up.
      const double x = sign * 2.0;
      for (uint64_t c = 0; c < m; ++c) acc += codec->Encode(x, rng);
      EXPECT_NEAR(codec->Decode(acc), sign * 2.0 * m, m * codec->resolution()) << bits;
    }
  }
}

TEST(FixedPoint, BulkEncodingRoundsEachValueToANeighbourWithoutBias) {
  for (int bits : {32, 64}) {
    auto codec = FixedPointCodec::Derive(bits, 1.0, 1u << 20);  // scale 2^10 (32 bits)
    ASSERT_TRUE(codec.ok());
    const size_t n = 1001;
    std::vector<float> x(n);
    RandomStream data({.seed = 6, .purpose = "data"});
    for (float& v : x) v = static_cast<float>(2.4 * data.NextDouble() - 1.2);  // some beyond C
    const double factor = 0.9;
    const int reps = 400;
    std::vector<double> mean(n, 0);
    FastStream rng({.seed = 6, .purpose = "encode"});
    for (int r = 0; r < reps; ++r) {
      std::vector<uint64_t> acc(n, 0);
      codec->EncodeAdd(x.data(), n, factor, rng, acc.data());
      for (size_t i = 0; i < n; ++i) {
        const double want = std::clamp(x[i] * factor, -1.0, 1.0);
        const double got = codec->Decode(acc[i] & codec->mask());
        ASSERT_LE(std::abs(got - want), codec->resolution()) << i;
        mean[i] += got / reps;
      }
    }
    // Averaged over reps the rounding error shrinks like resolution/sqrt(reps).
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
      worst = std::max(worst, std::abs(mean[i] - std::clamp(x[i] * factor, -1.0, 1.0)));
    }
    EXPECT_LT(worst, 5 * 0.5 * codec->resolution() / std::sqrt(reps)) << bits;
  }
}

// The bulk encoder equals the one-value-at-a-time loop it replaced, word for
// word: same stream, same carries, on both of its paths (the exact-floor
// vector loop for 32-bit rings, the scalar one for wide 64-bit ranges),
// across chunk boundaries, odd lengths, exact integers and clamped values.
TEST(FixedPoint, BulkEncodingEqualsTheScalarLoop) {
  for (int bits : {32, 64}) {
    for (uint64_t clients : {uint64_t{1}, uint64_t{1} << 20}) {
      auto codec = FixedPointCodec::Derive(bits, 1.0, clients);
      ASSERT_TRUE(codec.ok());
      const double s0 = std::ldexp(1.0, codec->scale_log2());
      for (size_t n : {1, 2, 511, 512, 513, 1025, 3001}) {
        std::vector<float> x(n);
        RandomStream data({.seed = 9, .purpose = "data", .step = static_cast<uint32_t>(n)});
        for (size_t i = 0; i < n; ++i) {
          const double r = data.NextDouble();
          // Some exact multiples of the resolution, some beyond the clip.
          x[i] = i % 7 == 0 ? static_cast<float>(std::round(r * 64) / s0)
                            : static_cast<float>(3.0 * r - 1.5);
        }
        const double factor = 0.75;
        std::vector<uint64_t> got(n, 5), want(n, 5);
        FastStream a({.seed = 3, .purpose = "encode"}), b({.seed = 3, .purpose = "encode"});
        codec->EncodeAdd(x.data(), n, factor, a, got.data());
        const double s = s0 * factor, lim = 1.0 * s0;
        uint64_t word = 0;
        for (size_t i = 0; i < n; ++i) {
          double y = static_cast<double>(x[i]) * s;
          y = y < -lim ? -lim : (y > lim ? lim : y);
          int64_t t = static_cast<int64_t>(y);
          t -= static_cast<int64_t>(y < static_cast<double>(t));
          const double frac = y - static_cast<double>(t);
          if (i % 2 == 0) word = b.NextU64();
          const uint32_t u = static_cast<uint32_t>(i % 2 == 0 ? word : word >> 32);
          t += static_cast<int64_t>(static_cast<double>(u) < frac * 4294967296.0);
          want[i] += static_cast<uint64_t>(t);
        }
        ASSERT_EQ(got, want) << bits << " bits, " << clients << " clients, n " << n;
        EXPECT_EQ(a.NextU64(), b.NextU64()) << "same number of draws";
      }
    }
  }
}

}  // namespace
}  // namespace fedrec
