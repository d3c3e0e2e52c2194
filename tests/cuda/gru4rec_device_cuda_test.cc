// The GRU4Rec step (models/cuda/gru4rec_device.h) on CudaTensorOps against
// the same program on HostTensorOps, which
// tests/cuda/gru4rec_device_reference_test checks against the CPU model;
// and a device run repeated bitwise. Skipped without a GPU.
#include <gtest/gtest.h>

#include <vector>

#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/gru4rec_device.h"
#include "models/cuda/ops_tensors.h"
#include "tests/cuda/relative_error.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

using ::fedrec::testing::RelativeError;

struct StepResult {
  double loss = 0;
  std::vector<std::vector<float>> grads;
};

// One training step of a 2-layer GRU4Rec (d 64, dropout 0.2; BPR with 3
// negatives, or the full softmax) on 96 users of 2 to 80 items, on `ops`.
StepResult RunStep(kernels::TensorOps& ops, bool full_softmax) {
  Gru4RecOptions o;
  o.num_items = 2000;
  o.dim = 64;
  o.layers = 2;
  o.max_len = 50;
  o.dropout = 0.2f;
  o.negatives = full_softmax ? 0 : 3;
  if (full_softmax) o.loss = SeqLoss::kCe;
  auto model = Gru4RecModel::Create(o);
  EXPECT_TRUE(model.ok());
  (*model)->Initialize(7);
  RandomStream s({.seed = 3, .purpose = "test_gru4rec_cuda"});
  std::vector<std::vector<uint32_t>> items(96);
  std::vector<UserSequence> batch;
  for (uint32_t u = 0; u < items.size(); ++u) {
    items[u].resize(2 + s.NextBelow(79));
    for (uint32_t& i : items[u]) i = s.NextBelow(o.num_items);
    batch.push_back({u, items[u], {}});
  }
  const StepKey key{5, 1, 2};
  gru4rec_internal::NegativeScratch sampler{UnseenItemSampler(o.num_items), {}};
  const kernels::Gru4RecWindowBatch w =
      kernels::Gru4RecWindowBatch::Pack(o, {}, batch, key, &sampler);
  auto tensors = kernels::OpsTensors::Allocate(ops, (*model)->global_params());
  EXPECT_TRUE(tensors.ok());
  EXPECT_TRUE(tensors->Load(ops, (*model)->global_params()).ok());
  auto program = kernels::Gru4RecDeviceProgram::Create(o, &ops);
  EXPECT_TRUE(program.ok());
  auto loss = (*program)->LossAndGradients(tensors->params(), tensors->grads(), w, key, true);
  EXPECT_TRUE(loss.ok()) << loss.status();
  StepResult r{loss.ok() ? loss->loss : 0.0, {}};
  for (size_t k = 0; k < tensors->num_tensors(); ++k) {
    r.grads.emplace_back();
    EXPECT_TRUE(tensors->FetchGradient(ops, k, &r.grads.back()).ok());
  }
  return r;
}

TEST(Gru4RecDeviceCuda, MatchesTheHostProgramAndRepeatsBitwise) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  auto device = kernels::NewCudaTensorOps({.device = 0});
  ASSERT_TRUE(device.ok()) << device.status();
  auto host = kernels::NewHostTensorOps();
  for (const bool full_softmax : {false, true}) {
    SCOPED_TRACE(full_softmax ? "full softmax" : "bpr");
    const StepResult d = RunStep(**device, full_softmax), h = RunStep(*host, full_softmax);
    EXPECT_NEAR(d.loss, h.loss, 1e-5 * h.loss);
    ASSERT_EQ(d.grads.size(), h.grads.size());
    for (size_t k = 0; k < d.grads.size(); ++k) {
      EXPECT_LT(RelativeError(d.grads[k], h.grads[k]), 1e-4) << "tensor " << k;
    }
    const StepResult again = RunStep(**device, full_softmax);
    EXPECT_EQ(again.loss, d.loss);
    EXPECT_EQ(again.grads, d.grads);
  }
}

}  // namespace
}  // namespace fedrec
