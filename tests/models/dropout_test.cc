// Dropout masks and the ReLU backward: their exact word layout and values
// (models' digests depend on them), including the bulk forms the layers use.
#include "models/layers/dropout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/random.h"
#include "models/layers/eigen_types.h"

namespace fedrec {
namespace {

TEST(Dropout, MaskIsKeyedAndScaled) {
  std::vector<float> a(1001), b(1001);
  RandomStream s1({1, "dropout", 2, 3, 4}), s2({1, "dropout", 2, 3, 4});
  layers::FillDropoutMask(s1, 0.25, a.data(), a.size());
  layers::FillDropoutMask(s2, 0.25, b.data(), b.size());
  EXPECT_EQ(a, b);
  int dropped = 0;
  for (float m : a) {
    EXPECT_TRUE(m == 0.0f || m == 1.0f / 0.75f);
    dropped += m == 0.0f;
  }
  EXPECT_GT(dropped, 180);
  EXPECT_LT(dropped, 320);
}

// The mask is a fixed function of the stream: two entries per word (low half
// first), an odd last entry from a whole word's low half; chunked drawing
// must not change it (models' digests depend on it).
TEST(Dropout, MaskFollowsTheWordLayout) {
  const uint32_t threshold = layers::DropoutThreshold(0.3);
  const float keep = 1.0f / (1.0f - 0.3f);
  for (size_t n : {1, 2, 7, 511, 512, 513, 1025, 3000}) {
    RandomStream s({5, "dropout", 1, 2, 3}), ref({5, "dropout", 1, 2, 3});
    s.NextU32();  // start off a block boundary
    ref.NextU32();
    std::vector<float> mask(n);
    layers::FillDropoutMask(s, 0.3, mask.data(), n);
    for (size_t i = 0; i < n; i += 2) {
      const uint32_t u = ref.NextU32();
      ASSERT_EQ(mask[i], (u & 0xFFFFu) < threshold ? 0.0f : keep) << n << " " << i;
      if (i + 1 < n) {
        ASSERT_EQ(mask[i + 1], (u >> 16) < threshold ? 0.0f : keep) << n << " " << i;
      }
    }
    EXPECT_EQ(s.position(), ref.position()) << n;
  }
}

// The triangle form draws exactly what FillDropoutMask draws row by row,
// leaves the stream at the same position, and writes nothing above the
// diagonal; lengths around the bulk draw's 32 words, and rows longer than
// a chunk (1024 entries).
TEST(Dropout, TriangleIsTheRowByRowMasks) {
  for (size_t rows : {1, 2, 3, 50, 63, 64, 65, 200, 1030}) {
    const size_t stride = rows + 3;
    RandomStream s({7, "dropout", 1, 2, 3}), ref({7, "dropout", 1, 2, 3});
    s.NextU32();  // start off a block boundary
    ref.NextU32();
    std::vector<float> got(rows * stride, -1.0f), want(rows * stride, -1.0f);
    layers::FillDropoutMaskTriangle(s, 0.2, got.data(), rows, stride);
    for (size_t i = 0; i < rows; ++i) {
      layers::FillDropoutMask(ref, 0.2, want.data() + i * stride, i + 1);
    }
    ASSERT_EQ(got, want) << rows;
    EXPECT_EQ(s.position(), ref.position()) << rows;
    EXPECT_EQ(s.NextU32(), ref.NextU32()) << rows;
  }
}

// g = y > 0 ? g * mask : +0, as Eigen's select gives, for every kind of
// entry: the sign of zero, NaN and infinity pass through a kept entry.
TEST(Dropout, ReluBackwardIsTheSelect) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> y = {1.0f, 0.0f, -0.0f, -2.0f, 3.0f, 4.0f, 5.0f, 1e-30f, -1e-30f};
  const std::vector<float> g0 = {2.0f, 3.0f, 4.0f, 5.0f, -0.0f, nan, inf, -6.0f, 7.0f};
  const std::vector<float> mask = {1.25f, 1.25f, 0.0f, 1.25f, 1.25f, 1.25f, 1.25f, 0.0f, 1.25f};
  for (const bool with_mask : {false, true}) {
    std::vector<float> g = g0;
    layers::ReluBackwardInPlace(y.data(), with_mask ? mask.data() : nullptr, g.data(), g.size());
    for (size_t i = 0; i < g.size(); ++i) {
      const float kept = with_mask ? g0[i] * mask[i] : g0[i];
      const float want = y[i] > 0.0f ? kept : 0.0f;
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(g[i])) << i;
      } else {
        EXPECT_EQ(g[i], want) << i;
        EXPECT_EQ(std::signbit(g[i]), std::signbit(want)) << i;
      }
    }
  }
  std::vector<double> yd = {1.0, -1.0}, gd = {-0.0, 2.0};
  layers::ReluBackwardInPlace(yd.data(), static_cast<const double*>(nullptr), gd.data(), 2);
  EXPECT_TRUE(std::signbit(gd[0]));
  EXPECT_EQ(gd[1], 0.0);
  EXPECT_FALSE(std::signbit(gd[1]));
}

}  // namespace
}  // namespace fedrec
