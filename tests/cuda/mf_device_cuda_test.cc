// The MF-BPR step (models/cuda/mf_device.h) on CudaTensorOps against the same
// program on HostTensorOps, which tests/cuda/mf_device_reference_test checks
// against the CPU model; and a device run repeated bitwise. Skipped without
// a GPU.
#include <gtest/gtest.h>

#include <vector>

#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/mf_device.h"
#include "models/cuda/ops_tensors.h"
#include "tests/cuda/relative_error.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

using ::fedrec::testing::RelativeError;

struct StepResult {
  double loss = 0;
  std::vector<std::vector<float>> grads;
  std::vector<float> user_grads;
};

// One step of MF-BPR (d 64, l2 1e-3) over 256 users of 1 to 60 items, on
// `ops`.
StepResult RunStep(kernels::TensorOps& ops) {
  MfBprOptions o;
  o.num_users = 5000;
  o.num_items = 3000;
  o.dim = 64;
  o.l2 = 1e-3f;
  auto model = MfBprModel::Create(o);
  EXPECT_TRUE(model.ok());
  (*model)->Initialize(7);
  RandomStream s({.seed = 3, .purpose = "test_mf_cuda"});
  std::vector<std::vector<uint32_t>> items(256);
  std::vector<UserSequence> batch;
  for (uint32_t u = 0; u < items.size(); ++u) {
    items[u].resize(1 + s.NextBelow(60));
    for (uint32_t& i : items[u]) i = s.NextBelow(o.num_items);
    batch.push_back({s.NextBelow(o.num_users), items[u], {}});
  }
  UnseenItemSampler sampler(o.num_items);
  const kernels::MfExampleBatch w =
      kernels::MfExampleBatch::Pack(o, {}, batch, StepKey{5, 1, 2}, &sampler);
  auto tensors = kernels::OpsTensors::Allocate(ops, (*model)->global_params());
  EXPECT_TRUE(tensors.ok());
  EXPECT_TRUE(tensors->Load(ops, (*model)->global_params()).ok());
  const size_t d = o.dim, users = w.users.size();
  std::vector<float> rows(users * d);
  const float* table = (*model)->local_params()->ViewAt(MfBprModel::kUserEmb).data;
  for (size_t r = 0; r < users; ++r) {
    for (size_t j = 0; j < d; ++j) rows[r * d + j] = table[w.users[r] * d + j];
  }
  auto user_rows = ops.Allocate(rows.size() * sizeof(float));
  auto user_grads = ops.Allocate(rows.size() * sizeof(float));
  EXPECT_TRUE(user_rows.ok() && user_grads.ok());
  EXPECT_TRUE(ops.Upload((*user_rows)->data(), rows.data(), rows.size() * sizeof(float)).ok());
  EXPECT_TRUE(ops.Zero((*user_grads)->as<float>(), rows.size()).ok());
  auto program = kernels::MfDeviceProgram::Create(o, &ops);
  EXPECT_TRUE(program.ok());
  auto loss = (*program)->LossAndGradients(tensors->params(), (*user_rows)->as<float>(), w,
                                           tensors->grads(), (*user_grads)->as<float>());
  EXPECT_TRUE(loss.ok()) << loss.status();
  StepResult r{loss.ok() ? loss->loss : 0.0, {}, std::vector<float>(rows.size())};
  for (size_t k = 0; k < tensors->num_tensors(); ++k) {
    r.grads.emplace_back();
    EXPECT_TRUE(tensors->FetchGradient(ops, k, &r.grads.back()).ok());
  }
  EXPECT_TRUE(
      ops.Download(r.user_grads.data(), (*user_grads)->data(), rows.size() * sizeof(float)).ok());
  return r;
}

TEST(MfDeviceCuda, MatchesTheHostProgramAndRepeatsBitwise) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  auto device = kernels::NewCudaTensorOps({.device = 0});
  ASSERT_TRUE(device.ok()) << device.status();
  auto host = kernels::NewHostTensorOps();
  const StepResult d = RunStep(**device), h = RunStep(*host);
  EXPECT_NEAR(d.loss, h.loss, 1e-5 * h.loss);
  ASSERT_EQ(d.grads.size(), h.grads.size());
  for (size_t k = 0; k < d.grads.size(); ++k) {
    EXPECT_LT(RelativeError(d.grads[k], h.grads[k]), 1e-4) << "tensor " << k;
  }
  EXPECT_LT(RelativeError(d.user_grads, h.user_grads), 1e-4);
  const StepResult again = RunStep(**device);
  EXPECT_EQ(again.loss, d.loss);
  EXPECT_EQ(again.grads, d.grads);
  EXPECT_EQ(again.user_grads, d.user_grads);
}

}  // namespace
}  // namespace fedrec
