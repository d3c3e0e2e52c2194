// Evaluation's ranking on the device (models/cuda/device_ranking.h on
// CudaTensorOps) against the same session on the host (HostTensorOps), which
// tests/cuda/device_ranking_reference_test checks against the CPU model;
// and a user's counts bitwise the same whoever shares its batch. Skipped
// without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/device_ranking.h"
#include "models/sasrec.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

struct RankingCase {
  RankingCase() {
    o.num_items = 20000;  // three blocks of 8192
    o.dim = 48;
    o.blocks = 2;
    o.heads = 2;
    o.max_len = 50;
    model = std::move(*SasRecModel::Create(o));
    model->Initialize(8);
    RandomStream rng({12, "test", 0, 0, 0});
    histories.resize(300);
    candidates.resize(300);
    for (size_t q = 0; q < histories.size(); ++q) {
      histories[q].resize(1 + rng.NextBelow(80));
      for (uint32_t& x : histories[q]) x = rng.NextBelow(o.num_items);
      RankQuery query{
          .history = histories[q], .target = rng.NextBelow(o.num_items), .candidates = {}};
      if (q % 3 == 0) {
        candidates[q].resize(100);
        for (uint32_t& x : candidates[q]) x = rng.NextBelow(o.num_items);
        query.candidates = candidates[q];
      }
      queries.push_back(query);
    }
  }
  // Counts of `order`'s queries ranked in batches of `per_call`, by query.
  std::vector<std::pair<uint64_t, uint64_t>> Rank(kernels::TensorOpsFactory make_ops,
                                                  const std::vector<size_t>& order,
                                                  size_t per_call) {
    auto session = kernels::NewRankingSessionOnDevice(*model, make_ops, {.max_batch = 128});
    EXPECT_TRUE(session.ok()) << session.status();
    std::vector<std::pair<uint64_t, uint64_t>> out(queries.size());
    std::vector<RankQuery> call;
    std::vector<uint64_t> g(per_call), t(per_call);
    for (size_t b = 0; b < order.size(); b += per_call) {
      call.clear();
      for (size_t i = b; i < std::min(order.size(), b + per_call); ++i) {
        call.push_back(queries[order[i]]);
      }
      const size_t n = call.size();
      EXPECT_TRUE((*session)->Rank(call, std::span(g).first(n), std::span(t).first(n)).ok());
      for (size_t i = 0; i < n; ++i) out[order[b + i]] = {g[i], t[i]};
    }
    return out;
  }

  SasRecOptions o;
  std::unique_ptr<SasRecModel> model;
  std::vector<std::vector<uint32_t>> histories, candidates;
  std::vector<RankQuery> queries;
};

kernels::TensorOpsFactory DeviceOps() {
  return [] { return kernels::NewCudaTensorOps({.device = 0}); };
}

TEST(SasRecRankingCuda, MatchesTheHostAndDoesNotDependOnBatchMates) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  RankingCase c;
  std::vector<size_t> order(c.queries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const auto device = c.Rank(DeviceOps(), order, 128);
  const auto host = c.Rank(
      [] {
        return absl::StatusOr<std::unique_ptr<kernels::TensorOps>>(kernels::NewHostTensorOps());
      },
      order, 128);
  size_t moved = 0;
  for (size_t q = 0; q < order.size(); ++q) {
    if (device[q] == host[q]) continue;
    ++moved;
    EXPECT_LE(std::max(device[q].first, host[q].first) - std::min(device[q].first, host[q].first),
              2u)
        << q;
  }
  EXPECT_LE(moved, order.size() / 50);
  // Reversed, in calls of 37: other batch mates, other rows of the batch.
  std::reverse(order.begin(), order.end());
  EXPECT_EQ(c.Rank(DeviceOps(), order, 37), device);
}

}  // namespace
}  // namespace fedrec
