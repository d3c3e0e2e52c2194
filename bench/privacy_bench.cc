// Throughput of the DP noise mechanisms (privacy/).
//
//   BM_GaussianCsprng / BM_GaussianPinned: GaussianNoise::Add on 2^16 doubles
//     (items/s = Gaussian samples/s), OS CSPRNG vs pinned Philox.
//   BM_DiscreteGaussian/<sigma>: exact N_Z(0, sigma^2) samples/s with a
//     PhiloxUrbg and with SecureUrbg (BM_DiscreteGaussianCsprng).
//   BM_DdgEncode: DdgMechanism::Encode of one client update of d = 2^17
//     (rotation, conditional rounding, discrete Gaussian noise, mod 2^b);
//     items/s = coordinates/s.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "core/csprng.h"
#include "privacy/aes_urbg.h"
#include "privacy/ddg.h"
#include "privacy/discrete_gaussian.h"
#include "privacy/fast_discrete_gaussian.h"
#include "privacy/gaussian.h"

namespace fedrec::privacy {
namespace {

void BM_GaussianCsprng(benchmark::State& state) {
  auto noise = GaussianNoise::Create(std::nullopt);
  std::vector<double> v(1 << 16, 0.0);
  for (auto _ : state) {
    (void)noise->Add(v, 1.0, 0);
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(v.size()));
}
BENCHMARK(BM_GaussianCsprng);

void BM_GaussianPinned(benchmark::State& state) {
  auto noise = GaussianNoise::Create(1234);
  std::vector<double> v(1 << 16, 0.0);
  uint32_t round = 0;
  for (auto _ : state) {
    (void)noise->Add(v, 1.0, round++);
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(v.size()));
}
BENCHMARK(BM_GaussianPinned);

void BM_DiscreteGaussian(benchmark::State& state) {
  const double sigma = static_cast<double>(state.range(0));
  auto sampler = DiscreteGaussianSampler::FromVariance(sigma * sigma);
  PhiloxUrbg g(StreamKey{1, "bench"});
  std::vector<int64_t> v(4096);
  for (auto _ : state) {
    sampler->Fill(g, v);
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(v.size()));
}
BENCHMARK(BM_DiscreteGaussian)->Arg(1)->Arg(10)->Arg(1000);

void BM_DiscreteGaussianCsprng(benchmark::State& state) {
  const double sigma = static_cast<double>(state.range(0));
  auto sampler = DiscreteGaussianSampler::FromVariance(sigma * sigma);
  auto g = SecureUrbg::Create();
  std::vector<int64_t> v(4096);
  for (auto _ : state) {
    sampler->Fill(*g, v);
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(v.size()));
}
BENCHMARK(BM_DiscreteGaussianCsprng)->Arg(1)->Arg(10)->Arg(1000);

void BM_AesCtrUrbg(benchmark::State& state) {
  auto g = AesCtrUrbg::Create();
  uint64_t acc = 0;
  for (auto _ : state) {
    for (int i = 0; i < 4096; ++i) acc += (*g)();
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * 4096);
}
BENCHMARK(BM_AesCtrUrbg);

// The table sampler over AES-CTR (a fresh key from the OS CSPRNG), the
// production configuration of the DDG client noise.
void BM_FastDiscreteGaussian(benchmark::State& state) {
  const double sigma = static_cast<double>(state.range(0)) / 2;
  auto sampler = FastDiscreteGaussian::Create(sigma * sigma);
  auto g = AesCtrUrbg::Create();
  std::vector<int64_t> v(4096);
  for (auto _ : state) {
    sampler->Fill(*g, v);
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(v.size()));
  state.counters["eta"] = sampler->eta();
}
BENCHMARK(BM_FastDiscreteGaussian)
    ->ArgName("2sigma")
    ->Arg(1)
    ->Arg(2)
    ->Arg(20)
    ->Arg(2000)
    ->Arg(131072);

void BM_DdgEncode(benchmark::State& state) {
  const int64_t d = int64_t{1} << 17;
  const int64_t n = 100;
  DdgParams p;
  p.dim = d;
  p.clip = 1.0;
  p.bits = 20;
  p.num_clients = n;
  p.local_stddev = 1.0 / std::sqrt(static_cast<double>(n));  // central z = 1
  p.gamma = *ChooseDdgGamma(p.clip, d, n, p.bits, 4.0, p.local_stddev);
  auto m = DdgMechanism::Create(p);
  std::vector<double> x(d);
  RandomStream s(StreamKey{2, "bench_update"});
  double norm = 0;
  for (double& v : x) {
    v = s.NextNormal();
    norm += v * v;
  }
  for (double& v : x) v /= std::sqrt(norm);
  const bool csprng = state.range(0) == 1;
  auto secure = SecureUrbg::Create();
  PhiloxUrbg pinned(StreamKey{3, "bench_client"});
  for (auto _ : state) {
    auto enc = csprng ? m->Encode(x, 77, *secure) : m->Encode(x, 77, pinned);
    benchmark::DoNotOptimize(enc->data());
  }
  state.SetItemsProcessed(state.iterations() * d);
  state.counters["sigma_z"] = std::sqrt(m->noise_sigma2());
}
BENCHMARK(BM_DdgEncode)->ArgName("csprng")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fedrec::privacy

BENCHMARK_MAIN();
