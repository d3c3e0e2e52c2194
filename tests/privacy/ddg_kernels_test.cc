// The DDG client kernels (privacy/ddg.cc) against naive reference versions:
// the cache-blocked, vectorised rotation and the chunked rounding must be
// bitwise what the straightforward loops compute (pinned seeds), and the
// pinned AES stream makes Encode reproducible.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "privacy/aes_urbg.h"
#include "privacy/ddg.h"

namespace fedrec::privacy {
namespace {

// The level-by-level transform with branchy signs (the original code).
void NaiveRandomizedHadamard(std::vector<double>& x, uint64_t seed) {
  RandomStream stream(StreamKey{seed, "ddg_rotation"});
  for (size_t j = 0; j < x.size(); j += 64) {
    const uint64_t bits = stream.NextU64();
    for (size_t k = j; k < std::min(x.size(), j + 64); ++k) {
      if ((bits >> (k - j)) & 1) x[k] = -x[k];
    }
  }
  for (size_t h = 1; h < x.size(); h <<= 1) {
    for (size_t i = 0; i < x.size(); i += 2 * h) {
      for (size_t j = i; j < i + h; ++j) {
        const double a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  const double scale = 1 / std::sqrt(static_cast<double>(x.size()));
  for (double& v : x) v *= scale;
}

TEST(DdgKernels, RotationIsBitwiseTheNaiveTransform) {
  for (size_t d : {1, 2, 4, 8, 64, 4096, 8192, 1 << 15}) {
    RandomStream s(StreamKey{3, "kernels", static_cast<uint32_t>(d)});
    std::vector<double> x(d);
    for (double& v : x) v = s.NextNormal();
    std::vector<double> y = x;
    RandomizedHadamard(x, 99);
    NaiveRandomizedHadamard(y, 99);
    for (size_t i = 0; i < d; ++i) {
      ASSERT_EQ(std::bit_cast<uint64_t>(x[i]), std::bit_cast<uint64_t>(y[i])) << d << " " << i;
    }
  }
}

TEST(DdgKernels, RoundingIsBitwiseTheNaiveRounding) {
  for (double magnitude : {3.0, 1e7}) {  // the small-norm and the 128-bit paths
    RandomStream s(StreamKey{4, "kernels_round"});
    std::vector<double> z(3000);
    for (double& v : z) v = s.NextNormal() * magnitude;
    PhiloxUrbg g1(StreamKey{5, "r"}), g2(StreamKey{5, "r"});
    auto r = ConditionalRandomizedRound(z, 1e300, 1, g1);
    ASSERT_TRUE(r.ok());
    for (size_t j = 0; j < z.size(); ++j) {
      const double fl = std::floor(z[j]);
      const double u = static_cast<double>(g2() >> 11) * 0x1.0p-53;
      ASSERT_EQ((*r)[j], static_cast<int64_t>(fl) + (u < z[j] - fl ? 1 : 0)) << j;
    }
  }
}

TEST(DdgKernels, PinnedAesEncodeIsReproducible) {
  DdgParams p;
  p.dim = 1000;
  p.clip = 1;
  p.bits = 20;
  p.num_clients = 10;
  p.local_stddev = 0.3;
  p.gamma = *ChooseDdgGamma(p.clip, DdgPaddedDim(p.dim), 10, p.bits, 4, p.local_stddev);
  auto m = DdgMechanism::Create(p);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->fast_noise());
  EXPECT_GT(m->noise_eta(), 0);
  std::vector<double> x(1000, 0.01);
  auto g1 = AesCtrUrbg::FromPinnedStream({.seed = 1, .purpose = "ddg", .round = 2, .client = 3});
  auto g2 = AesCtrUrbg::FromPinnedStream({.seed = 1, .purpose = "ddg", .round = 2, .client = 3});
  auto a = m->Encode(x, 7, *g1);
  auto b = m->Encode(x, 7, *g2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto exact = DdgMechanism::Create(p, /*fast_noise=*/false);
  ASSERT_TRUE(exact.ok());
  EXPECT_FALSE(exact->fast_noise());
  EXPECT_EQ(exact->noise_eta(), 0);
}

}  // namespace
}  // namespace fedrec::privacy
