// The full softmax on a TensorOps backend (models/cuda/full_softmax_head.h)
// on HostTensorOps against the CPU head (models/sequence_losses.h's
// FullSoftmaxLoss) in double: the loss, d loss / dh and the table's
// gradient over a catalogue wider than the row kernel's lanes, with padding
// rows, excluded items, and any cut of the rows into chunks.
#include "models/cuda/full_softmax_head.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/tensor_ops.h"
#include "models/negatives.h"
#include "models/sequence_losses.h"

namespace fedrec {
namespace {

constexpr size_t kItems = 600, kDim = 4, kRows = 9;

struct Fixture {
  std::vector<float> h, table;
  std::vector<uint32_t> targets;
  std::vector<uint8_t> valid, excluded_flags;
  std::vector<uint32_t> excluded;
};

Fixture MakeFixture() {
  Fixture f;
  RandomStream rng({.seed = 21, .purpose = "full_softmax_test"});
  for (size_t i = 0; i < kRows * kDim; ++i) f.h.push_back(2.0f * rng.NextFloat() - 1.0f);
  for (size_t i = 0; i < kItems * kDim; ++i) f.table.push_back(2.0f * rng.NextFloat() - 1.0f);
  f.excluded = {3, 257, 599};
  f.excluded_flags.assign(kItems, 0);
  for (uint32_t e : f.excluded) f.excluded_flags[e] = 1;
  for (size_t r = 0; r < kRows; ++r) {
    const bool pad = r == 0 || r == 4;
    f.valid.push_back(pad ? 0 : 1);
    f.targets.push_back(pad ? kernels::kNoItem : static_cast<uint32_t>((r * 131 + 7) % 590 + 4));
  }
  return f;
}

TEST(FullSoftmaxHead, MatchesTheCpuHeadForAnyChunking) {
  const Fixture f = MakeFixture();
  // The CPU head in double over the valid rows.
  std::vector<double> hv, table(f.table.begin(), f.table.end());
  std::vector<uint32_t> tv;
  for (size_t r = 0; r < kRows; ++r) {
    if (f.valid[r] == 0) continue;
    hv.insert(hv.end(), f.h.begin() + r * kDim, f.h.begin() + (r + 1) * kDim);
    tv.push_back(f.targets[r]);
  }
  const ExcludedItems excluded(f.excluded_flags);
  seqloss::HeadOptions options;
  options.loss = seqloss::HeadLoss::kFullSoftmax;
  options.excluded = &excluded;
  std::vector<double> dhv(hv.size(), 0.0), dtable(table.size(), 0.0);
  seqloss::MatrixMap<double> dh_map(dhv.data(), tv.size(), kDim);
  seqloss::MatrixMap<double> dtable_map(dtable.data(), kItems, kDim);
  seqloss::HeadScratch<double> scratch;
  const double want_loss = seqloss::FullSoftmaxLoss<double>(
      options, seqloss::ConstMatrixMap<double>(hv.data(), tv.size(), kDim),
      seqloss::ConstMatrixMap<double>(table.data(), kItems, kDim), tv, &dh_map, &dtable_map,
      nullptr, 0, scratch);

  std::unique_ptr<kernels::TensorOps> ops = kernels::NewHostTensorOps();
  for (const size_t chunk_logits :
       {kernels::FullSoftmaxHead::kDefaultChunkLogits, 3 * kItems, kItems, size_t{1}}) {
    SCOPED_TRACE(chunk_logits);
    kernels::FullSoftmaxHead head(ops.get(), chunk_logits);
    // The gradients are added to what the buffers hold.
    std::vector<float> dh(kRows * kDim, 0.5f), dt(kItems * kDim, 0.25f);
    auto got = head.Run(f.h.data(), f.table.data(), kDim, kItems, kRows, f.targets.data(),
                        f.valid.data(), f.excluded, dh.data(), dt.data());
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), kRows);
    double loss = 0;
    for (size_t r = 0; r < kRows; ++r) {
      if (f.valid[r] == 0) {
        EXPECT_EQ((*got)[r], 0.0f) << r;
      }
      loss += (*got)[r];
    }
    EXPECT_NEAR(loss, want_loss, 1e-5 * want_loss);
    size_t v = 0;
    for (size_t r = 0; r < kRows; ++r) {
      for (size_t j = 0; j < kDim; ++j) {
        if (f.valid[r] == 0) {
          EXPECT_EQ(dh[r * kDim + j], 0.5f) << r;  // padding: nothing added
        } else {
          EXPECT_NEAR(dh[r * kDim + j] - 0.5, dhv[v * kDim + j], 1e-5) << r << " " << j;
        }
      }
      v += f.valid[r];
    }
    for (size_t i = 0; i < kItems; ++i) {
      for (size_t j = 0; j < kDim; ++j) {
        if (f.excluded_flags[i] != 0) {
          EXPECT_EQ(dt[i * kDim + j], 0.25f) << i;  // excluded: no gradient
        } else {
          EXPECT_NEAR(dt[i * kDim + j] - 0.25, dtable[i * kDim + j], 1e-5) << i << " " << j;
        }
      }
    }
    // The loss alone: the same per-row values, nothing written.
    std::vector<float> untouched = dh;
    auto loss_only = head.Run(f.h.data(), f.table.data(), kDim, kItems, kRows, f.targets.data(),
                              f.valid.data(), f.excluded, nullptr, nullptr);
    ASSERT_TRUE(loss_only.ok());
    EXPECT_EQ(*loss_only, *got);
    EXPECT_EQ(dh, untouched);
  }
}

// The row kernel alone: the lanes' order is the only one, so a row's result
// does not depend on the other rows or on the call's row count.
TEST(FullSoftmaxRows, ARowsResultIsItsOwn) {
  const Fixture f = MakeFixture();
  std::unique_ptr<kernels::TensorOps> ops = kernels::NewHostTensorOps();
  std::vector<float> logits(kRows * kItems);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(0.37f * i) * 4.0f;
  std::vector<float> all = logits, loss_all(kRows);
  ASSERT_TRUE(ops->FullSoftmaxRows(f.targets.data(), f.valid.data(), f.excluded_flags.data(), kRows,
                                   kItems, all.data(), loss_all.data())
                  .ok());
  for (size_t r = 0; r < kRows; ++r) {
    std::vector<float> one(logits.begin() + r * kItems, logits.begin() + (r + 1) * kItems);
    float loss = -1;
    ASSERT_TRUE(ops->FullSoftmaxRows(f.targets.data() + r, f.valid.data() + r,
                                     f.excluded_flags.data(), 1, kItems, one.data(), &loss)
                    .ok());
    EXPECT_EQ(loss, loss_all[r]);
    EXPECT_TRUE(std::equal(one.begin(), one.end(), all.begin() + r * kItems)) << r;
    if (f.valid[r] == 0) continue;
    // A probability distribution minus the target: the row sums to 0.
    double sum = 0;
    for (float g : one) sum += g;
    EXPECT_NEAR(sum, 0.0, 1e-5) << r;
    EXPECT_LT(one[f.targets[r]], 0.0f);
    for (uint32_t e : f.excluded) EXPECT_EQ(one[e], 0.0f);
  }
}

}  // namespace
}  // namespace fedrec
