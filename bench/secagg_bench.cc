// Secure-aggregation costs (aggregation/).
//
//   BM_MaskExpand<Word>/<bytes>: MaskExpander::ExpandInto, AES-128-CTR
//     keystream written straight into a word vector; bytes/s. Compare with
//     `openssl speed -evp aes-128-ctr` (bench/secagg_mask_vs_openssl.sh).
//   BM_MaskAdd<Word>/<bytes>: MaskExpander::AddInto, one keystream added
//     into a target vector mod 2^b.
//   BM_MaskCombineMany/<bytes>/<masks>: MaskExpander::CombineMany, many
//     keystreams added block by block (what a client does for its
//     neighbours' masks); keystream bytes/s.
//   BM_ProtocolRound/<n>/<harary>/<dropout %>: one full round of the state
//     machines for n participants (client scope), vector length kWords, one
//     thread, no transport: counters (thread CPU time) client_ms (mean client
//     compute per participant, R0-R3), server_s (server compute per round,
//     incl. the recovery of dropped participants' masks), round_s (all of
//     it, CPU) and round_wall_s (wall clock),
//     client_kB (bytes a client sends, incl. its masked vector), degree,
//     threshold.
#include <benchmark/benchmark.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "aggregation/crypto.h"
#include "aggregation/protocol.h"
#include "core/timing.h"

namespace fedrec::secagg {
namespace {

constexpr size_t kWords = 100'000;  // 32-bit words per participant vector

// CPU time of the calling thread: robust to other processes on a shared
// machine (the round runs on one thread).
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename Word>
void BM_MaskExpand(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  std::vector<Word> out(bytes / sizeof(Word));
  MaskExpander m = *MaskExpander::Create();
  std::array<uint8_t, 16> key{}, iv{};
  key[0] = 1;
  for (auto _ : state) {
    if (!m.ExpandInto<Word>(key, iv, out).ok()) state.SkipWithError("expand failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

template <typename Word>
void BM_MaskAdd(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  std::vector<Word> out(bytes / sizeof(Word), 1);
  MaskExpander m = *MaskExpander::Create();
  std::array<uint8_t, 16> key{}, iv{};
  key[0] = 1;
  for (auto _ : state) {
    if (!m.AddInto<Word>(key, iv, out).ok()) state.SkipWithError("add failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

// What a client does for its masks: `masks` keystreams of `bytes` each
// combined into one target (MaskExpander::CombineMany, blocked); bytes/s
// counts keystream bytes.
void BM_MaskCombineMany(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  const size_t count = static_cast<size_t>(state.range(1));
  std::vector<uint32_t> out(bytes / sizeof(uint32_t), 1);
  MaskExpander m = *MaskExpander::Create();
  std::vector<std::array<uint8_t, 32>> seeds(count);
  std::vector<MaskExpander::Mask> masks(count);
  for (size_t i = 0; i < count; ++i) {
    seeds[i].fill(static_cast<uint8_t>(i + 1));
    masks[i] = {seeds[i].data(), i % 2 == 0};
  }
  for (auto _ : state) {
    if (!m.CombineMany<uint32_t>(masks, out).ok()) state.SkipWithError("combine failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes * count));
}

BENCHMARK(BM_MaskCombineMany)->Args({400'000, 100})->Args({4 << 20, 20});
BENCHMARK(BM_MaskExpand<uint32_t>)->Arg(16 << 10)->Arg(400'000)->Arg(4 << 20);
BENCHMARK(BM_MaskExpand<uint64_t>)->Arg(4 << 20);
BENCHMARK(BM_MaskAdd<uint32_t>)->Arg(16 << 10)->Arg(400'000)->Arg(4 << 20);
BENCHMARK(BM_MaskAdd<uint64_t>)->Arg(4 << 20);

void BM_ProtocolRound(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  SecaggParams params;
  params.graph = state.range(1) ? "harary" : "complete";
  params.expected_dropout = static_cast<double>(state.range(2)) / 100.0;
  const size_t drop_every = state.range(2) > 0 ? static_cast<size_t>(100 / state.range(2)) : 0;
  std::vector<uint32_t> input(kWords);
  std::mt19937 gen(1);
  for (uint32_t& w : input) w = gen();
  double client_s = 0, server_s = 0, round_s = 0, round_wall_s = 0;
  uint64_t client_bytes = 0;
  GraphPlan plan;
  for (auto _ : state) {
    Stopwatch round_watch;
    const double round_cpu0 = ThreadCpuSeconds();
    std::unique_ptr<SecaggServer> server = *SecaggServer::Create(params, 1, kWords);
    std::vector<std::unique_ptr<SecaggClient>> clients;
    for (size_t i = 0; i < n; ++i) {
      clients.push_back(*SecaggClient::Create(params, 1, i, kWords, nullptr, nullptr));
    }
    auto client_time = [&](auto&& fn) {
      const double t0 = ThreadCpuSeconds();
      fn();
      client_s += ThreadCpuSeconds() - t0;
    };
    auto server_time = [&](auto&& fn) {
      const double t0 = ThreadCpuSeconds();
      fn();
      server_s += ThreadCpuSeconds() - t0;
    };
    std::vector<std::string> msgs;
    client_time([&] {
      for (auto& c : clients) msgs.push_back(*c->AdvertiseKeys());
    });
    std::string roster;
    server_time([&] { roster = *server->HandleAdvertiseKeys(msgs); });
    msgs.clear();
    client_time([&] {
      for (auto& c : clients) msgs.push_back(*c->HandleRoster(roster));
    });
    std::vector<std::pair<uint64_t, std::string>> routed;
    server_time([&] { routed = *server->HandleShareKeys(msgs); });
    plan = server->plan();
    std::vector<uint32_t> sum(kWords, 0);
    msgs.clear();
    client_time([&] {
      for (auto& [id, m] : routed) {
        SecaggClient& c = *clients[id];
        if (!c.HandleShareRouting(m).ok()) std::abort();
        if (drop_every > 0 && id % drop_every == 0) {
          c.Abort("dropout");
          continue;
        }
        msgs.push_back(*c.MaskInput<uint32_t>(input, sum));
      }
    });
    std::string request;
    server_time([&] { request = *server->HandleMaskedInputs(msgs); });
    msgs.clear();
    client_time([&] {
      for (auto& c : clients) {
        if (c->state() == SecaggClient::State::kUnmasking) {
          msgs.push_back(*c->HandleUnmaskingRequest(request));
        }
      }
    });
    server_time([&] {
      if (!server->HandleUnmaskingResponses<uint32_t>(msgs, sum).ok()) std::abort();
    });
    if (server->aborted()) state.SkipWithError("round aborted");
    round_s += ThreadCpuSeconds() - round_cpu0;
    round_wall_s += round_watch.ElapsedSeconds();
    // Bytes sent by one (surviving) client: advertise + shares + notice +
    // response + the masked vector.
    client_bytes = 73 + plan.degree * (kSealedSharesBytes + 12) + 21 + msgs[0].size() +
                   kWords * sizeof(uint32_t);
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["client_ms"] = 1e3 * client_s / iters / static_cast<double>(n);
  state.counters["server_s"] = server_s / iters;
  state.counters["round_s"] = round_s / iters;
  state.counters["round_wall_s"] = round_wall_s / iters;
  state.counters["client_kB"] = static_cast<double>(client_bytes) / 1e3;
  state.counters["degree"] = static_cast<double>(plan.degree);
  state.counters["threshold"] = static_cast<double>(plan.threshold);
}

BENCHMARK(BM_ProtocolRound)
    ->ArgNames({"n", "harary", "drop_pct"})
    ->Args({10, 0, 0})
    ->Args({10, 1, 0})
    ->Args({100, 0, 0})
    ->Args({100, 1, 0})
    ->Args({1000, 0, 0})
    ->Args({1000, 1, 0})
    ->Args({100, 0, 10})
    ->Args({100, 1, 10})
    ->Args({1000, 0, 10})
    ->Args({1000, 1, 10})
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace fedrec::secagg

BENCHMARK_MAIN();
