// The GPU GRU4Rec step (models/cuda/gru4rec_device.h) on HostTensorOps
// against the CPU model (models/gru4rec.h), through the Model interface:
// loss, every tensor's gradient and the rows the item tables' gradients
// mark, in the CPU's first-touch order, for batches whose windows are padded
// differently, one and two layers, with and without dropout, one and
// several negatives, a separate output table, excluded items and a user
// with no possible negative. This is the CPU-side check of the whole device
// algorithm: the time-major layout, the dropout words of every mask, BPR
// over k negatives, sampled softmax and gBCE over shared negatives, the
// full softmax, the scatter plans and backpropagation through time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "models/cuda/device_gru4rec_model.h"
#include "models/cuda/gru4rec_device.h"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/ops_tensors.h"
#include "models/cuda/tensor_ops.h"
#include "models/gru4rec.h"
#include "models/losses.h"

namespace fedrec {
namespace {

struct Case {
  uint32_t layers;
  float dropout;
  uint32_t negatives;
  bool separate_output;
  SeqLoss loss = SeqLoss::kBpr;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << SeqLossName(c.loss) << " layers=" << c.layers << " dropout=" << c.dropout
      << " negatives=" << c.negatives << " separate_output=" << c.separate_output;
}

absl::StatusOr<std::unique_ptr<kernels::TensorOps>> HostOps() {
  return kernels::NewHostTensorOps();
}

Gru4RecOptions OptionsFor(const Case& c) {
  Gru4RecOptions o;
  o.num_items = 30;
  o.dim = 8;
  o.layers = c.layers;
  o.max_len = 7;
  o.dropout = c.dropout;
  o.negatives = c.negatives;
  o.separate_output = c.separate_output;
  o.loss = c.loss;
  o.init_std = 0.3f;
  return o;
}

// A CPU model initialised with `seed`, its tensors on HostTensorOps and the
// device program on them.
struct OnHost {
  OnHost(const Gru4RecOptions& o, uint64_t seed) {
    auto model = Gru4RecModel::Create(o);
    if (!model.ok()) return;
    cpu = std::move(*model);
    cpu->Initialize(seed);
    ops = kernels::NewHostTensorOps();
    auto placed = kernels::OpsTensors::Allocate(*ops, cpu->global_params());
    if (!placed.ok() || !placed->Load(*ops, cpu->global_params()).ok()) return;
    tensors = std::move(*placed);
    auto made = kernels::Gru4RecDeviceProgram::Create(o, ops.get());
    if (made.ok()) program = std::move(*made);
  }
  bool ok() const { return program != nullptr; }

  std::unique_ptr<Gru4RecModel> cpu;
  std::unique_ptr<kernels::TensorOps> ops;
  kernels::OpsTensors tensors;
  std::unique_ptr<kernels::Gru4RecDeviceProgram> program;
};

class Gru4RecDeviceTest : public ::testing::TestWithParam<Case> {};

TEST_P(Gru4RecDeviceTest, LossGradientsAndTouchedRowsMatchTheCpuModel) {
  const Gru4RecOptions o = OptionsFor(GetParam());
  auto cpu = Gru4RecModel::Create(o);
  auto ref = Gru4RecModel::Create(o);
  ASSERT_TRUE(cpu.ok() && ref.ok()) << cpu.status();
  (*cpu)->Initialize(5);
  (*ref)->Initialize(5);
  std::vector<uint8_t> excluded(o.num_items, 0);
  excluded[21] = excluded[22] = 1;
  ASSERT_TRUE((*cpu)->SetNegativeExclusions(excluded).ok());
  ASSERT_TRUE((*ref)->SetNegativeExclusions(excluded).ok());
  auto device = DeviceGru4RecModel::Create(std::move(*cpu), HostOps, "host");
  ASSERT_TRUE(device.ok()) << device.status();

  // Windows of 4, 7 (a sequence longer than max_len) and 1 positions, a
  // sequence too short to train on, and a repeated item.
  const std::vector<uint32_t> a = {3, 17, 4, 29, 8};
  const std::vector<uint32_t> b = {1, 2, 5, 7, 11, 13, 0, 19, 23, 2, 9, 27, 6};
  const std::vector<uint32_t> e = {12};
  const std::vector<uint32_t> f = {14, 3};
  const std::vector<uint32_t> g = {8, 8, 16};
  const std::vector<UserSequence> batch = {
      {4, a, {}}, {9, b, {}}, {2, e, {}}, {6, f, {}}, {7, g, {}}};
  for (const StepKey key : {StepKey{11, 2, 3}, StepKey{11, 3, 0}}) {
    Gradients got = (*device)->NewGlobalGradients();
    Gradients want = (*ref)->NewGlobalGradients();
    std::unique_ptr<Workspace> ws = (*device)->NewWorkspace();
    std::unique_ptr<Workspace> ref_ws = (*ref)->NewWorkspace();
    const LossSum l_got = (*device)->ForwardBackward(batch, key, ws.get(), &got, nullptr);
    const LossSum l_want = (*ref)->ForwardBackward(batch, key, ref_ws.get(), &want, nullptr);
    EXPECT_EQ(l_got.examples, l_want.examples);
    EXPECT_EQ(l_want.examples, 4u + 7u + 1u + 2u);
    EXPECT_NEAR(l_got.loss, l_want.loss, 1e-5 * std::abs(l_want.loss));
    const ParameterStore& store = (*ref)->global_params();
    for (size_t k = 0; k < store.num_tensors(); ++k) {
      const TensorView gv = got.View(k), wv = want.View(k);
      double largest = 0, worst = 0;
      size_t worst_at = 0;
      for (size_t i = 0; i < wv.size(); ++i) {
        largest = std::max(largest, static_cast<double>(std::abs(wv.data[i])));
        const double diff = std::abs(gv.data[i] - wv.data[i]);
        if (!(diff <= worst)) {
          worst = diff;
          worst_at = i;
        }
      }
      EXPECT_GT(largest, 0.0) << store.layout()[k].name;
      EXPECT_LE(worst, 1e-5 * std::max(1.0, largest))
          << store.layout()[k].name << "[" << worst_at << "]: " << gv.data[worst_at] << " vs "
          << wv.data[worst_at];
      ASSERT_EQ(got.IsSparse(k), want.IsSparse(k));
      if (want.IsSparse(k)) {
        EXPECT_EQ(got.TouchedRows(k), want.TouchedRows(k)) << store.layout()[k].name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, Gru4RecDeviceTest,
    ::testing::Values(Case{1, 0.0f, 1, false}, Case{1, 0.3f, 1, false}, Case{2, 0.25f, 3, false},
                      Case{2, 0.0f, 2, true}, Case{1, 0.4f, 4, true},
                      Case{2, 0.2f, 6, false, SeqLoss::kCe}, Case{1, 0.0f, 6, true, SeqLoss::kCe},
                      Case{2, 0.3f, 5, true, SeqLoss::kGbce}, Case{2, 0.2f, 0, false, SeqLoss::kCe},
                      Case{1, 0.3f, 0, true, SeqLoss::kCe}));

// Padding is inert: a user's loss does not depend on who shares the batch
// (other window lengths change its padding), up to float rounding in the
// products.
TEST(Gru4RecDeviceProgram, AUsersLossDoesNotDependOnItsBatch) {
  const Gru4RecOptions o = OptionsFor({2, 0.3f, 2, false});
  OnHost h(o, 3);
  ASSERT_TRUE(h.ok());
  kernels::OpsTensors* tensors = &h.tensors;
  kernels::Gru4RecDeviceProgram* program = h.program.get();
  const std::vector<uint32_t> a = {3, 17, 4};
  const std::vector<uint32_t> b = {1, 2, 5, 7, 11, 13, 0, 19, 23};
  const StepKey key{4, 1, 1};
  gru4rec_internal::NegativeScratch sampler{UnseenItemSampler(o.num_items), {}};
  const std::vector<UserSequence> alone = {{4, a, {}}};
  const std::vector<UserSequence> shared = {{9, b, {}}, {4, a, {}}};
  const kernels::Gru4RecWindowBatch w1 =
      kernels::Gru4RecWindowBatch::Pack(o, {}, alone, key, &sampler);
  const kernels::Gru4RecWindowBatch w2 =
      kernels::Gru4RecWindowBatch::Pack(o, {}, shared, key, &sampler);
  EXPECT_EQ(w1.steps, 2u);
  EXPECT_EQ(w2.steps, 7u);
  EXPECT_EQ(w2.first, (std::vector<uint32_t>{0, 5}));
  auto l1 = program->LossAndGradients(tensors->params(), tensors->grads(), w1, key, true);
  ASSERT_TRUE(l1.ok());
  const std::vector<UserSequence> other = {{9, b, {}}};
  const kernels::Gru4RecWindowBatch w3 =
      kernels::Gru4RecWindowBatch::Pack(o, {}, other, key, &sampler);
  auto l2 = program->LossAndGradients(tensors->params(), tensors->grads(), w2, key, true);
  auto l3 = program->LossAndGradients(tensors->params(), tensors->grads(), w3, key, true);
  ASSERT_TRUE(l2.ok() && l3.ok());
  EXPECT_NEAR(l2->loss, l1->loss + l3->loss, 1e-6 * l2->loss);
  EXPECT_EQ(l2->examples, l1->examples + l3->examples);
}

// LastStates dotted with the scored rows are the CPU model's scores.
TEST(Gru4RecDeviceProgram, LastStatesScoreAsTheCpuModel) {
  for (const bool separate : {false, true}) {
    const Gru4RecOptions o = OptionsFor({2, 0.3f, 1, separate});
    OnHost h(o, 8);
    ASSERT_TRUE(h.ok());
    const Gru4RecModel& cpu = *h.cpu;
    const std::vector<uint32_t> a = {3, 17, 4};
    const std::vector<uint32_t> b = {1, 2, 5, 7, 11, 13, 0, 19, 23};  // longer than max_len
    const std::vector<uint32_t> none;
    const std::vector<std::span<const uint32_t>> histories = {a, b, none};
    const kernels::Gru4RecWindowBatch w =
        kernels::Gru4RecWindowBatch::PackHistories(histories, o.max_len);
    std::vector<float> states(histories.size() * o.dim, -1.0f);
    ASSERT_TRUE(h.program->LastStates(h.tensors.params(), w, states.data()).ok());
    const ParameterStore& store = cpu.global_params();
    const float* rows = store.ViewAt(separate ? cpu.OutputTensor() : 0).data;
    for (size_t u = 0; u < histories.size(); ++u) {
      std::vector<float> want(o.num_items);
      cpu.ScoreAll(0, histories[u], want);
      for (uint32_t i = 0; i < o.num_items; ++i) {
        float dot = 0;
        for (size_t j = 0; j < o.dim; ++j) dot += states[u * o.dim + j] * rows[i * o.dim + j];
        EXPECT_NEAR(dot, want[i], 1e-5 * (1 + std::abs(want[i]))) << "user " << u << " item " << i;
      }
    }
  }
}

// BprPosition is the CPU model's per-position BPR: the mean of losses.h's
// BprLoss over the negatives, its gradients scaled by 1/k; padding is 0.
TEST(Gru4RecKernels, BprPositionIsTheMeanOfBprLoss) {
  RandomStream s({.seed = 2, .purpose = "test_bpr_kernel"});
  constexpr size_t kNeg = 4, kStride = 3;
  for (int trial = 0; trial < 200; ++trial) {
    const float pos = static_cast<float>(40.0 * s.NextDouble() - 20.0);
    std::vector<float> neg(kNeg * kStride), dneg(kNeg * kStride, -1.0f);
    for (float& x : neg) x = static_cast<float>(40.0 * s.NextDouble() - 20.0);
    float dpos = -1.0f;
    const float got =
        kernels::BprPosition<float>(pos, neg.data(), kStride, kNeg, true, &dpos, dneg.data());
    float want = 0, want_dpos = 0;
    const float inv = 1.0f / kNeg;
    for (size_t j = 0; j < kNeg; ++j) {
      float dp, dn;
      want += BprLoss<float>(pos, neg[j * kStride], &dp, &dn);
      want_dpos += dp * inv;
      EXPECT_EQ(dneg[j * kStride], dn * inv);
    }
    EXPECT_EQ(got, want * inv);
    EXPECT_EQ(dpos, want_dpos);
  }
  std::vector<float> neg(2, 1.0f), dneg(2, 5.0f);
  float dpos = 5.0f;
  EXPECT_EQ(kernels::BprPosition<float>(1.0f, neg.data(), 1, 2, false, &dpos, dneg.data()), 0.0f);
  EXPECT_EQ(dpos, 0.0f);
  EXPECT_EQ(dneg, (std::vector<float>{0.0f, 0.0f}));
}

// StepDropoutMasks draws each user's masks as the CPU model does: one
// NextFloat per entry of the user's valid steps, from the given word on;
// padding rows are zero.
TEST(Gru4RecKernels, StepDropoutMasksAreTheCpuDraws) {
  std::unique_ptr<kernels::TensorOps> ops = kernels::NewHostTensorOps();
  constexpr size_t kBatch = 3, kSteps = 5, kWidth = 6;
  const float rate = 0.3f;
  const std::vector<uint32_t> first = {0, 2, 5};
  std::vector<kernels::MaskSource> sources;
  for (uint32_t b = 0; b < kBatch; ++b) {
    sources.push_back({MakePhiloxStream(9, Fnv1a64("dropout"), 1, 10 + b, 2), 7u * b});
  }
  std::vector<float> mask(kSteps * kBatch * kWidth, -1.0f);
  ASSERT_TRUE(
      ops->StepDropoutMasks(sources.data(), first.data(), rate, kBatch, kSteps, kWidth, mask.data())
          .ok());
  const float keep = 1.0f / (1.0f - rate);
  size_t dropped = 0;
  for (uint32_t b = 0; b < kBatch; ++b) {
    RandomStream stream({.seed = 9, .purpose = "dropout", .round = 1, .client = 10 + b, .step = 2});
    for (uint32_t w = 0; w < 7u * b; ++w) stream.NextU32();
    for (size_t t = 0; t < kSteps; ++t) {
      for (size_t j = 0; j < kWidth; ++j) {
        const float got = mask[(t * kBatch + b) * kWidth + j];
        if (t < first[b]) {
          EXPECT_EQ(got, 0.0f);
          continue;
        }
        EXPECT_EQ(got, stream.NextFloat() < rate ? 0.0f : keep) << b << " " << t << " " << j;
        dropped += got == 0.0f;
      }
    }
  }
  EXPECT_GT(dropped, 0u);
}

TEST(Gru4RecDeviceProgram, RefusesWhatItDoesNotCompute) {
  std::unique_ptr<kernels::TensorOps> ops = kernels::NewHostTensorOps();
  Gru4RecOptions o;
  o.num_items = 10;
  o.loss = SeqLoss::kCe;
  o.negatives = 0;
  EXPECT_TRUE(kernels::Gru4RecDeviceProgram::Create(o, ops.get()).ok());
  o.normalize = true;  // cosine logits: not on the device, full or sampled
  auto p = kernels::Gru4RecDeviceProgram::Create(o, ops.get());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(p.status().message()).find("normalised"), std::string::npos);
  auto model = DeviceGru4RecModel::Create(*Gru4RecModel::Create(o), HostOps, "host");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  o.normalize = false;
  o.negatives = 4;
  EXPECT_TRUE(kernels::Gru4RecDeviceProgram::Create(o, ops.get()).ok());
  o.sampler = NegativeSampler::kPopularity;
  p = kernels::Gru4RecDeviceProgram::Create(o, ops.get());
  EXPECT_NE(std::string(p.status().message()).find("popularity"), std::string::npos);
  o.sampler = NegativeSampler::kUniform;
  o.temperature = 0.5;
  p = kernels::Gru4RecDeviceProgram::Create(o, ops.get());
  EXPECT_NE(std::string(p.status().message()).find("temperature"), std::string::npos);
}

// A user whose items and the excluded ones cover the catalogue has no BPR
// negative: skipped, as on the CPU; a batch of such users is no work.
TEST(Gru4RecDeviceProgram, AUserWithoutANegativeIsSkipped) {
  Gru4RecOptions o;
  o.num_items = 5;
  o.dim = 4;
  o.max_len = 4;
  ExcludedItems excluded(std::vector<uint8_t>{0, 0, 0, 1, 1});
  const std::vector<uint32_t> all = {0, 1, 2, 0};
  const std::vector<uint32_t> some = {0, 1};
  const std::vector<UserSequence> batch = {{1, all, {}}, {2, some, {}}};
  gru4rec_internal::NegativeScratch sampler{UnseenItemSampler(o.num_items), {}};
  const kernels::Gru4RecWindowBatch w =
      kernels::Gru4RecWindowBatch::Pack(o, excluded, batch, StepKey{1, 1, 1}, &sampler);
  EXPECT_EQ(w.batch, 1u);
  EXPECT_EQ(w.users, (std::vector<uint32_t>{2}));
  ASSERT_EQ(w.drawn.size(), 1u);
  EXPECT_EQ(w.drawn[0], 2u);
  const std::vector<UserSequence> only = {{1, all, {}}};
  EXPECT_EQ(kernels::Gru4RecWindowBatch::Pack(o, excluded, only, StepKey{}, &sampler).batch, 0u);
}

}  // namespace
}  // namespace fedrec
