// The GRU layer (models/cuda/gru_device.h) on CudaTensorOps against the same
// layer on HostTensorOps, which tests/cuda/gru_device_reference_test checks
// against the CPU GruLayer; and a device run repeated bitwise. Skipped
// without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/gru_device.h"
#include "tests/cuda/relative_error.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

using ::fedrec::testing::RelativeError;

constexpr size_t kHidden = 64, kBatch = 128, kSteps = 50;

struct Result {
  std::vector<float> out, dx, grads;
};

// Forward and backward of one layer on `ops` over fixed random data.
Result RunLayer(kernels::TensorOps& ops) {
  const size_t h = kHidden, rows = kSteps * kBatch, w = 3 * h * h;
  RandomStream s({.seed = 4, .purpose = "test_gru_cuda"});
  auto uniform = [&](size_t n, float scale) {
    std::vector<float> v(n);
    for (float& x : v) x = scale * static_cast<float>(2.0 * s.NextDouble() - 1.0);
    return v;
  };
  const std::vector<float> params = uniform(2 * w + 6 * h, 0.2f);
  const std::vector<float> x = uniform(rows * h, 1.0f), dout = uniform(rows * h, 1.0f);
  std::vector<uint32_t> first(kBatch);
  for (uint32_t& f : first) f = s.NextBelow(kSteps + 1);
  auto put = [&](const void* host, size_t bytes) {
    auto buffer = ops.Allocate(bytes);
    EXPECT_TRUE(buffer.ok());
    EXPECT_TRUE(ops.Upload((*buffer)->data(), host, bytes).ok());
    return std::move(*buffer);
  };
  auto p = put(params.data(), params.size() * sizeof(float));
  auto xs = put(x.data(), x.size() * sizeof(float));
  auto ds = put(dout.data(), dout.size() * sizeof(float));
  auto fs = put(first.data(), first.size() * sizeof(uint32_t));
  const std::vector<float> zeros(params.size(), 0.0f), blank(rows * h, 0.0f);
  auto g = put(zeros.data(), zeros.size() * sizeof(float));
  auto out = put(blank.data(), blank.size() * sizeof(float));
  auto dx = put(blank.data(), blank.size() * sizeof(float));
  const float* pw = p->as<float>();
  float* gw = g->as<float>();
  kernels::GruDeviceLayer layer(&ops, h);
  EXPECT_TRUE(layer
                  .Forward({pw, pw + w, pw + 2 * w, pw + 2 * w + 3 * h}, xs->as<float>(),
                           fs->as<uint32_t>(), kBatch, kSteps, out->as<float>())
                  .ok());
  EXPECT_TRUE(
      layer.Backward(ds->as<float>(), {gw, gw + w, gw + 2 * w, gw + 2 * w + 3 * h}, dx->as<float>())
          .ok());
  Result r{blank, blank, zeros};
  EXPECT_TRUE(ops.Download(r.out.data(), out->data(), blank.size() * sizeof(float)).ok());
  EXPECT_TRUE(ops.Download(r.dx.data(), dx->data(), blank.size() * sizeof(float)).ok());
  EXPECT_TRUE(ops.Download(r.grads.data(), g->data(), zeros.size() * sizeof(float)).ok());
  return r;
}

TEST(GruDeviceCuda, MatchesTheHostLayerAndRepeatsBitwise) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  auto device = kernels::NewCudaTensorOps({.device = 0});
  ASSERT_TRUE(device.ok()) << device.status();
  auto host = kernels::NewHostTensorOps();
  const Result d = RunLayer(**device), hr = RunLayer(*host);
  EXPECT_LT(RelativeError(d.out, hr.out), 1e-4);
  EXPECT_LT(RelativeError(d.dx, hr.dx), 1e-4);
  EXPECT_LT(RelativeError(d.grads, hr.grads), 1e-4);
  const Result again = RunLayer(**device);
  EXPECT_EQ(again.out, d.out);
  EXPECT_EQ(again.grads, d.grads);
}

}  // namespace
}  // namespace fedrec
