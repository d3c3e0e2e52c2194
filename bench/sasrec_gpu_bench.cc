// The GPU SASRec training step (models/cuda/sasrec_device.h on
// CudaTensorOps): forward, BCE loss and backward of one batch of 128 full
// windows, the paper's model (d = 50, 2 blocks, 1 head, dropout 0.2) over a
// 3,416-item catalogue (ML-1M's size), at maxlen 50 and 200, in FP32 and
// with TF32 products; and with the modern recipe's sampled softmax over 256
// shared negatives (FP32). Over a 25,000-item catalogue, BCE beside the full
// softmax (FP32 and TF32; the target is full CE within 10x BCE).
// Counters: seqs_per_s (sequences per second of step time, negatives drawn
// on the host included).
// Arguments: maxlen, TF32, the loss (0 BCE, N > 0 sampled softmax over N
// shared negatives, -1 the full softmax), the catalogue's size.
//
// BM_ClientBatchRound: one federated round of the demo's model (d = 32, 1
// block, 1 head, maxlen 50, dropout 0.2, 10,000 items) for a cohort of 1,000
// and of 10,000 clients (sequences of 5 to 200 items) on
// models/cuda/sasrec_client_batch.h: upload, the batched local steps,
// norms, encoding, and the sum's download. Counter: client_updates_per_s.
//
// BM_RankingFullProtocol: evaluation's full ranking on the device
// (models/cuda/device_ranking.h) for the paper's model at maxlen 200 over
// 3,416 and 100,000 items: 256 users a call, their states, every item
// scored and counted against the target. Counter: users_per_s.
// Without a GPU every case is skipped with a message.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench/demo_cohort.h"
#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/device.h"
#include "models/cuda/device_ranking.h"
#include "models/cuda/ops_tensors.h"
#include "models/cuda/sasrec_client_batch.h"
#include "models/cuda/sasrec_device.h"
#include "models/sasrec.h"

namespace fedrec {
namespace {

void BM_SasRecGpuStep(benchmark::State& state) {
  auto devices = QueryCudaDevices();
  if (!devices.ok() || devices->empty()) {
    state.SkipWithError("no CUDA device visible");
    return;
  }
  SasRecOptions o;
  o.num_items = static_cast<uint32_t>(state.range(3));
  o.dim = 50;
  o.blocks = 2;
  o.heads = 1;
  o.max_len = static_cast<uint32_t>(state.range(0));
  o.dropout = 0.2;
  const bool tf32 = state.range(1) != 0;
  if (state.range(2) != 0) {
    o.loss = SasRecLoss::kCe;
    o.ce_negatives = static_cast<uint32_t>(std::max<int64_t>(state.range(2), 0));
  }
  constexpr size_t kBatch = 128;
  auto model = SasRecModel::Create(o);
  auto ops = kernels::NewCudaTensorOps({.device = 0, .allow_tf32 = tf32});
  if (!model.ok() || !ops.ok()) {
    state.SkipWithError(
        std::string(ops.ok() ? model.status().message() : ops.status().message()).c_str());
    return;
  }
  (*model)->Initialize(1);
  auto tensors = kernels::OpsTensors::Allocate(**ops, (*model)->global_params());
  if (!tensors.ok() || !tensors->Load(**ops, (*model)->global_params()).ok()) {
    state.SkipWithError("could not place the model's tensors on the device");
    return;
  }
  RandomStream rng({1, "bench", 0, 0, 0});
  std::vector<std::vector<uint32_t>> seqs(kBatch, std::vector<uint32_t>(o.max_len + 1));
  std::vector<UserSequence> batch;
  for (uint32_t u = 0; u < kBatch; ++u) {
    for (uint32_t& x : seqs[u]) x = rng.NextBelow(o.num_items);
    batch.push_back({u, seqs[u], {}});
  }
  auto program = kernels::SasRecDeviceProgram::Create(o, ops->get());
  uint32_t step = 0;
  float sink = 0;
  for (auto _ : state) {
    const StepKey key{1, 0, step++};
    const kernels::SasRecWindowBatch windows = kernels::SasRecWindowBatch::Pack(o, batch, key);
    absl::StatusOr<LossSum> r =
        (*program)->LossAndGradients(tensors->params(), tensors->grads(), windows, key, true);
    // Waits for the backward pass, which the call leaves enqueued.
    absl::Status synced = (*ops)->Download(&sink, tensors->grads()[0], sizeof(float));
    if (!r.ok() || !synced.ok()) {
      state.SkipWithError(std::string(r.ok() ? synced.message() : r.status().message()).c_str());
      return;
    }
  }
  state.counters["seqs_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
  const std::string loss = o.loss == SasRecLoss::kBce ? "BCE"
                           : o.ce_negatives > 0
                               ? "sampled softmax " + std::to_string(o.ce_negatives)
                               : "full softmax";
  state.SetLabel(std::string((*devices)[0].name) + (tf32 ? ", TF32, " : ", FP32, ") + loss + ", " +
                 std::to_string(o.num_items) + " items");
}

BENCHMARK(BM_SasRecGpuStep)
    ->ArgsProduct({{50, 200}, {0, 1}, {0}, {3416}})
    ->Args({50, 0, 256, 3416})
    ->Args({200, 0, 256, 3416})
    ->ArgsProduct({{50, 200}, {0}, {0}, {25000}})
    ->ArgsProduct({{50, 200}, {0, 1}, {-1}, {25000}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ClientBatchRound(benchmark::State& state) {
  auto devices = QueryCudaDevices();
  if (!devices.ok() || devices->empty()) {
    state.SkipWithError("no CUDA device visible");
    return;
  }
  const SasRecOptions o = bench::DemoSasRecOptions();
  const auto cohort = static_cast<size_t>(state.range(0));
  const auto windows = static_cast<size_t>(state.range(1));
  auto model = SasRecModel::Create(o);
  auto ops = kernels::NewCudaTensorOps({.device = 0});
  if (!model.ok() || !ops.ok()) {
    state.SkipWithError(
        std::string(ops.ok() ? model.status().message() : ops.status().message()).c_str());
    return;
  }
  (*model)->Initialize(1);
  auto batch = kernels::SasRecClientBatch::Create(
      o, (*model)->global_params(), std::move(*ops),
      {.seed = 1, .local_lr = 0.05, .windows_per_step = windows});
  if (!batch.ok()) {
    state.SkipWithError(std::string(batch.status().message()).c_str());
    return;
  }
  const bench::DemoCohort demo(cohort, o.num_items);
  const std::vector<UserSequence>& clients = demo.clients;
  std::vector<uint64_t> sum((*model)->global_params().size());
  const double scale = 0x1p40, limit = 0.1 * scale;  // a 64-bit codec at clip 0.1
  uint32_t round = 0;
  for (auto _ : state) {
    absl::Status st = (*batch)->BeginRound((*model)->global_params(), round++);
    for (size_t b = 0; b < cohort && st.ok(); b += windows) {
      const auto step =
          std::span<const UserSequence>(clients).subspan(b, std::min(windows, cohort - b));
      auto r = (*batch)->Train(step);
      if (!r.ok()) {
        st = r.status();
        break;
      }
      std::vector<double> factors;
      for (const auto& c : *r) factors.push_back(std::min(1.0, 0.1 / c.update_norm));
      st = (*batch)->Encode(factors, scale, limit);
    }
    if (st.ok()) st = (*batch)->AddSumInto(sum);
    if (!st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      return;
    }
  }
  state.counters["client_updates_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * cohort), benchmark::Counter::kIsRate);
  state.SetLabel(std::string((*devices)[0].name) + ", " + std::to_string(windows) +
                 " windows per step");
}

BENCHMARK(BM_ClientBatchRound)
    ->ArgsProduct({{1000, 10000}, {256, 1024}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_RankingFullProtocol(benchmark::State& state) {
  auto devices = QueryCudaDevices();
  if (!devices.ok() || devices->empty()) {
    state.SkipWithError("no CUDA device visible");
    return;
  }
  SasRecOptions o;
  o.num_items = static_cast<uint32_t>(state.range(0));
  o.dim = 50;
  o.blocks = 2;
  o.heads = 1;
  o.max_len = 200;
  auto model = SasRecModel::Create(o);
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  (*model)->Initialize(1);
  auto session = kernels::NewRankingSessionOnDevice(
      **model, [] { return kernels::NewCudaTensorOps({.device = 0}); });
  if (!session.ok()) {
    state.SkipWithError(std::string(session.status().message()).c_str());
    return;
  }
  const size_t users = (*session)->max_batch();
  RandomStream rng({2, "bench", 0, 0, 0});
  std::vector<std::vector<uint32_t>> histories(users, std::vector<uint32_t>(o.max_len));
  std::vector<RankQuery> queries;
  for (auto& h : histories) {
    for (uint32_t& x : h) x = rng.NextBelow(o.num_items);
    queries.push_back({.history = h, .target = rng.NextBelow(o.num_items), .candidates = {}});
  }
  std::vector<uint64_t> greater(users), ties(users);
  for (auto _ : state) {
    const absl::Status st = (*session)->Rank(queries, greater, ties);
    if (!st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      return;
    }
  }
  state.counters["users_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * users), benchmark::Counter::kIsRate);
  state.SetLabel(std::string((*devices)[0].name) + ", " + std::to_string(o.num_items) + " items");
}

BENCHMARK(BM_RankingFullProtocol)
    ->Arg(3416)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->UseRealTime();

}  // namespace
}  // namespace fedrec

BENCHMARK_MAIN();
