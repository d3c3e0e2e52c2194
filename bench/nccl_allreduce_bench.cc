// NCCL AllreduceSum of uint32 words (comm/nccl_collective.h): a round's
// integer sum on the GPUs. Ranks are threads of this process, one per
// visible GPU (at most 8), over a local group for the byte collectives.
//
//   BM_NcclAllreduceDevice/<MiB>   words already on the device (what GPU
//                                   workers will use): NCCL alone
//   BM_NcclAllreduceHost/<MiB>     host words: copied in, summed, copied
//                                   back (what CPU workers use today)
//
// Counters: algbw_GBps = bytes / time; busbw_GBps = algbw x 2 (n - 1) / n,
// NCCL's own bus-bandwidth convention, which is 0 on one GPU: with one rank
// NCCL has nothing to exchange and the figure is a device-local copy, not
// a collective. Without a GPU every case is skipped with a message.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "comm/local_collective.h"
#include "comm/nccl_collective.h"

namespace fedrec {
namespace {

constexpr int kIterations = 20;

// Every rank reduces `words` uint32 words kIterations times after one
// warm-up; rank 0's wall time per iteration is reported.
void RunAllreduce(benchmark::State& state, bool on_device) {
  absl::StatusOr<int> visible = VisibleCudaDeviceCount();
  if (!visible.ok() || *visible < 1) {
    state.SkipWithError("no CUDA device visible");
    return;
  }
  const int ranks = std::min(*visible, 8);
  const size_t words = static_cast<size_t>(state.range(0)) << 18;  // MiB of uint32
  auto group = LocalCollectiveGroup::Create(ranks);
  if (!group.ok()) {
    state.SkipWithError(std::string(group.status().message()).c_str());
    return;
  }
  std::vector<double> seconds(kIterations, 0.0);
  std::atomic<bool> failed = false;
  std::string failure;
  auto rank_main = [&](int r) {
    auto nccl = NcclCollective::Create((*group)->rank(r), r);
    if (!nccl.ok()) {
      if (!failed.exchange(true)) failure = std::string(nccl.status().message());
      return;
    }
    std::vector<uint32_t> host(words, static_cast<uint32_t>(r + 1));
    uint32_t* device = nullptr;
    if (on_device) {
      cudaMalloc(reinterpret_cast<void**>(&device), words * sizeof(uint32_t));
      cudaMemcpy(device, host.data(), words * sizeof(uint32_t), cudaMemcpyHostToDevice);
    }
    auto once = [&] {
      absl::Status s = on_device ? (*nccl)->AllreduceSumOnDevice(device, words)
                                 : (*nccl)->AllreduceSum(std::span<uint32_t>(host));
      if (!s.ok() && !failed.exchange(true)) failure = std::string(s.message());
    };
    once();  // warm-up: NCCL connects its channels on first use
    for (int i = 0; i < kIterations; ++i) {
      (void)(*nccl)->Barrier();
      const auto start = std::chrono::steady_clock::now();
      once();
      if (r == 0) {
        seconds[i] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    }
    if (device != nullptr) cudaFree(device);
  };
  std::vector<std::thread> others;
  for (int r = 1; r < ranks; ++r) others.emplace_back(rank_main, r);
  rank_main(0);
  for (std::thread& t : others) t.join();
  if (failed) {
    state.SkipWithError(failure.c_str());
    return;
  }
  int i = 0;
  for (auto _ : state) state.SetIterationTime(seconds[i++]);
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[kIterations / 2];
  const double bytes = static_cast<double>(words) * sizeof(uint32_t);
  state.counters["ranks"] = ranks;
  state.counters["algbw_GBps"] = bytes / median / 1e9;
  state.counters["busbw_GBps"] = bytes / median / 1e9 * 2.0 * (ranks - 1) / ranks;
  state.SetLabel("NCCL " + NcclCollective::NcclVersion() + ", median of " +
                 std::to_string(kIterations));
}

void BM_NcclAllreduceDevice(benchmark::State& state) { RunAllreduce(state, true); }
void BM_NcclAllreduceHost(benchmark::State& state) { RunAllreduce(state, false); }

BENCHMARK(BM_NcclAllreduceDevice)
    ->Arg(1)
    ->Arg(64)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NcclAllreduceHost)
    ->Arg(1)
    ->Arg(64)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fedrec

BENCHMARK_MAIN();
