// Speed of the PLD accountant (privacy/pld.h), at dp_accounting's default
// value discretization interval 1e-4.
//
//   BM_PldEpsilon/<case>: PldEpsilon of one run (build the one-step ADD and
//     REMOVE PMFs, self-compose by FFT, query epsilon at delta 1e-5):
//       0: q = 0.01,       sigma = 1.0, 10^4 steps
//       1: q = 256/60000,  sigma = 1.1, 14063 steps (MNIST DP-SGD)
//       2: q = 0.001,      sigma = 0.5, 10^4 steps (widest one-step PMF)
//       3: q = 0.1,        sigma = 2.0, 1000 steps
//   BM_PldOneStep: the two one-step PMFs of (0.01, 1.0) alone.
//   BM_PldCalibrate: CalibrateNoiseMultiplierPld for the MNIST run at its
//     PLD epsilon (rel_tol 1e-6).
#include <benchmark/benchmark.h>

#include <span>

#include "privacy/pld.h"

namespace fedrec::privacy {
namespace {

struct Case {
  double q;
  double sigma;
  int64_t steps;
};
constexpr Case kCases[] = {
    {0.01, 1.0, 10000}, {256.0 / 60000, 1.1, 14063}, {0.001, 0.5, 10000}, {0.1, 2.0, 1000}};

void BM_PldEpsilon(benchmark::State& state) {
  const Case& c = kCases[state.range(0)];
  const MechanismRun run{c.q, c.sigma, c.steps};
  for (auto _ : state) {
    double eps = PldEpsilon(std::span<const MechanismRun>(&run, 1), 1e-5).value();
    benchmark::DoNotOptimize(eps);
  }
}
BENCHMARK(BM_PldEpsilon)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

void BM_PldOneStep(benchmark::State& state) {
  for (auto _ : state) {
    auto pld = PoissonGaussianPld(0.01, 1.0).value();
    benchmark::DoNotOptimize(pld.remove.probs().data());
  }
}
BENCHMARK(BM_PldOneStep)->Unit(benchmark::kMillisecond);

void BM_PldCalibrate(benchmark::State& state) {
  for (auto _ : state) {
    double sigma = CalibrateNoiseMultiplierPld(256.0 / 60000, 14063, 1e-5, 2.3818).value();
    benchmark::DoNotOptimize(sigma);
  }
}
BENCHMARK(BM_PldCalibrate)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace fedrec::privacy

BENCHMARK_MAIN();
