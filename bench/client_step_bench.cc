// Cost of one federated client's local step (ForwardBackward on ONE
// sequence of 50 items, catalogue of 20000 items, dim 64, single thread) for
// the models other than SASRec (bench/sasrec_bench.cc covers SASRec):
//
//   BM_Gru4RecBprStep:      GRU4Rec, 1 layer, BPR with 1 negative.
//   BM_Gru4RecSampledCeStep: GRU4Rec, 1 layer, sampled softmax, 100 negatives.
//   BM_MfBprStep:           MF-BPR.
//
// items_per_second = client steps per second.
//
// BM_ClientStepPlan/E: the host half of one step of GPU clients
// (models/cuda/client_step_plan.h) for 256 clients of the demo's model (d =
// 32, 1 block, maxlen 50, 10,000 items; sequences of 5 to 200 items) over E
// local epochs: windows, negatives, row numbering, segments and encoding
// runs. items_per_second = clients planned per second, one thread: the rate
// the host side alone allows a GPU worker.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "bench/demo_cohort.h"
#include "models/cuda/client_step_plan.h"
#include "models/gru4rec.h"
#include "models/mf.h"
#include "models/sasrec.h"

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

void BM_ClientStepPlan(benchmark::State& state) {
  const SasRecOptions o = bench::DemoSasRecOptions();
  auto model = SasRecModel::Create(o);
  if (!model.ok()) {
    state.SkipWithError("model");
    return;
  }
  constexpr size_t kClients = 256;
  const bench::DemoCohort cohort(kClients, o.num_items);
  const auto& layout = (*model)->global_params().layout();
  const auto block = kernels::WindowBlockLayout::For(o, layout);
  uint32_t round = 0;
  for (auto _ : state) {
    const auto plan = kernels::ClientStepPlan::Make(o, layout, block, cohort.clients, 1, round++,
                                                    static_cast<size_t>(state.range(0)), kClients);
    benchmark::DoNotOptimize(plan.runs.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kClients));
}
BENCHMARK(BM_ClientStepPlan)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fedrec

BENCHMARK_MAIN();
