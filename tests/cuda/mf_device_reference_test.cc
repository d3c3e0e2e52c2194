// The GPU MF-BPR step (models/cuda/mf_device.h) on HostTensorOps against the
// CPU model (models/mf.h) through the Model interface: loss, the item
// tables' and the user table's gradients and the rows they mark, in the
// CPU's first-touch order, with and without l2, with excluded items, a user
// with no possible negative, a user twice in a batch and an empty sequence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/cuda/device_mf_model.h"
#include "models/cuda/mf_device.h"
#include "models/cuda/tensor_ops.h"
#include "models/mf.h"

namespace fedrec {
namespace {

absl::StatusOr<std::unique_ptr<kernels::TensorOps>> HostOps() {
  return kernels::NewHostTensorOps();
}

// Every tensor of `got` within `rel` of the largest |want|, the same rows
// marked in the same order.
void ExpectSameGradients(Gradients& got, Gradients& want, const ParameterStore& store, double rel) {
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    const TensorView g = got.View(k), w = want.View(k);
    double largest = 0, worst = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      largest = std::max(largest, static_cast<double>(std::abs(w.data[i])));
      worst = std::max(worst, static_cast<double>(std::abs(g.data[i] - w.data[i])));
    }
    EXPECT_GT(largest, 0.0) << store.layout()[k].name;
    EXPECT_LE(worst, rel * std::max(1.0, largest)) << store.layout()[k].name;
    ASSERT_EQ(got.IsSparse(k), want.IsSparse(k));
    if (want.IsSparse(k)) {
      EXPECT_EQ(got.TouchedRows(k), want.TouchedRows(k)) << store.layout()[k].name;
    }
  }
}

class MfDeviceTest : public ::testing::TestWithParam<float> {};

TEST_P(MfDeviceTest, LossGradientsAndTouchedRowsMatchTheCpuModel) {
  MfBprOptions o;
  o.num_users = 12;
  o.num_items = 20;
  o.dim = 8;
  o.l2 = GetParam();
  o.init_std = 0.4f;
  auto cpu = MfBprModel::Create(o);
  auto ref = MfBprModel::Create(o);
  ASSERT_TRUE(cpu.ok() && ref.ok()) << cpu.status();
  (*cpu)->Initialize(3);
  (*ref)->Initialize(3);
  // Item biases away from zero, so that their gradients and l2 terms count.
  for (auto* m : {cpu->get(), ref->get()}) {
    float* bias = m->global_params().ViewAt(MfBprModel::kItemBias).data;
    for (uint32_t i = 0; i < o.num_items; ++i) bias[i] = 0.05f * static_cast<float>(i % 7) - 0.1f;
  }
  std::vector<uint8_t> excluded(o.num_items, 0);
  excluded[18] = excluded[19] = 1;
  ASSERT_TRUE((*cpu)->SetNegativeExclusions(excluded).ok());
  ASSERT_TRUE((*ref)->SetNegativeExclusions(excluded).ok());
  auto device = DeviceMfModel::Create(std::move(*cpu), HostOps, "host");
  ASSERT_TRUE(device.ok()) << device.status();

  // User 9 touches every item not excluded: no negative, skipped.
  std::vector<uint32_t> all(18);
  for (uint32_t i = 0; i < 18; ++i) all[i] = i;
  const std::vector<uint32_t> a = {3, 17, 4, 3}, b = {1, 2, 5}, none, again = {6, 8};
  const std::vector<UserSequence> batch = {
      {4, a, {}}, {7, b, {}}, {9, all, {}}, {2, none, {}}, {4, again, {}}};
  for (const StepKey key : {StepKey{11, 2, 3}, StepKey{11, 3, 0}}) {
    Gradients got = (*device)->NewGlobalGradients(), want = (*ref)->NewGlobalGradients();
    Gradients got_local = (*device)->NewLocalGradients();
    Gradients want_local = (*ref)->NewLocalGradients();
    auto ws = (*device)->NewWorkspace();
    auto ref_ws = (*ref)->NewWorkspace();
    const LossSum l_got = (*device)->ForwardBackward(batch, key, ws.get(), &got, &got_local);
    const LossSum l_want = (*ref)->ForwardBackward(batch, key, ref_ws.get(), &want, &want_local);
    EXPECT_EQ(l_got.examples, l_want.examples);
    EXPECT_EQ(l_want.examples, 4u + 3u + 2u);
    EXPECT_NEAR(l_got.loss, l_want.loss, 1e-5 * std::abs(l_want.loss));
    ExpectSameGradients(got, want, (*ref)->global_params(), 1e-5);
    ExpectSameGradients(got_local, want_local, *(*ref)->local_params(), 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(L2, MfDeviceTest, ::testing::Values(0.0f, 0.05f));

TEST(MfDeviceProgram, PacksExamplesInTheCpuOrderWithCompactUsers) {
  MfBprOptions o;
  o.num_users = 10;
  o.num_items = 30;
  const std::vector<uint32_t> a = {3, 17}, b = {1}, c = {4};
  const std::vector<UserSequence> batch = {{8, a, {}}, {2, b, {}}, {8, c, {}}};
  UnseenItemSampler sampler(o.num_items);
  const kernels::MfExampleBatch w =
      kernels::MfExampleBatch::Pack(o, {}, batch, StepKey{1, 1, 1}, &sampler);
  EXPECT_EQ(w.users, (std::vector<uint32_t>{8, 2}));
  EXPECT_EQ(w.user_row, (std::vector<uint32_t>{0, 0, 1, 0}));
  EXPECT_EQ(w.items, (std::vector<uint32_t>{3, 17, 1, 4}));
  EXPECT_EQ(w.examples, 4u);
  for (size_t x = 0; x < w.size(); ++x) EXPECT_NE(w.negatives[x], w.items[x]);
}

TEST(MfDeviceProgram, RefusesItemFeatures) {
  std::unique_ptr<kernels::TensorOps> ops = kernels::NewHostTensorOps();
  MfBprOptions o;
  o.num_users = 2;
  o.num_items = 3;
  o.item_repr.repr = ItemRepr::kText;
  EXPECT_EQ(kernels::MfDeviceProgram::Create(o, ops.get()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedrec
