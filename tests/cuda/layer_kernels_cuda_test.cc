// The launches of models/cuda/layer_kernels_api.h on a GPU against the host
// execution of the same bodies (models/cuda/layer_kernels.h), which
// layer_kernels_reference_test checks against the CPU layers. Each test
// skips without a device.
//
// Tolerance: the device runs the same operations in the same order; it may
// contract a multiply-add into an FMA and its expf / log1pf are within 2 ulp
// of libm's, so float results agree to a relative 1e-5 (magnitudes O(1)
// here). Masks and gathers (a single multiply) are compared bitwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/random.h"
#include "models/cuda/device.h"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/layer_kernels_api.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

using kernels::DeviceArray;

constexpr double kRel = 1e-5;

std::vector<float> Uniform(size_t n, uint32_t tag, float scale = 1.0f) {
  RandomStream s({11, "cuda_kernel_test", tag});
  std::vector<float> v(n);
  for (float& x : v) x = (2.0f * s.NextFloat() - 1.0f) * scale;
  return v;
}

template <typename T>
DeviceArray<T> Upload(const std::vector<T>& host) {
  auto a = DeviceArray<T>::FromHost(host);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::move(*a) : DeviceArray<T>();
}

template <typename T>
std::vector<T> Download(const DeviceArray<T>& a) {
  std::vector<T> host(a.size());
  const absl::Status s = a.CopyTo(host);
  EXPECT_TRUE(s.ok()) << s;
  return host;
}

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], kRel * std::max(1.0f, std::abs(want[i])))
        << what << "[" << i << "]";
  }
}

TEST(CudaKernels, BadArgumentsAreRefusedBeforeAnyLaunch) {
  EXPECT_EQ(kernels::LaunchLayerNormForward(nullptr, nullptr, nullptr, 4, 0, nullptr, nullptr,
                                            nullptr, nullptr)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kernels::LaunchDropoutMask({}, 0, 1.0, 4, nullptr, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kernels::LaunchDropoutTriangle({}, 0, 0.1, 1, 8, 4, nullptr, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      kernels::LaunchBceLoss(nullptr, nullptr, nullptr, 0, nullptr, nullptr, nullptr, nullptr)
          .ok());
}

TEST(CudaKernels, LayerNormMatchesTheHostBodies) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  for (const size_t d : {3, 50, 64}) {
    SCOPED_TRACE(d);
    const size_t n = 37;
    const auto x = Uniform(n * d, 1, 3.0f), g = Uniform(d, 2), b = Uniform(d, 3),
               dy = Uniform(n * d, 4);
    std::vector<float> y(n * d), xhat(n * d), rstd(n), dx(n * d, 0.5f), dg(d, 0.0f), db(d, 1.0f);
    auto dx_d = Upload(x), dg_d = Upload(g), db_d = Upload(b), ddy = Upload(dy);
    auto y_d = Upload(y), xhat_d = Upload(xhat), rstd_d = Upload(rstd), gdx = Upload(dx),
         gdg = Upload(dg), gdb = Upload(db);
    ASSERT_TRUE(kernels::LaunchLayerNormForward(dx_d.get(), dg_d.get(), db_d.get(), n, d,
                                                xhat_d.get(), rstd_d.get(), y_d.get(), nullptr)
                    .ok());
    ASSERT_TRUE(kernels::LaunchLayerNormBackward(xhat_d.get(), rstd_d.get(), dg_d.get(), ddy.get(),
                                                 n, d, gdx.get(), gdg.get(), gdb.get(), nullptr)
                    .ok());
    for (size_t i = 0; i < n; ++i) {
      kernels::LayerNormForwardRow<float>(x.data() + i * d, g.data(), b.data(), d,
                                          xhat.data() + i * d, rstd.data() + i, y.data() + i * d);
      kernels::LayerNormBackwardRow<float>(xhat.data() + i * d, rstd[i], g.data(),
                                           dy.data() + i * d, d, dx.data() + i * d);
    }
    for (size_t j = 0; j < d; ++j) {
      kernels::LayerNormParamGradColumn<float>(xhat.data(), dy.data(), n, d, j, dg.data(),
                                               db.data());
    }
    ExpectClose(Download(y_d), y, "y");
    ExpectClose(Download(xhat_d), xhat, "xhat");
    ExpectClose(Download(rstd_d), rstd, "rstd");
    ExpectClose(Download(gdx), dx, "dx");
    ExpectClose(Download(gdg), dg, "dgamma");
    ExpectClose(Download(gdb), db, "dbeta");
  }
}

TEST(CudaKernels, CausalSoftmaxMatchesTheHostBodies) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  const size_t windows = 3, len = 20;
  const std::vector<uint32_t> first = {0, 5, 19};
  const float scale = 0.5f;
  const auto s = Uniform(windows * len * len, 10, 4.0f), dpd = Uniform(windows * len * len, 11);
  auto mask = Uniform(windows * len * len, 12);
  for (float& m : mask) m = m < -0.5f ? 0.0f : 1.0f / 0.75f;
  std::vector<float> p(s.size()), ds(s.size());
  auto s_d = Upload(s), dpd_d = Upload(dpd), mask_d = Upload(mask), p_d = Upload(p),
       ds_d = Upload(ds);
  auto first_d = Upload(first);
  ASSERT_TRUE(kernels::LaunchCausalSoftmaxForward(s_d.get(), windows, len, first_d.get(), scale,
                                                  p_d.get(), nullptr)
                  .ok());
  ASSERT_TRUE(kernels::LaunchCausalSoftmaxBackward(p_d.get(), dpd_d.get(), mask_d.get(), windows,
                                                   len, first_d.get(), scale, ds_d.get(), nullptr)
                  .ok());
  for (size_t r = 0; r < windows * len; ++r) {
    const size_t w = r / len, i = r % len;
    kernels::CausalSoftmaxForwardRow<float>(s.data() + r * len, len, first[w], i, scale,
                                            p.data() + r * len);
  }
  const auto p_got = Download(p_d);
  ExpectClose(p_got, p, "p");
  // The backward from the device's own forward, so that only the backward
  // is compared.
  for (size_t r = 0; r < windows * len; ++r) {
    const size_t w = r / len, i = r % len;
    kernels::CausalSoftmaxBackwardRow<float>(p_got.data() + r * len, dpd.data() + r * len,
                                             mask.data() + r * len, len, first[w], i, scale,
                                             ds.data() + r * len);
  }
  ExpectClose(Download(ds_d), ds, "ds");
}

TEST(CudaKernels, DropoutMasksAreBitwiseTheHostMasks) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  const StreamKey key{.seed = 3, .purpose = "dropout", .round = 2, .client = 8, .step = 5};
  const PhiloxStream ps = PhiloxStreamOf(key);
  for (double rate : {0.1, 0.5}) {
    for (size_t n : {1, 7, 1000, 4097}) {
      for (uint64_t skip : {0, 3}) {
        std::vector<float> want(n);
        kernels::DropoutMaskRange<float>(ps, skip, kernels::DropoutThresholdFor(rate),
                                         1.0f / static_cast<float>(1 - rate), 0, n, want.data());
        auto m = DeviceArray<float>::Create(n);
        ASSERT_TRUE(m.ok());
        ASSERT_TRUE(kernels::LaunchDropoutMask(ps, skip, rate, n, m->get(), nullptr).ok());
        EXPECT_EQ(Download(*m), want) << rate << " " << n << " " << skip;
      }
    }
  }
  const size_t heads = 2, len = 50;
  std::vector<float> want(heads * len * len, 0.0f);
  for (size_t h = 0; h < heads; ++h) {
    for (size_t i = 0; i < len; ++i) {
      kernels::DropoutTriangleRow<float>(ps, 1, kernels::DropoutThresholdFor(0.2), 1.0f / 0.8f, len,
                                         h, i, want.data() + (h * len + i) * len);
    }
  }
  auto m = Upload(std::vector<float>(want.size(), 0.0f));
  ASSERT_TRUE(kernels::LaunchDropoutTriangle(ps, 1, 0.2, heads, len, len, m.get(), nullptr).ok());
  EXPECT_EQ(Download(m), want);
}

TEST(CudaKernels, GatherScatterAndBceMatchTheHostBodies) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  const size_t items = 40, d = 19, n = 200;
  const auto table = Uniform(items * d, 20), dout = Uniform(n * d, 21);
  std::vector<uint32_t> ids(n);
  RandomStream r({2, "ids"});
  for (uint32_t& id : ids) id = r.NextBelow(items);
  ids[3] = ids[77] = kernels::kNoItem;
  const float scale = std::sqrt(static_cast<float>(d));

  std::vector<float> out(n * d), dtable = Uniform(items * d, 22);
  auto table_d = Upload(table), dout_d = Upload(dout), out_d = Upload(out),
       dtable_d = Upload(dtable);
  auto ids_d = Upload(ids);
  ASSERT_TRUE(
      kernels::LaunchEmbeddingGather(table_d.get(), d, ids_d.get(), n, scale, out_d.get(), nullptr)
          .ok());
  const kernels::ScatterPlan plan = kernels::BuildScatterPlan(ids.data(), n);
  auto plan_d = kernels::DeviceScatterPlan::FromHost(plan);
  ASSERT_TRUE(plan_d.ok()) << plan_d.status();
  ASSERT_TRUE(
      kernels::LaunchScatterAdd(*plan_d, dout_d.get(), d, scale, dtable_d.get(), nullptr).ok());
  for (size_t t = 0; t < n; ++t) {
    kernels::EmbeddingGatherRow<float>(table.data(), d, ids[t], scale, out.data() + t * d);
  }
  for (size_t k = 0; k < plan.rows.size(); ++k) {
    kernels::ScatterAddSlot<float>(plan.rows.data(), plan.offsets.data(), plan.positions.data(), k,
                                   dout.data(), d, scale, dtable.data());
  }
  EXPECT_EQ(Download(out_d), out);
  ExpectClose(Download(dtable_d), dtable, "dtable");

  const auto pos = Uniform(n, 30, 20.0f), neg = Uniform(n, 31, 20.0f);
  std::vector<uint8_t> valid(n, 1);
  valid[0] = valid[n / 2] = 0;
  std::vector<float> loss(n), gp(n), gn(n);
  auto pos_d = Upload(pos), neg_d = Upload(neg), loss_d = Upload(loss), gp_d = Upload(gp),
       gn_d = Upload(gn);
  auto valid_d = Upload(valid);
  ASSERT_TRUE(kernels::LaunchBceLoss(pos_d.get(), neg_d.get(), valid_d.get(), n, loss_d.get(),
                                     gp_d.get(), gn_d.get(), nullptr)
                  .ok());
  for (size_t t = 0; t < n; ++t) {
    loss[t] = kernels::BcePosition<float>(pos[t], neg[t], valid[t] != 0, &gp[t], &gn[t]);
  }
  ExpectClose(Download(loss_d), loss, "loss");
  ExpectClose(Download(gp_d), gp, "dpos");
  ExpectClose(Download(gn_d), gn, "dneg");
}

}  // namespace
}  // namespace fedrec
