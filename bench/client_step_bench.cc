// Cost of one federated client's local step (ForwardBackward on ONE
// sequence of 50 items, catalogue of 20000 items, dim 64, single thread) for
// the models other than SASRec (bench/sasrec_bench.cc covers SASRec):
//
//   BM_Gru4RecBprStep:      GRU4Rec, 1 layer, BPR with 1 negative.
//   BM_Gru4RecSampledCeStep: GRU4Rec, 1 layer, sampled softmax, 100 negatives.
//   BM_MfBprStep:           MF-BPR.
//
// items_per_second = client steps per second.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "models/gru4rec.h"
#include "models/mf.h"

namespace fedrec {
namespace {

constexpr uint32_t kItems = 20000;
constexpr uint32_t kLength = 50;

void RunSteps(benchmark::State& state, Model& model) {
  std::vector<uint32_t> seq(kLength);
  for (uint32_t t = 0; t < kLength; ++t) seq[t] = (t * 7919) % kItems;
  const UserSequence user{0, seq, {}};
  model.Initialize(1);
  auto ws = model.NewWorkspace();
  Gradients g = model.NewGlobalGradients(), l = model.NewLocalGradients();
  Gradients* local = model.local_params() ? &l : nullptr;
  uint32_t step = 0;
  for (auto _ : state) {
    g.Clear();
    l.Clear();
    LossSum loss = model.ForwardBackward({&user, 1}, {.step = step++}, ws.get(), &g, local);
    benchmark::DoNotOptimize(loss);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

template <typename T>
std::unique_ptr<T> OrDie(absl::StatusOr<std::unique_ptr<T>> m) {
  if (!m.ok()) std::abort();
  return std::move(*m);
}

void BM_Gru4RecBprStep(benchmark::State& state) {
  auto m = OrDie(Gru4RecModel::Create({.num_items = kItems, .dim = 64, .max_len = 200}));
  RunSteps(state, *m);
}
BENCHMARK(BM_Gru4RecBprStep)->Unit(benchmark::kMicrosecond);

void BM_Gru4RecSampledCeStep(benchmark::State& state) {
  auto m = OrDie(Gru4RecModel::Create(
      {.num_items = kItems, .dim = 64, .max_len = 200, .loss = SeqLoss::kCe, .negatives = 100}));
  RunSteps(state, *m);
}
BENCHMARK(BM_Gru4RecSampledCeStep)->Unit(benchmark::kMicrosecond);

void BM_MfBprStep(benchmark::State& state) {
  auto m = OrDie(MfBprModel::Create({.num_users = 1, .num_items = kItems, .dim = 64}));
  RunSteps(state, *m);
}
BENCHMARK(BM_MfBprStep)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace fedrec

BENCHMARK_MAIN();
