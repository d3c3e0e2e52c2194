// The GRU layer on TensorOps (models/cuda/gru_device.h), run on
// HostTensorOps, against the CPU GruLayer window by window: outputs, the
// weight gradients summed over the windows and the input gradients, for
// windows of different padding (one of padding only, one with no padding),
// and the kernel bodies' padding rule (no state, no gradient).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "models/cuda/gru_device.h"
#include "models/layers/gru.h"
#include "tests/cuda/relative_error.h"

namespace fedrec {
namespace {

using ::fedrec::testing::RelativeError;

constexpr size_t kHidden = 6, kBatch = 4, kSteps = 5;

std::vector<float> Uniform(size_t n, uint32_t round, float scale) {
  RandomStream s({.seed = 21, .purpose = "test_gru", .round = round});
  std::vector<float> v(n);
  for (float& x : v) x = scale * static_cast<float>(2.0 * s.NextDouble() - 1.0);
  return v;
}

struct Params {
  std::vector<float> w_ih = Uniform(3 * kHidden * kHidden, 1, 0.5f);
  std::vector<float> w_hh = Uniform(3 * kHidden * kHidden, 2, 0.5f);
  std::vector<float> b_ih = Uniform(3 * kHidden, 3, 0.2f);
  std::vector<float> b_hh = Uniform(3 * kHidden, 4, 0.2f);
};

TEST(GruDeviceLayer, MatchesTheCpuLayerWindowByWindow) {
  const Params p;
  // Windows of 3, 5 (no padding), 0 (padding only) and 1 valid steps.
  const std::vector<uint32_t> first = {2, 0, 5, 4};
  const size_t rows = kSteps * kBatch, h = kHidden;
  const std::vector<float> x = Uniform(rows * h, 5, 1.0f);
  const std::vector<float> dout = Uniform(rows * h, 6, 1.0f);

  auto ops = kernels::NewHostTensorOps();
  kernels::GruDeviceLayer layer(ops.get(), h);
  std::vector<float> out(rows * h, -1.0f), dx(rows * h, -1.0f);
  std::vector<float> gw_ih(p.w_ih.size(), 0.0f), gw_hh(p.w_hh.size(), 0.0f),
      gb_ih(p.b_ih.size(), 0.0f), gb_hh(p.b_hh.size(), 0.0f);
  const kernels::GruDeviceWeights w{p.w_ih.data(), p.w_hh.data(), p.b_ih.data(), p.b_hh.data()};
  ASSERT_TRUE(layer.Forward(w, x.data(), first.data(), kBatch, kSteps, out.data()).ok());
  ASSERT_TRUE(layer
                  .Backward(dout.data(), {gw_ih.data(), gw_hh.data(), gb_ih.data(), gb_hh.data()},
                            dx.data())
                  .ok());

  // The CPU layer on each window's valid steps alone.
  std::vector<float> want_out(rows * h, 0.0f), want_dx(rows * h, 0.0f);
  std::vector<float> cw_ih(gw_ih.size(), 0.0f), cw_hh(gw_hh.size(), 0.0f),
      cb_ih(gb_ih.size(), 0.0f), cb_hh(gb_hh.size(), 0.0f);
  const GruWeights<float> cw{static_cast<int>(h), static_cast<int>(h), p.w_ih.data(),
                             p.w_hh.data(),       p.b_ih.data(),       p.b_hh.data()};
  GruGradients<float> cg{cw_ih.data(), cw_hh.data(), cb_ih.data(), cb_hh.data()};
  for (size_t b = 0; b < kBatch; ++b) {
    const size_t n = kSteps - first[b];
    std::vector<float> xb(n * h), ob(n * h), db(n * h), dxb(n * h);
    for (size_t s = 0; s < n; ++s) {
      const size_t row = (first[b] + s) * kBatch + b;
      std::copy_n(x.begin() + row * h, h, xb.begin() + s * h);
      std::copy_n(dout.begin() + row * h, h, db.begin() + s * h);
    }
    GruLayer<float> cpu;
    cpu.Forward(cw, xb.data(), static_cast<int>(n), nullptr, nullptr, ob.data());
    cpu.Backward(db.data(), &cg, dxb.data(), nullptr);
    for (size_t s = 0; s < n; ++s) {
      const size_t row = (first[b] + s) * kBatch + b;
      std::copy_n(ob.begin() + s * h, h, want_out.begin() + row * h);
      std::copy_n(dxb.begin() + s * h, h, want_dx.begin() + row * h);
    }
  }
  // Padding rows are exactly zero in both; valid rows agree to rounding.
  EXPECT_LT(RelativeError(out, want_out), 1e-5);
  EXPECT_LT(RelativeError(dx, want_dx), 1e-5);
  EXPECT_LT(RelativeError(gw_ih, cw_ih), 1e-5);
  EXPECT_LT(RelativeError(gw_hh, cw_hh), 1e-5);
  EXPECT_LT(RelativeError(gb_ih, cb_ih), 1e-5);
  EXPECT_LT(RelativeError(gb_hh, cb_hh), 1e-5);
  for (size_t b = 0; b < kBatch; ++b) {
    for (size_t t = 0; t < first[b]; ++t) {
      for (size_t j = 0; j < h; ++j) {
        EXPECT_EQ(out[(t * kBatch + b) * h + j], 0.0f);
        EXPECT_EQ(dx[(t * kBatch + b) * h + j], 0.0f);
      }
    }
  }
}

// The same layer run twice gives bitwise the same outputs and gradients,
// and a second Backward adds a second share into the gradients.
TEST(GruDeviceLayer, RepeatsBitwiseAndAddsIntoTheGradients) {
  const Params p;
  const std::vector<uint32_t> first = {1, 0, 3, 2};
  const size_t rows = kSteps * kBatch, h = kHidden;
  const std::vector<float> x = Uniform(rows * h, 7, 1.0f);
  const std::vector<float> dout = Uniform(rows * h, 8, 1.0f);
  auto ops = kernels::NewHostTensorOps();
  const kernels::GruDeviceWeights w{p.w_ih.data(), p.w_hh.data(), p.b_ih.data(), p.b_hh.data()};
  std::vector<float> out1(rows * h), out2(rows * h), gw(p.w_hh.size(), 0.0f), gi(gw.size(), 0.0f),
      bi(3 * h, 0.0f), bh(3 * h, 0.0f);
  kernels::GruDeviceLayer layer(ops.get(), h);
  ASSERT_TRUE(layer.Forward(w, x.data(), first.data(), kBatch, kSteps, out1.data()).ok());
  ASSERT_TRUE(
      layer.Backward(dout.data(), {gi.data(), gw.data(), bi.data(), bh.data()}, nullptr).ok());
  const std::vector<float> once = gw;
  ASSERT_TRUE(layer.Forward(w, x.data(), first.data(), kBatch, kSteps, out2.data()).ok());
  ASSERT_TRUE(
      layer.Backward(dout.data(), {gi.data(), gw.data(), bi.data(), bh.data()}, nullptr).ok());
  EXPECT_EQ(out1, out2);
  for (size_t i = 0; i < gw.size(); ++i) EXPECT_FLOAT_EQ(gw[i], 2 * once[i]);
}

}  // namespace
}  // namespace fedrec
