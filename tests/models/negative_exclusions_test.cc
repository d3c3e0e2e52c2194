// Model::SetNegativeExclusions: an excluded item (a cold item of
// eval.cold_items) is never a training negative and takes no share of a full
// softmax, so a batch that does not hold it leaves its embedding row's
// gradient exactly zero, for every model and loss that draws negatives.
// Without the exclusions the same batch does reach those rows (the test
// bites), and an empty set changes nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/gru4rec.h"
#include "models/mf.h"
#include "models/sasrec.h"
#include "tests/testing/model_checks.h"

namespace fedrec {
namespace {

using testing::Batch;

constexpr uint32_t kItems = 24;

// Items 12..23 are excluded; the batch only holds items below 12.
std::vector<uint8_t> Flags() {
  std::vector<uint8_t> f(kItems, 0);
  for (uint32_t i = 12; i < kItems; ++i) f[i] = 1;
  return f;
}

Batch Users() {
  Batch b;
  b.Add(0, {1, 4, 4, 9, 2, 11, 3, 8});
  b.Add(1, {5, 6, 0, 7});
  b.Add(2, {10, 2, 1, 3, 9});
  return b;
}

// The item_emb gradient of one batch (several steps, so that every
// excluded row would be drawn at least once without the exclusions).
std::vector<float> ItemGradient(Model& model, const std::vector<uint8_t>& excluded) {
  EXPECT_TRUE(model.SetNegativeExclusions(excluded).ok());
  Gradients global = model.NewGlobalGradients();
  Gradients local = model.NewLocalGradients();
  auto ws = model.NewWorkspace();
  const Batch batch = Users();
  for (uint32_t step = 0; step < 8; ++step) {
    model.ForwardBackward(batch.View(), {.seed = 3, .epoch = 1, .step = step}, ws.get(), &global,
                          model.local_params() != nullptr ? &local : nullptr);
  }
  const TensorView g = global.View(0);
  return {g.data, g.data + g.size()};
}

struct Case {
  std::string name;
  std::function<std::unique_ptr<Model>()> make;
};

std::vector<Case> Cases() {
  auto sasrec = [](SasRecLoss loss, uint32_t negatives, NegativeSampler sampler) {
    return [=] {
      SasRecOptions o;
      o.num_items = kItems;
      o.dim = 8;
      o.blocks = 1;
      o.max_len = 6;
      o.dropout = 0;
      o.loss = loss;
      o.ce_negatives = negatives;
      o.sampler = sampler;
      auto m = SasRecModel::Create(o);
      EXPECT_TRUE(m.ok()) << m.status();
      (*m)->Initialize(5);
      return std::unique_ptr<Model>(std::move(*m));
    };
  };
  auto gru = [](SeqLoss loss, uint32_t negatives) {
    return [=] {
      auto m = Gru4RecModel::Create({.num_items = kItems,
                                     .dim = 6,
                                     .max_len = 6,
                                     .loss = loss,
                                     .negatives = negatives,
                                     .init_std = 0.5f});
      EXPECT_TRUE(m.ok()) << m.status();
      (*m)->Initialize(5);
      return std::unique_ptr<Model>(std::move(*m));
    };
  };
  return {
      {"sasrec_bce", sasrec(SasRecLoss::kBce, 0, NegativeSampler::kUniform)},
      {"sasrec_sampled_ce", sasrec(SasRecLoss::kCe, 4, NegativeSampler::kUniform)},
      {"sasrec_popularity_ce", sasrec(SasRecLoss::kCe, 4, NegativeSampler::kPopularity)},
      {"sasrec_gbce", sasrec(SasRecLoss::kGbce, 4, NegativeSampler::kUniform)},
      {"sasrec_full_ce", sasrec(SasRecLoss::kCe, 0, NegativeSampler::kUniform)},
      {"gru4rec_bpr", gru(SeqLoss::kBpr, 3)},
      {"gru4rec_sampled_ce", gru(SeqLoss::kCe, 3)},
      {"gru4rec_full_ce", gru(SeqLoss::kCe, 0)},
      {"mf_bpr",
       [] {
         auto m = MfBprModel::Create({.num_users = 3, .num_items = kItems, .dim = 6});
         EXPECT_TRUE(m.ok()) << m.status();
         (*m)->Initialize(5);
         return std::unique_ptr<Model>(std::move(*m));
       }},
  };
}

TEST(NegativeExclusions, ExcludedRowsGetNoGradientInEveryLoss) {
  const std::vector<uint8_t> flags = Flags();
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<Model> model = c.make();
    const size_t d = model->global_params().layout()[0].cols;
    const std::vector<float> plain = ItemGradient(*model, {});
    const std::vector<float> excluded = ItemGradient(*model, flags);
    bool reached = false;
    for (uint32_t item = 12; item < kItems; ++item) {
      for (size_t k = 0; k < d; ++k) {
        reached |= plain[item * d + k] != 0.0f;
        ASSERT_EQ(excluded[item * d + k], 0.0f) << "item " << item;
      }
    }
    EXPECT_TRUE(reached) << "without exclusions the excluded items are drawn";
    // The batch's own items still learn.
    float warm = 0;
    for (size_t k = 0; k < 12 * d; ++k) warm += std::abs(excluded[k]);
    EXPECT_GT(warm, 0.0f);
    // An all-zero flag vector is no exclusion: bitwise the plain gradient.
    EXPECT_EQ(ItemGradient(*model, std::vector<uint8_t>(kItems, 0)), plain);
  }
}

TEST(NegativeExclusions, WrongSizeIsRefused) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<Model> model = c.make();
    const absl::Status s = model->SetNegativeExclusions(std::vector<uint8_t>(kItems - 1, 0));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(s.message()).find("23 flags for 24 items"), std::string::npos)
        << s.message();
  }
}

}  // namespace
}  // namespace fedrec
