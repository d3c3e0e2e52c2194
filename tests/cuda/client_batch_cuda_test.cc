// Federated clients batched on the device (models/cuda/sasrec_client_batch.h
// on CudaTensorOps) against the same batch on the host (HostTensorOps),
// which tests/worker/device_clients_test checks against the CPU
// ClientTrainer; and the device's sum bitwise the same however the cohort
// is cut into steps. Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/sasrec_client_batch.h"
#include "models/sasrec.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

constexpr double kScale = 0x1p40;  // a 64-bit codec's scale at clip norm 0.1

struct Cohort {
  Cohort() {
    o.num_items = 700;
    o.dim = 32;
    o.blocks = 2;
    o.heads = 2;
    o.max_len = 30;
    o.dropout = 0.2;
    model = std::move(*SasRecModel::Create(o));
    model->Initialize(4);
    RandomStream rng({6, "test", 0, 0, 0});
    seqs.resize(70);
    for (uint32_t u = 0; u < seqs.size(); ++u) {
      seqs[u].resize(2 + rng.NextBelow(50));
      for (uint32_t& x : seqs[u]) x = rng.NextBelow(o.num_items);
      clients.push_back({u, seqs[u], {}});
    }
  }
  // The round's sum with `windows` per step and `per_step` clients a step.
  std::vector<uint64_t> Sum(std::unique_ptr<kernels::TensorOps> ops, size_t windows,
                            size_t per_step, std::vector<double>* norms) {
    auto batch = kernels::SasRecClientBatch::Create(
        o, model->global_params(), std::move(ops),
        {.seed = 3, .local_lr = 0.05, .windows_per_step = windows});
    EXPECT_TRUE(batch.ok()) << batch.status();
    EXPECT_TRUE((*batch)->BeginRound(model->global_params(), 2).ok());
    for (size_t b = 0; b < clients.size(); b += per_step) {
      auto r = (*batch)->Train(std::span<const UserSequence>(clients).subspan(
          b, std::min(per_step, clients.size() - b)));
      EXPECT_TRUE(r.ok()) << r.status();
      std::vector<double> factors;
      for (const auto& c : *r) {
        factors.push_back(std::min(1.0, 0.1 / c.update_norm));
        if (norms != nullptr) norms->push_back(c.update_norm);
      }
      EXPECT_TRUE((*batch)->Encode(factors, kScale, 0.1 * kScale).ok());
    }
    std::vector<uint64_t> sum(model->global_params().size(), 0);
    EXPECT_TRUE((*batch)->AddSumInto(sum).ok());
    return sum;
  }

  SasRecOptions o;
  std::unique_ptr<SasRecModel> model;
  std::vector<std::vector<uint32_t>> seqs;
  std::vector<UserSequence> clients;
};

std::unique_ptr<kernels::TensorOps> Device() {
  auto ops = kernels::NewCudaTensorOps({.device = 0});
  EXPECT_TRUE(ops.ok()) << ops.status();
  return std::move(*ops);
}

TEST(ClientBatchCuda, MatchesTheHostBatchAndIsBitwiseTheSameForAnySplit) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  Cohort c;
  std::vector<double> host_norms, device_norms;
  const std::vector<uint64_t> host = c.Sum(kernels::NewHostTensorOps(), 16, 16, &host_norms);
  const std::vector<uint64_t> device = c.Sum(Device(), 16, 16, &device_norms);
  ASSERT_EQ(host_norms.size(), device_norms.size());
  for (size_t i = 0; i < host_norms.size(); ++i) {
    EXPECT_NEAR(device_norms[i], host_norms[i], 1e-4 * host_norms[i]) << "client " << i;
  }
  double largest = 0, worst = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    const double a = static_cast<double>(static_cast<int64_t>(host[i])) / kScale;
    const double b = static_cast<double>(static_cast<int64_t>(device[i])) / kScale;
    largest = std::max(largest, std::abs(a));
    worst = std::max(worst, std::abs(a - b));
  }
  ASSERT_GT(largest, 0);
  EXPECT_LT(worst, 1e-3 * largest);
  // The same step shape, other cuts of the cohort: bitwise the same words.
  EXPECT_EQ(c.Sum(Device(), 16, 5, nullptr), device);
  EXPECT_EQ(c.Sum(Device(), 16, 16, nullptr), device);
}

}  // namespace
}  // namespace fedrec
