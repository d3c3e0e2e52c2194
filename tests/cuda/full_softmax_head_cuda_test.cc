// The full softmax head (models/cuda/full_softmax_head.h) on CudaTensorOps
// against the same head on HostTensorOps (which full_softmax_head_test
// checks against the CPU head) over a 25,000-item catalogue, in one chunk
// and in many; and a device run repeated bitwise. Skipped without a GPU.
#include <gtest/gtest.h>

#include <vector>

#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/full_softmax_head.h"
#include "models/cuda/layer_kernels.h"
#include "tests/cuda/relative_error.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

using ::fedrec::testing::RelativeError;

constexpr size_t kItems = 25000, kDim = 64, kRows = 700;

struct HeadResult {
  std::vector<float> loss, dh, dtable;
};

// The head over fixed random inputs on `ops`, `chunk_logits` per chunk.
HeadResult RunHead(kernels::TensorOps& ops, size_t chunk_logits) {
  RandomStream s({.seed = 4, .purpose = "test_full_softmax_cuda"});
  std::vector<float> h(kRows * kDim), table(kItems * kDim);
  for (float& x : h) x = s.NextFloat() - 0.5f;
  for (float& x : table) x = 0.2f * (s.NextFloat() - 0.5f);
  std::vector<uint32_t> targets(kRows);
  std::vector<uint8_t> valid(kRows);
  for (size_t r = 0; r < kRows; ++r) {
    valid[r] = r % 7 != 0;  // some padding rows
    targets[r] = valid[r] ? s.NextBelow(kItems - 10) + 10 : kernels::kNoItem;
  }
  const std::vector<uint32_t> excluded = {0, 1, 2, 24999};
  auto put = [&](const void* host, size_t bytes) {
    auto buffer = ops.Allocate(bytes);
    EXPECT_TRUE(buffer.ok());
    EXPECT_TRUE(ops.Upload((*buffer)->data(), host, bytes).ok());
    return std::move(*buffer);
  };
  auto h_d = put(h.data(), h.size() * 4), table_d = put(table.data(), table.size() * 4);
  auto targets_d = put(targets.data(), targets.size() * 4), valid_d = put(valid.data(), kRows);
  std::vector<float> zeros_dh(kRows * kDim, 0.0f), zeros_dt(kItems * kDim, 0.0f);
  auto dh_d = put(zeros_dh.data(), zeros_dh.size() * 4);
  auto dt_d = put(zeros_dt.data(), zeros_dt.size() * 4);
  kernels::FullSoftmaxHead head(&ops, chunk_logits);
  auto loss = head.Run(h_d->as<float>(), table_d->as<float>(), kDim, kItems, kRows,
                       targets_d->as<uint32_t>(), valid_d->as<uint8_t>(), excluded,
                       dh_d->as<float>(), dt_d->as<float>());
  EXPECT_TRUE(loss.ok()) << loss.status();
  HeadResult r{loss.ok() ? *loss : std::vector<float>{}, zeros_dh, zeros_dt};
  EXPECT_TRUE(ops.Download(r.dh.data(), dh_d->data(), r.dh.size() * 4).ok());
  EXPECT_TRUE(ops.Download(r.dtable.data(), dt_d->data(), r.dtable.size() * 4).ok());
  return r;
}

TEST(FullSoftmaxHeadCuda, MatchesTheHostHeadAndRepeatsBitwise) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  auto device = kernels::NewCudaTensorOps({.device = 0});
  ASSERT_TRUE(device.ok()) << device.status();
  auto host = kernels::NewHostTensorOps();
  const HeadResult want = RunHead(*host, kernels::FullSoftmaxHead::kDefaultChunkLogits);
  for (const size_t chunk : {kernels::FullSoftmaxHead::kDefaultChunkLogits, 64 * kItems}) {
    SCOPED_TRACE(chunk);
    const HeadResult got = RunHead(**device, chunk);
    EXPECT_LT(RelativeError(got.loss, want.loss), 1e-5);
    EXPECT_LT(RelativeError(got.dh, want.dh), 1e-4);
    EXPECT_LT(RelativeError(got.dtable, want.dtable), 1e-4);
    const HeadResult again = RunHead(**device, chunk);
    EXPECT_EQ(again.loss, got.loss);
    EXPECT_EQ(again.dh, got.dh);
    EXPECT_EQ(again.dtable, got.dtable);
  }
}

}  // namespace
}  // namespace fedrec
