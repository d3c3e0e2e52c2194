// The GPU SASRec step (models/cuda/sasrec_device.h) run on HostTensorOps
// against the CPU model in double precision: loss and every tensor's
// gradient, for a batch whose windows are padded differently, with and
// without dropout, post-LN and pre-LN, and a separate output table. This is
// the CPU-side check of the whole device algorithm: the window layout and
// padding, the products' shapes and transposes, the dropout words of every
// mask, the scatter plans and the backward pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/cuda/device_sasrec_model.h"
#include "models/cuda/sasrec_client_batch.h"
#include "models/cuda/sasrec_device.h"
#include "models/cuda/tensor_ops.h"
#include "models/sasrec.h"
#include "models/sasrec_impl.h"
#include "tests/models/sasrec_double.h"

namespace fedrec {
namespace {

struct Case {
  bool pre_ln;
  double dropout;
  bool separate_output;
  uint32_t heads;
  SasRecLoss loss = SasRecLoss::kBce;
  uint32_t negatives = 6;  // kCe and kGbce: shared negatives; kCe with 0: the full softmax
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << static_cast<int>(c.loss) << " negatives=" << c.negatives
      << (c.pre_ln ? " pre_ln" : " post_ln") << " dropout=" << c.dropout
      << " separate_output=" << c.separate_output << " heads=" << c.heads;
}

class SasRecDeviceProgramTest : public ::testing::TestWithParam<Case> {};

TEST_P(SasRecDeviceProgramTest, LossAndEveryGradientMatchTheCpuModel) {
  const Case c = GetParam();
  SasRecOptions o;
  o.num_items = 30;
  o.dim = 8;
  o.blocks = 2;
  o.heads = c.heads;
  o.max_len = 7;
  o.dropout = c.dropout;
  o.pre_ln = c.pre_ln;
  o.separate_output = c.separate_output;
  o.loss = c.loss;
  if (c.loss != SasRecLoss::kBce) o.ce_negatives = c.negatives;
  auto model = SasRecModel::Create(o);
  ASSERT_TRUE(model.ok()) << model.status();
  // Items no sequence below holds, left out of negatives and the full
  // softmax.
  std::vector<uint8_t> excluded(o.num_items, 0);
  excluded[10] = excluded[21] = excluded[28] = 1;
  ASSERT_TRUE((*model)->SetNegativeExclusions(excluded).ok());
  o = (*model)->options();
  (*model)->Initialize(5);
  testing::DoubleParams ref = testing::DoubleCopy((*model)->global_params(), 0.3);
  // The program computes in float: both sides start from float values.
  for (auto& t : ref.params) {
    for (double& x : t) x = static_cast<float>(x);
  }

  // Windows of 4, 7 (a sequence longer than max_len) and 1 positions, and a
  // sequence too short to train on.
  const std::vector<uint32_t> a = {3, 17, 4, 29, 8};
  const std::vector<uint32_t> b = {1, 2, 5, 7, 11, 13, 0, 19, 23, 2, 9, 27, 6};
  const std::vector<uint32_t> e = {12};
  const std::vector<uint32_t> f = {14, 3};
  const std::vector<UserSequence> batch = {{4, a, {}}, {9, b, {}}, {2, e, {}}, {6, f, {}}};
  const StepKey key{11, 2, 3};

  double ref_loss = 0;
  uint64_t ref_examples = 0;
  sasrec_internal::SeqWorkspace<double> ws;
  for (const UserSequence& s : batch) {
    ref_loss += sasrec_internal::SequenceLoss<double>(
        o, ref.pp.data(), ref.gp.data(), nullptr, s.user, s.items, key, true, ws, &ref_examples);
  }

  std::unique_ptr<kernels::TensorOps> ops = kernels::NewHostTensorOps();
  std::vector<std::vector<float>> params, grads;
  std::vector<const float*> pp;
  std::vector<float*> gp;
  for (const auto& t : ref.params) {
    params.emplace_back(t.begin(), t.end());
    grads.emplace_back(t.size(), 0.0f);
  }
  for (size_t k = 0; k < params.size(); ++k) {
    pp.push_back(params[k].data());
    gp.push_back(grads[k].data());
  }
  auto program = kernels::SasRecDeviceProgram::Create(o, ops.get());
  ASSERT_TRUE(program.ok()) << program.status();
  const kernels::SasRecWindowBatch windows = kernels::SasRecWindowBatch::Pack(o, batch, key);
  EXPECT_EQ(windows.batch, 3u);
  EXPECT_EQ(windows.len, 7u);
  EXPECT_EQ(windows.first, (std::vector<uint32_t>{3, 0, 6}));
  auto got = (*program)->LossAndGradients(pp.data(), gp.data(), windows, key, true);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->examples, ref_examples);
  EXPECT_NEAR(got->loss, ref_loss, 1e-5 * std::max(1.0, std::abs(ref_loss)));

  // Float against double: a few float roundings per term, relative to the
  // tensor's largest gradient.
  const ParameterStore& store = (*model)->global_params();
  for (size_t k = 0; k < grads.size(); ++k) {
    double largest = 0, worst = 0;
    size_t worst_at = 0;
    for (size_t i = 0; i < grads[k].size(); ++i) {
      largest = std::max(largest, std::abs(ref.grads[k][i]));
      const double diff = std::abs(grads[k][i] - ref.grads[k][i]);
      if (!(diff <= worst)) {
        worst = diff;
        worst_at = i;
      }
    }
    EXPECT_LE(worst, 2e-5 * std::max(1.0, largest))
        << store.layout()[k].name << "[" << worst_at << "]: " << grads[k][worst_at] << " vs "
        << ref.grads[k][worst_at];
  }

  // A second call reuses the scratch and adds the same gradient again.
  std::vector<std::vector<float>> once = grads;
  auto again = (*program)->LossAndGradients(pp.data(), gp.data(), windows, key, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->loss, got->loss);
  for (size_t k = 0; k < grads.size(); ++k) {
    for (size_t i = 0; i < grads[k].size(); i += 7) {
      EXPECT_NEAR(grads[k][i], 2 * once[k][i], 1e-6 * (1 + std::abs(once[k][i])));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, SasRecDeviceProgramTest,
                         ::testing::Values(Case{false, 0.0, false, 2}, Case{false, 0.3, false, 2},
                                           Case{true, 0.0, false, 1}, Case{true, 0.3, true, 2},
                                           Case{false, 0.3, true, 1},
                                           Case{false, 0.3, false, 2, SasRecLoss::kCe},
                                           Case{true, 0.0, true, 1, SasRecLoss::kCe},
                                           Case{false, 0.2, true, 2, SasRecLoss::kGbce},
                                           Case{false, 0.3, false, 2, SasRecLoss::kCe, 0},
                                           Case{true, 0.2, true, 1, SasRecLoss::kCe, 0}));

absl::StatusOr<std::unique_ptr<kernels::TensorOps>> HostOps() {
  return kernels::NewHostTensorOps();
}

// The Model around the program (on the host's TensorOps) against the CPU
// model through the Model interface: loss, every gradient tensor, the rows
// the embedding gradients mark, and scoring (which it delegates); the
// paper's BCE, and the full softmax (every row of the scored table marked).
TEST(DeviceSasRecModel, ForwardBackwardMatchesTheCpuModelThroughTheModelInterface) {
  for (const bool full_softmax : {false, true}) {
    SCOPED_TRACE(full_softmax ? "full softmax" : "bce");
    SasRecOptions o;
    o.num_items = 30;
    o.dim = 8;
    o.blocks = 2;
    o.heads = 2;
    o.max_len = 7;
    o.dropout = 0.3;
    if (full_softmax) {
      o.loss = SasRecLoss::kCe;
      o.separate_output = true;
    }
    auto cpu = SasRecModel::Create(o);
    auto ref = SasRecModel::Create(o);
    ASSERT_TRUE(cpu.ok() && ref.ok());
    (*cpu)->Initialize(5);
    (*ref)->Initialize(5);
    auto device = DeviceSasRecModel::Create(std::move(*cpu), HostOps, "host");
    ASSERT_TRUE(device.ok()) << device.status();

    const std::vector<uint32_t> a = {3, 17, 4, 29, 8};
    const std::vector<uint32_t> b = {1, 2, 5, 7, 11, 13, 0, 19, 23, 2, 9, 27, 6};
    const std::vector<uint32_t> f = {14, 3};
    const std::vector<UserSequence> batch = {{4, a, {}}, {9, b, {}}, {6, f, {}}};
    const StepKey key{11, 2, 3};
    Gradients got = (*device)->NewGlobalGradients();
    Gradients want = (*ref)->NewGlobalGradients();
    std::unique_ptr<Workspace> ws = (*device)->NewWorkspace();
    const LossSum l_got = (*device)->ForwardBackward(batch, key, ws.get(), &got, nullptr);
    const LossSum l_want = (*ref)->ForwardBackward(batch, key, nullptr, &want, nullptr);
    EXPECT_EQ(l_got.examples, l_want.examples);
    EXPECT_NEAR(l_got.loss, l_want.loss, 1e-5 * std::abs(l_want.loss));
    const ParameterStore& store = (*ref)->global_params();
    for (size_t k = 0; k < store.num_tensors(); ++k) {
      const TensorView g = got.View(k), w = want.View(k);
      double largest = 0, worst = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        largest = std::max(largest, static_cast<double>(std::abs(w.data[i])));
        worst = std::max(worst, static_cast<double>(std::abs(g.data[i] - w.data[i])));
      }
      EXPECT_LE(worst, 5e-5 * std::max(1.0, largest)) << store.layout()[k].name;
      EXPECT_EQ(got.IsSparse(k), want.IsSparse(k));
      if (want.IsSparse(k)) {
        std::vector<uint32_t> rg = got.TouchedRows(k), rw = want.TouchedRows(k);
        std::sort(rg.begin(), rg.end());
        std::sort(rw.begin(), rw.end());
        EXPECT_EQ(rg, rw) << store.layout()[k].name;
      }
    }
    if (full_softmax) {
      EXPECT_EQ(got.TouchedRows(sasrec_internal::ScoredTable(o)).size(), o.num_items);
    }
    std::vector<float> s_got(o.num_items), s_want(o.num_items);
    (*device)->ScoreAll(4, a, s_got);
    (*ref)->ScoreAll(4, a, s_want);
    EXPECT_EQ(s_got, s_want);
    // Options the GPU step lacks are refused when the model is built.
    o.loss = SasRecLoss::kCe;
    o.temperature = 0.5;
    auto ce = DeviceSasRecModel::Create(*SasRecModel::Create(o), HostOps, "host");
    EXPECT_EQ(ce.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(SasRecDeviceProgram, RefusesWhatItDoesNotCompute) {
  std::unique_ptr<kernels::TensorOps> ops = kernels::NewHostTensorOps();
  SasRecOptions o;
  o.num_items = 10;
  o.loss = SasRecLoss::kCe;
  EXPECT_TRUE(kernels::SasRecDeviceProgram::Create(o, ops.get()).ok());  // the full softmax
  o.temperature = 0.5;
  auto p = kernels::SasRecDeviceProgram::Create(o, ops.get());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(p.status().message()).find("temperature"), std::string::npos);
  o.temperature = 1.0;
  o.ce_negatives = 8;
  EXPECT_TRUE(kernels::SasRecDeviceProgram::Create(o, ops.get()).ok());
  o.negatives_per_position = true;
  p = kernels::SasRecDeviceProgram::Create(o, ops.get());
  EXPECT_NE(std::string(p.status().message()).find("negative_sharing"), std::string::npos);
  o.negatives_per_position = false;
  o.sampler = NegativeSampler::kPopularity;
  p = kernels::SasRecDeviceProgram::Create(o, ops.get());
  EXPECT_NE(std::string(p.status().message()).find("popularity"), std::string::npos);
  // Federated clients on the device take the paper's BCE only.
  o.sampler = NegativeSampler::kUniform;
  auto model = SasRecModel::Create(o);
  ASSERT_TRUE(model.ok()) << model.status();
  auto clients = kernels::SasRecClientBatch::Create(o, (*model)->global_params(),
                                                    kernels::NewHostTensorOps(), {});
  EXPECT_EQ(clients.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(clients.status().message()).find("bce"), std::string::npos);
}

TEST(SasRecDeviceProgram, AnEmptyBatchIsNoWork) {
  std::unique_ptr<kernels::TensorOps> ops = kernels::NewHostTensorOps();
  SasRecOptions o;
  o.num_items = 10;
  auto p = kernels::SasRecDeviceProgram::Create(o, ops.get());
  ASSERT_TRUE(p.ok());
  const std::vector<uint32_t> one = {3};
  const std::vector<UserSequence> batch = {{0, one, {}}};
  const kernels::SasRecWindowBatch w = kernels::SasRecWindowBatch::Pack(o, batch, StepKey{});
  EXPECT_EQ(w.batch, 0u);
  auto r = (*p)->LossAndGradients(nullptr, nullptr, w, StepKey{}, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->examples, 0u);
}

}  // namespace
}  // namespace fedrec
