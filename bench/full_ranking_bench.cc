// Full-ranking scoring throughput, one thread (Google Benchmark):
//
//   BM_BlockedCount/d/items/kernel: what the full-ranking protocol does per batch
//     of 256 users once their states are known: the 256 x items scores in
//     blocks of kFullRankingItemBlock rows (models/score_kernel.h), each
//     counted against the user's target on the fly.
//   BM_PerUserRows/d/items/kernel: the same scores one user at a time (ScoreRows,
//     what ScoreAll does), stored, then counted: the per-user path.
//   BM_EigenSgemmSkinny/d: Eigen's SGEMM on the same shape, 256 x d times
//     d x 4096, stored (no counting, a different summation order): the
//     same binary's GEMM on this problem.
//   BM_EigenSgemm256: Eigen's SGEMM 256^3, the core's practical peak.
//
// GFLOP/s counts 2 d flops per score (the user-by-item products only);
// users/s is per thread, for the given catalogue size. The SASRec encoding
// of each user (its forward pass) is not in these figures; `fedrec eval`
// end to end is (README "Benchmarks").
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "core/random.h"
#include "models/full_ranking.h"
#include "models/score_kernel.h"

namespace fedrec {
namespace {

constexpr uint32_t kUsers = kFullRankingUserBatch;

std::vector<float> RandomFloats(size_t n, uint32_t round) {
  RandomStream s({.seed = 1, .purpose = "bench", .round = round});
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(2.0 * s.NextDouble() - 1.0);
  return v;
}

void SetCounters(benchmark::State& state, double scores, uint32_t d) {
  const double it = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * d * scores * it * 1e-9, benchmark::Counter::kIsRate);
  state.counters["users/s"] = benchmark::Counter(kUsers * it, benchmark::Counter::kIsRate);
}

// Arg 2 of the kernel benchmarks: which kernel (ScoreKernelIsa: 0 the
// build's choice, 1 SSE2, 2 AVX2 in the packet order, 3 FMA), so the
// orders run side by side in one binary.
void ForceKernel(benchmark::State& state) {
  ForceScoreKernelForTesting(static_cast<ScoreKernelIsa>(state.range(2)));
  state.SetLabel(ScoreKernelName(ScoreKernelIsa::kAuto));
}

void BM_BlockedCount(benchmark::State& state) {
  const auto d = static_cast<uint32_t>(state.range(0));
  const auto items = static_cast<uint32_t>(state.range(1));
  ForceKernel(state);
  const std::vector<float> states = RandomFloats(size_t{kUsers} * d, 0);
  const std::vector<float> rows = RandomFloats(size_t{items} * d, 1);
  const std::vector<float> targets(kUsers, 0.5f);
  std::vector<uint64_t> greater(kUsers), ties(kUsers);
  for (auto _ : state) {
    std::fill(greater.begin(), greater.end(), 0);
    for (uint32_t i0 = 0; i0 < items; i0 += kFullRankingItemBlock) {
      CountAgainstTargets(states.data(), kUsers, rows.data(), d, i0,
                          std::min(items, i0 + kFullRankingItemBlock), targets.data(),
                          greater.data(), ties.data());
    }
    benchmark::DoNotOptimize(greater.data());
  }
  SetCounters(state, double{kUsers} * items, d);
  ForceScoreKernelForTesting(ScoreKernelIsa::kAuto);
}
BENCHMARK(BM_BlockedCount)
    ->ArgsProduct({{32}, {20000, 100000}, {0, 2}})
    ->Args({50, 100000, 0})
    ->Args({50, 100000, 2})
    ->Unit(benchmark::kMillisecond);

void BM_PerUserRows(benchmark::State& state) {
  const auto d = static_cast<uint32_t>(state.range(0));
  const auto items = static_cast<uint32_t>(state.range(1));
  const std::vector<float> states = RandomFloats(size_t{kUsers} * d, 0);
  const std::vector<float> rows = RandomFloats(size_t{items} * d, 1);
  std::vector<float> scores(items);
  uint64_t greater = 0;
  ForceKernel(state);
  for (auto _ : state) {
    for (uint32_t u = 0; u < kUsers; ++u) {
      ScoreRows(states.data() + size_t{u} * d, rows.data(), d, items, scores.data());
      for (const float s : scores) greater += s > 0.5f;
    }
    benchmark::DoNotOptimize(greater);
  }
  SetCounters(state, double{kUsers} * items, d);
  ForceScoreKernelForTesting(ScoreKernelIsa::kAuto);
}
BENCHMARK(BM_PerUserRows)->ArgsProduct({{32}, {100000}, {0, 2}})->Unit(benchmark::kMillisecond);

void BM_EigenSgemmSkinny(benchmark::State& state) {
  const auto d = static_cast<int>(state.range(0));
  const int n = static_cast<int>(kFullRankingItemBlock);
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(kUsers, d);
  const Eigen::MatrixXf b = Eigen::MatrixXf::Random(d, n);
  Eigen::MatrixXf c(kUsers, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  SetCounters(state, double{kUsers} * n, static_cast<uint32_t>(d));
}
BENCHMARK(BM_EigenSgemmSkinny)->Arg(32)->Arg(50)->Unit(benchmark::kMillisecond);

void BM_EigenSgemm256(benchmark::State& state) {
  const int n = 256;
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n * 1e-9 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EigenSgemm256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace fedrec

BENCHMARK_MAIN();
