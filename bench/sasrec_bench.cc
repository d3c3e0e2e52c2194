// SASRec training-step cost (models/sasrec.h), single thread.
//
//   BM_SasRecSequence/<L>: ForwardBackward on ONE sequence with L predicted
//     positions (d=50, 2 blocks, 1 head, dropout 0.2, BCE, 1349 items,
//     max_len 200): the federated client's local step. Reports GFLOP/s.
//   BM_SasRecBatch128: ForwardBackward on a batch of 128 ML-100K-like
//     sequences, one after another into one Gradients (what one thread of
//     central training does). Sequence lengths are the real ML-100K train
//     lengths (min_count 5, leave-one-out) when the file at $FEDREC_ML100K
//     (default /work/shared/data/ml-100k/u.data) exists, else log-normal with
//     median 65. items_per_second = training sequences/s.
//   BM_SasRecLoss/<loss>/<L>: as BM_SasRecSequence on a 25,000-item
//     catalogue, per loss: 0 BCE (the paper), 1 sampled softmax with 256
//     negatives shared by the sequence, 2 gBCE with 256 shared negatives,
//     3 full softmax over the catalogue, 4 sampled softmax 256 with
//     normalised embeddings and temperature 0.05, 5 sampled softmax with
//     4096 shared negatives (the affordable stand-in for full softmax).
//   BM_EigenSgemm256: Eigen float GEMM 256x256x256 in this build: the
//     single-core SGEMM peak to compare GFLOP/s against.
//   BM_EigenSgemmLxD/<L>: the (L x 50) by (50 x 50) row-major product of the
//     projections: the SGEMM rate at the shapes SASRec really multiplies.
//   BM_EigenSgemmCatalogue/<L>: full softmax's three products over the
//     25,000-item catalogue, without the softmax.
//
// FLOPs counted per sequence of L positions (useful work: the causal lower
// triangle of the attention GEMMs; forward + backward = 3 x forward):
//   per block forward = 10 L d^2 (Q, K, V, W1, W2) + 2 L (L + 1) d (QK^T, PV).
// The blocked causal GEMMs execute somewhat more than the triangle (the
// diagonal blocks are full), so GFLOP/s slightly understates the machine.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/random.h"
#include "data/loader.h"
#include "data/split.h"
#include "models/sasrec.h"

namespace fedrec {
namespace {

constexpr uint32_t kItems = 1349;

SasRecOptions BenchOptions() {
  SasRecOptions o;
  o.num_items = kItems;
  o.dim = 50;
  o.blocks = 2;
  o.heads = 1;
  o.max_len = 200;
  o.dropout = 0.2;
  return o;
}

double FlopsPerSequence(const SasRecOptions& o, double len) {
  const double d = o.dim;
  const double fwd = o.blocks * (10 * len * d * d + 2 * len * (len + 1) * d) + 4 * len * d;
  return 3 * fwd;
}

std::unique_ptr<SasRecModel> MakeModel() {
  auto m = SasRecModel::Create(BenchOptions());
  if (!m.ok()) std::abort();
  (*m)->Initialize(1);
  return std::move(*m);
}

std::vector<uint32_t> RandomSequence(size_t n, uint32_t tag) {
  RandomStream s({5, "bench_seq", tag, 0, 0});
  std::vector<uint32_t> seq(n);
  for (uint32_t& i : seq) i = s.NextBelow(kItems);
  return seq;
}

void BM_SasRecSequence(benchmark::State& state) {
  const auto model = MakeModel();
  const size_t len = static_cast<size_t>(state.range(0));
  const std::vector<uint32_t> seq = RandomSequence(len + 1, 0);
  const UserSequence us{0, seq, {}};
  Gradients grads = model->NewGlobalGradients();
  auto ws = model->NewWorkspace();
  uint32_t step = 0;
  for (auto _ : state) {
    grads.Clear();
    LossSum l = model->ForwardBackward({&us, 1}, StepKey{1, 0, step++}, ws.get(), &grads, nullptr);
    benchmark::DoNotOptimize(l);
  }
  const double flops = FlopsPerSequence(model->options(), static_cast<double>(len));
  state.counters["MFLOP/seq"] = flops / 1e6;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SasRecSequence)->Arg(50)->Arg(200)->Unit(benchmark::kMicrosecond);

constexpr uint32_t kLargeCatalogue = 25000;

void BM_SasRecLoss(benchmark::State& state) {
  SasRecOptions o = BenchOptions();
  o.num_items = kLargeCatalogue;
  const int loss = static_cast<int>(state.range(0));
  static const char* const kNames[] = {
      "bce",     "sampled_softmax_256",      "gbce_256",
      "full_ce", "sampled_softmax_256_norm", "sampled_softmax_4096"};
  if (loss == 1 || loss == 4) o.loss = SasRecLoss::kCe, o.ce_negatives = 256;
  if (loss == 2) o.loss = SasRecLoss::kGbce, o.ce_negatives = 256;
  if (loss == 3) o.loss = SasRecLoss::kCe, o.ce_negatives = 0;
  if (loss == 5) o.loss = SasRecLoss::kCe, o.ce_negatives = 4096;
  if (loss == 4) o.normalize = true, o.temperature = 0.05;
  auto m = SasRecModel::Create(o);
  if (!m.ok()) std::abort();
  (*m)->Initialize(1);
  const size_t len = static_cast<size_t>(state.range(1));
  RandomStream r({5, "bench_seq", 1, 0, 0});
  std::vector<uint32_t> seq(len + 1);
  for (uint32_t& i : seq) i = r.NextBelow(kLargeCatalogue);
  const UserSequence us{0, seq, {}};
  Gradients grads = (*m)->NewGlobalGradients();
  auto ws = (*m)->NewWorkspace();
  uint32_t step = 0;
  for (auto _ : state) {
    grads.Clear();
    LossSum l = (*m)->ForwardBackward({&us, 1}, StepKey{1, 0, step++}, ws.get(), &grads, nullptr);
    benchmark::DoNotOptimize(l);
  }
  state.SetLabel(kNames[loss]);
}
BENCHMARK(BM_SasRecLoss)
    ->ArgsProduct({{0, 1, 2, 3, 4, 5}, {50, 200}})
    ->Unit(benchmark::kMicrosecond);

// Training sequence lengths (train part, as ForwardBackward sees it).
std::vector<size_t> Ml100kLengths() {
  const char* env = std::getenv("FEDREC_ML100K");
  const std::string path = env ? env : "/work/shared/data/ml-100k/u.data";
  std::vector<size_t> lengths;
  if (std::filesystem::exists(path)) {
    LoadOptions lo;
    lo.min_count = 5;
    auto data = LoadDataset(path, lo);
    if (data.ok()) {
      LeaveOneOutSplit split(*data);
      for (uint32_t u = 0; u < data->num_users(); ++u) lengths.push_back(split.Train(u).size());
      return lengths;
    }
  }
  RandomStream s({5, "bench_lengths", 0, 0, 0});
  for (int u = 0; u < 943; ++u) {
    const double len = 65.0 * std::exp(0.8 * s.NextNormal());
    lengths.push_back(std::clamp<size_t>(static_cast<size_t>(len), 3, 737));
  }
  return lengths;
}

void BM_SasRecBatch128(benchmark::State& state) {
  const auto model = MakeModel();
  const std::vector<size_t> lengths = Ml100kLengths();
  RandomStream pick({5, "bench_batch", 0, 0, 0});
  std::vector<std::vector<uint32_t>> seqs(128);
  double flops = 0;
  for (uint32_t b = 0; b < 128; ++b) {
    const size_t n = lengths[pick.NextBelow(static_cast<uint32_t>(lengths.size()))];
    seqs[b] = RandomSequence(n, b + 1);
    flops += FlopsPerSequence(model->options(), static_cast<double>(std::min<size_t>(n - 1, 200)));
  }
  std::vector<UserSequence> batch;
  for (uint32_t b = 0; b < 128; ++b) batch.push_back({b, seqs[b], {}});
  Gradients grads = model->NewGlobalGradients();
  auto ws = model->NewWorkspace();
  uint32_t step = 0;
  for (auto _ : state) {
    grads.Clear();
    LossSum l = model->ForwardBackward(batch, StepKey{1, 0, step++}, ws.get(), &grads, nullptr);
    benchmark::DoNotOptimize(l);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 128);
  state.counters["real_ml100k"] = lengths.size() == 943 && std::getenv("FEDREC_ML100K") == nullptr
                                      ? std::filesystem::exists("/work/shared/data/ml-100k/u.data")
                                      : 0;
  state.counters["MFLOP/seq"] = flops / 128 / 1e6;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SasRecBatch128)->Unit(benchmark::kMillisecond);

void BM_EigenSgemm256(benchmark::State& state) {
  const int n = 256;
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n), c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n * 1e-9 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EigenSgemm256)->Unit(benchmark::kMicrosecond);

// The shape that dominates the per-sequence work: (L x d) by (d x d),
// row-major, d = 50, as the Q/K/V/FFN projections run it. The peak to hold
// BM_SasRecSequence/<L> against ("comparable shapes").
void BM_EigenSgemmLxD(benchmark::State& state) {
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index len = state.range(0), d = 50;
  RowMajor x = RowMajor::Random(len, d), w = RowMajor::Random(d, d), y(len, d);
  for (auto _ : state) {
    y.noalias() = x * w;
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(len * d * d) * 1e-9 * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EigenSgemmLxD)->Arg(50)->Arg(200)->Unit(benchmark::kMicrosecond);

// The three products of a full softmax over a 25,000-item catalogue, alone:
// logits = H E^T, dH = dL E, dE += dL^T H (H: L x 50, E: 25k x 50, all
// row-major as the model holds them). Their time is the floor of full CE's
// step, whatever the softmax costs.
void BM_EigenSgemmCatalogue(benchmark::State& state) {
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index len = state.range(0), d = 50, m = kLargeCatalogue;
  RowMajor h = RowMajor::Random(len, d), e = RowMajor::Random(m, d), logits(len, m);
  RowMajor dh(len, d), de = RowMajor::Zero(m, d);
  for (auto _ : state) {
    logits.noalias() = h * e.transpose();
    dh.noalias() = logits * e;
    de.noalias() += logits.transpose() * h;
    benchmark::DoNotOptimize(de.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      6.0 * static_cast<double>(len * d * m) * 1e-9 * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EigenSgemmCatalogue)->Arg(50)->Arg(200)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace fedrec

BENCHMARK_MAIN();
