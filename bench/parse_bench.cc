// Parsing and generation throughput of the data room.
//
//   BM_LoadMovieLens: LoadDataset (parse + remap + CSR, cache off) on a
//     10-million-line u.data-like file written once to a temp dir; reports
//     bytes/s (SetBytesProcessed) = MB/s of source text.
//   BM_LoadMovieLensCached: the same load as a cache hit (source bytes/s).
//   BM_ReadInteractions: the parsing stage alone on the same file.
//   BM_Synth/<threads>: WriteSyntheticDataset, 100k users x 20k items (SASRec text).
//   BM_Synth1M: 1M users x 100k items with all hardware threads.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "core/random.h"
#include "data/loader.h"
#include "data/synth.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kLines = 10'000'000;

fs::path BenchDir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("fedrec_parse_bench_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// u.data-like: user (1..100k) \t item (1..50k) \t rating (1..5) \t 9-digit timestamp.
const std::string& MovieLensFile() {
  static const std::string path = [] {
    const std::string p = (BenchDir() / "u.data").string();
    std::FILE* f = std::fopen(p.c_str(), "wb");
    RandomStream rng({.seed = 1, .purpose = "parse_bench"});
    std::string buf;
    buf.reserve(1 << 20);
    for (uint64_t k = 0; k < kLines; ++k) {
      buf += std::to_string(1 + rng.NextBelow(100000));
      buf += '\t';
      buf += std::to_string(1 + rng.NextBelow(50000));
      buf += '\t';
      buf += static_cast<char>('1' + rng.NextBelow(5));
      buf += '\t';
      buf += std::to_string(874724710 + rng.NextBelow(20000000));
      buf += '\n';
      if (buf.size() > (1 << 20) - 64) {
        std::fwrite(buf.data(), 1, buf.size(), f);
        buf.clear();
      }
    }
    std::fwrite(buf.data(), 1, buf.size(), f);
    std::fclose(f);
    return p;
  }();
  return path;
}

void BM_LoadMovieLens(benchmark::State& state) {
  const std::string& path = MovieLensFile();
  const auto bytes = static_cast<int64_t>(fs::file_size(path));
  LoadOptions options;
  options.use_cache = false;
  options.format = DataFormat::kMovieLens;
  for (auto _ : state) {
    auto d = LoadDataset(path, options);
    if (!d.ok()) {
      state.SkipWithError(std::string(d.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(d->items.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["lines"] = static_cast<double>(kLines);
}
BENCHMARK(BM_LoadMovieLens)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// The same load served from the binary cache (populated before timing).
void BM_LoadMovieLensCached(benchmark::State& state) {
  const std::string& path = MovieLensFile();
  const auto bytes = static_cast<int64_t>(fs::file_size(path));
  LoadOptions options;
  options.format = DataFormat::kMovieLens;
  options.cache_dir = (BenchDir() / "cache").string();
  if (!LoadDataset(path, options).ok()) {
    state.SkipWithError("load failed");
    return;
  }
  for (auto _ : state) {
    LoadInfo info;
    auto d = LoadDataset(path, options, &info);
    if (!d.ok() || !info.cache_hit) {
      state.SkipWithError("no cache hit");
      return;
    }
    benchmark::DoNotOptimize(d->items.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_LoadMovieLensCached)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Parsing alone (mmap + fields + id remap), without filters or CSR.
void BM_ReadInteractions(benchmark::State& state) {
  const std::string& path = MovieLensFile();
  const auto bytes = static_cast<int64_t>(fs::file_size(path));
  ResolvedFormat format;
  format.format = DataFormat::kMovieLens;
  for (auto _ : state) {
    auto raw = ReadInteractions(path, format);
    if (!raw.ok()) {
      state.SkipWithError(std::string(raw.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(raw->users.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_ReadInteractions)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_Synth(benchmark::State& state) {
  SynthOptions o;
  o.users = 100000;
  o.items = 20000;
  o.threads = static_cast<int>(state.range(0));
  const std::string out = (BenchDir() / "synth.txt").string();
  uint64_t bytes = 0;
  for (auto _ : state) {
    if (!WriteSyntheticDataset(o, out).ok()) {
      state.SkipWithError("synth failed");
      return;
    }
    bytes = fs::file_size(out);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["users_per_s"] = benchmark::Counter(static_cast<double>(o.users),
                                                     benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Synth)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The acceptance size: 1,000,000 users x 100,000 items, all hardware threads.
void BM_Synth1M(benchmark::State& state) {
  SynthOptions o;
  o.users = 1000000;
  o.items = 100000;
  const std::string out = (BenchDir() / "synth1m.txt").string();
  for (auto _ : state) {
    if (!WriteSyntheticDataset(o, out).ok()) {
      state.SkipWithError("synth failed");
      return;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(fs::file_size(out)));
  fs::remove(out);
}
BENCHMARK(BM_Synth1M)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace fedrec

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(fedrec::BenchDir());
  return 0;
}
