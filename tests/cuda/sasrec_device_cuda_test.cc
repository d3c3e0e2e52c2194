// The GPU SASRec step on the device (CudaTensorOps) against the same
// program on the host (HostTensorOps), which sasrec_device_reference_test
// checks against the CPU model. Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/ops_tensors.h"
#include "models/cuda/sasrec_device.h"
#include "models/cuda/tensor_ops.h"
#include "models/sasrec.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

// The model's tensors in an ops' memory, gradients zeroed.
kernels::OpsTensors Place(kernels::TensorOps& ops, const ParameterStore& store) {
  auto t = kernels::OpsTensors::Allocate(ops, store);
  EXPECT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->Load(ops, store).ok());
  return std::move(*t);
}

std::vector<std::vector<float>> Fetch(kernels::TensorOps& ops, const kernels::OpsTensors& t) {
  std::vector<std::vector<float>> out(t.num_tensors());
  for (size_t k = 0; k < out.size(); ++k) EXPECT_TRUE(t.FetchGradient(ops, k, &out[k]).ok());
  return out;
}

TEST(SasRecDeviceCuda, StepMatchesTheHostProgramAndRepeatsBitwise) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  SasRecOptions o;
  o.num_items = 500;
  o.dim = 32;
  o.blocks = 2;
  o.heads = 2;
  o.max_len = 40;
  o.dropout = 0.2;
  auto model = SasRecModel::Create(o);
  ASSERT_TRUE(model.ok());
  (*model)->Initialize(3);
  // 24 sequences of 2 to 60 items.
  RandomStream rng({5, "test", 0, 0, 0});
  std::vector<std::vector<uint32_t>> seqs(24);
  std::vector<UserSequence> batch;
  for (uint32_t u = 0; u < seqs.size(); ++u) {
    seqs[u].resize(2 + rng.NextBelow(59));
    for (uint32_t& x : seqs[u]) x = rng.NextBelow(o.num_items);
    batch.push_back({u, seqs[u], {}});
  }
  const StepKey key{9, 1, 0};
  const kernels::SasRecWindowBatch windows = kernels::SasRecWindowBatch::Pack(o, batch, key);

  std::unique_ptr<kernels::TensorOps> host = kernels::NewHostTensorOps();
  kernels::OpsTensors on_host = Place(*host, (*model)->global_params());
  auto host_program = kernels::SasRecDeviceProgram::Create(o, host.get());
  ASSERT_TRUE(host_program.ok());
  auto want =
      (*host_program)->LossAndGradients(on_host.params(), on_host.grads(), windows, key, true);
  ASSERT_TRUE(want.ok()) << want.status();

  auto cuda = kernels::NewCudaTensorOps({});
  ASSERT_TRUE(cuda.ok()) << cuda.status();
  std::vector<std::vector<float>> runs[2];
  double losses[2] = {0, 0};
  // Run 0 on this thread, run 1 on another (trainers create workspaces on
  // one thread and step them on others: BindToCallingThread).
  auto run_once = [&](int run) {
    kernels::OpsTensors on_device = Place(**cuda, (*model)->global_params());
    auto program = kernels::SasRecDeviceProgram::Create(o, cuda->get());
    ASSERT_TRUE(program.ok());
    auto got =
        (*program)->LossAndGradients(on_device.params(), on_device.grads(), windows, key, true);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->examples, want->examples);
    losses[run] = got->loss;
    runs[run] = Fetch(**cuda, on_device);
  };
  run_once(0);
  std::thread other([&] { run_once(1); });
  other.join();
  EXPECT_NEAR(losses[0], want->loss, 1e-4 * std::abs(want->loss));
  EXPECT_EQ(losses[0], losses[1]) << "the device step is not reproducible";
  const std::vector<std::vector<float>> ref = Fetch(*host, on_host);
  for (size_t k = 0; k < ref.size(); ++k) {
    double largest = 0, worst = 0;
    for (size_t i = 0; i < ref[k].size(); ++i) {
      largest = std::max(largest, static_cast<double>(std::abs(ref[k][i])));
      worst = std::max(worst, static_cast<double>(std::abs(runs[0][k][i] - ref[k][i])));
    }
    EXPECT_LE(worst, 1e-4 * std::max(1.0, largest)) << "tensor " << k;
    EXPECT_EQ(runs[0][k], runs[1][k]) << "tensor " << k << " differs between two device runs";
  }
}

}  // namespace
}  // namespace fedrec
