// Throughput of the DP noise mechanisms (privacy/).
//
//   BM_GaussianCsprng / BM_GaussianPinned: GaussianNoise::Add on 2^16 doubles
//     (items/s = Gaussian samples/s), OS CSPRNG vs pinned Philox.
//   BM_DiscreteGaussian/<sigma>: exact N_Z(0, sigma^2) samples/s with a
//     PhiloxUrbg and with SecureUrbg (BM_DiscreteGaussianCsprng).
//   BM_AesCtrUrbg: 64-bit words/s of the AES-128-CTR stream.
//   BM_FastDiscreteGaussian/<2 sigma>: the table sampler over AES-CTR
//     (samples/s; counter eta = its statistical distance per draw).
//   BM_DdgRotation, BM_DdgRounding: the randomised Hadamard rotation and the
//     conditional randomised rounding of d = 2^17 coordinates (coordinates/s).
//   BM_DdgEncode/urbg:<0|1|2>: DdgMechanism::Encode of one client update of
//     d = 2^17 (rotation, conditional rounding, discrete Gaussian noise,
//     mod 2^b) with Philox / SecureUrbg / AES-CTR; items/s = coordinates/s.
//   BM_FixedPointEncode: the plain rounds' FixedPointCodec::EncodeAdd.
#include <benchmark/benchmark.h>

#include <cmath>
#include <optional>
#include <vector>

#include "aggregation/fixed_point.h"
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

// A clipped update of d = 2^17 coordinates and the DDG parameters of 100
// clients at central z = 1 in Z_2^20 (sigma_z = local_stddev / gamma ~ 14).
struct DdgFixture {
  static constexpr int64_t kDim = int64_t{1} << 17;
  DdgFixture() {
    const int64_t n = 100;
    DdgParams p;
    p.dim = kDim;
    p.clip = 1.0;
    p.bits = 20;
    p.num_clients = n;
    p.local_stddev = 1.0 / std::sqrt(static_cast<double>(n));  // central z = 1
    p.gamma = *ChooseDdgGamma(p.clip, kDim, n, p.bits, 4.0, p.local_stddev);
    mechanism = *DdgMechanism::Create(p);
    x.resize(kDim);
    RandomStream s(StreamKey{2, "bench_update"});
    double norm = 0;
    for (double& v : x) {
      v = s.NextNormal();
      norm += v * v;
    }
    for (double& v : x) v /= std::sqrt(norm);
  }
  std::optional<DdgMechanism> mechanism;
  std::vector<double> x;
};

// The randomised Walsh-Hadamard rotation alone (signs, FWHT, 1/sqrt(D)).
void BM_DdgRotation(benchmark::State& state) {
  DdgFixture f;
  std::vector<double> z = f.x;
  for (auto _ : state) {
    RandomizedHadamard(z, 77);
    benchmark::DoNotOptimize(z.data());
  }
  state.SetItemsProcessed(state.iterations() * DdgFixture::kDim);
}
BENCHMARK(BM_DdgRotation);

// Conditional randomised rounding alone (AES-CTR randomness), on the scaled
// rotated update.
void BM_DdgRounding(benchmark::State& state) {
  DdgFixture f;
  std::vector<double> z = f.x;
  for (double& v : z) v /= f.mechanism->params().gamma;
  RandomizedHadamard(z, 77);
  auto g = AesCtrUrbg::Create();
  for (auto _ : state) {
    auto r = ConditionalRandomizedRound(z, f.mechanism->l2_bound_sq(), 1000, *g);
    benchmark::DoNotOptimize(r->data());
  }
  state.SetItemsProcessed(state.iterations() * DdgFixture::kDim);
}
BENCHMARK(BM_DdgRounding);

// DdgMechanism::Encode of one client update of d = 2^17: the whole client
// path (clip, rotation, conditional rounding, noise, mod 2^b). urbg 0: the
// pinned Philox stream, 1: SecureUrbg (RAND_bytes), 2: AesCtrUrbg (what
// clients use).
void BM_DdgEncode(benchmark::State& state) {
  DdgFixture f;
  const DdgMechanism& m = *f.mechanism;
  const int kind = static_cast<int>(state.range(0));
  auto secure = SecureUrbg::Create();
  auto aes = AesCtrUrbg::Create();
  PhiloxUrbg pinned(StreamKey{3, "bench_client"});
  for (auto _ : state) {
    auto enc = kind == 2   ? m.Encode(f.x, 77, *aes)
               : kind == 1 ? m.Encode(f.x, 77, *secure)
                           : m.Encode(f.x, 77, pinned);
    benchmark::DoNotOptimize(enc->data());
  }
  state.SetItemsProcessed(state.iterations() * DdgFixture::kDim);
  state.counters["sigma_z"] = std::sqrt(m.noise_sigma2());
}
BENCHMARK(BM_DdgEncode)->ArgName("urbg")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// The fixed-point encoding of a plain (non-DDG) round: FixedPointCodec::
// EncodeAdd of 2^17 floats into a 64-bit accumulator.
void BM_FixedPointEncode(benchmark::State& state) {
  auto codec = FixedPointCodec::Derive(32, 1.0, 1000);
  std::vector<float> x(DdgFixture::kDim);
  RandomStream s(StreamKey{4, "bench_fixed"});
  for (float& v : x) v = static_cast<float>(s.NextNormal() * 1e-3);
  std::vector<uint64_t> acc(x.size());
  FastStream rng(StreamKey{5, "bench_fixed_rng"});
  for (auto _ : state) {
    codec->EncodeAdd(x.data(), x.size(), 0.5, rng, acc.data());
    benchmark::DoNotOptimize(acc.data());
  }
  state.SetItemsProcessed(state.iterations() * DdgFixture::kDim);
}
BENCHMARK(BM_FixedPointEncode);

}  // namespace
}  // namespace fedrec::privacy

BENCHMARK_MAIN();
