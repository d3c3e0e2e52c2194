// GRU4Rec's training step on the GPU (models/cuda/gru4rec_device.h on
// CudaTensorOps) side by side with the CPU model (models/gru4rec.h, one
// thread) in the same run: forward, the loss and backward through time of
// one batch of 128 full windows, d = 64, one layer, dropout 0.2, a
// 3,416-item catalogue (ML-1M's size), at maxlen 50 and 200, with the
// paper's BPR (one negative per position) and with the modern recipe's
// sampled softmax over 256 shared negatives. Counter: seqs_per_s (sequences per second of step
// time, negatives drawn on the host included). Without a GPU the GPU cases are skipped with a
// message; the CPU cases run anywhere.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/device.h"
#include "models/cuda/gru4rec_device.h"
#include "models/cuda/ops_tensors.h"
#include "models/gru4rec.h"

namespace fedrec {
namespace {

constexpr size_t kBatch = 128;

Gru4RecOptions BenchOptions(benchmark::State& state) {
  Gru4RecOptions o;
  o.num_items = 3416;
  o.dim = 64;
  o.layers = 1;
  o.max_len = static_cast<uint32_t>(state.range(0));
  o.dropout = 0.2f;
  o.negatives = 1;
  if (state.range(1) > 0) {
    o.loss = SeqLoss::kCe;
    o.negatives = static_cast<uint32_t>(state.range(1));
  }
  return o;
}

// kBatch sequences of max_len + 1 random items.
std::vector<std::vector<uint32_t>> BenchSequences(const Gru4RecOptions& o) {
  RandomStream rng({.seed = 1, .purpose = "bench"});
  std::vector<std::vector<uint32_t>> seqs(kBatch, std::vector<uint32_t>(o.max_len + 1));
  for (auto& s : seqs) {
    for (uint32_t& x : s) x = rng.NextBelow(o.num_items);
  }
  return seqs;
}

void BM_Gru4RecGpuStep(benchmark::State& state) {
  auto devices = QueryCudaDevices();
  if (!devices.ok() || devices->empty()) {
    state.SkipWithError("no CUDA device visible");
    return;
  }
  const Gru4RecOptions o = BenchOptions(state);
  auto model = Gru4RecModel::Create(o);
  auto ops = kernels::NewCudaTensorOps({.device = 0});
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
  const auto seqs = BenchSequences(o);
  std::vector<UserSequence> batch;
  for (uint32_t u = 0; u < kBatch; ++u) batch.push_back({u, seqs[u], {}});
  auto program = kernels::Gru4RecDeviceProgram::Create(o, ops->get());
  gru4rec_internal::NegativeScratch sampler{UnseenItemSampler(o.num_items), {}};
  uint32_t step = 0;
  float sink = 0;
  for (auto _ : state) {
    const StepKey key{1, 0, step++};
    const kernels::Gru4RecWindowBatch windows =
        kernels::Gru4RecWindowBatch::Pack(o, {}, batch, key, &sampler);
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
  state.SetLabel(std::string((*devices)[0].name) + ", FP32, " + SeqLossName(o.loss));
}

void BM_Gru4RecCpuStep(benchmark::State& state) {
  const Gru4RecOptions o = BenchOptions(state);
  auto model = Gru4RecModel::Create(o);
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  (*model)->Initialize(1);
  const auto seqs = BenchSequences(o);
  std::vector<UserSequence> batch;
  for (uint32_t u = 0; u < kBatch; ++u) batch.push_back({u, seqs[u], {}});
  std::unique_ptr<Workspace> ws = (*model)->NewWorkspace();
  Gradients grads = (*model)->NewGlobalGradients();
  uint32_t step = 0;
  for (auto _ : state) {
    grads.Clear();
    benchmark::DoNotOptimize(
        (*model)->ForwardBackward(batch, {1, 0, step++}, ws.get(), &grads, nullptr));
  }
  state.counters["seqs_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
  state.SetLabel(std::string("CPU, 1 thread, ") + SeqLossName(o.loss));
}

BENCHMARK(BM_Gru4RecGpuStep)
    ->ArgsProduct({{50, 200}, {0, 256}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Gru4RecCpuStep)
    ->ArgsProduct({{50, 200}, {0, 256}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace
}  // namespace fedrec

BENCHMARK_MAIN();
