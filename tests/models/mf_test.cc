#include "models/mf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "tests/testing/model_checks.h"

namespace fedrec {
namespace {

using testing::Batch;

std::unique_ptr<MfBprModel> MakeBpr(float l2 = 0.0f) {
  auto m =
      MfBprModel::Create({.num_users = 5, .num_items = 30, .dim = 6, .l2 = l2, .init_std = 0.5f});
  EXPECT_TRUE(m.ok()) << m.status();
  (*m)->Initialize(3);
  // Non-zero biases so their gradients matter.
  RandomStream s({.seed = 1, .purpose = "bias"});
  for (float& b : (*m)->global_params().ViewAt(MfBprModel::kItemBias).Flat()) {
    b = static_cast<float>(s.NextNormal() * 0.3);
  }
  return std::move(*m);
}

std::unique_ptr<MfRatingModel> MakeRating(float l2 = 0.0f) {
  auto m = MfRatingModel::Create(
      {.num_users = 5, .num_items = 30, .dim = 6, .l2 = l2, .init_std = 0.5f, .global_mean = 3.2f});
  EXPECT_TRUE(m.ok()) << m.status();
  (*m)->Initialize(3);
  RandomStream s({.seed = 1, .purpose = "bias"});
  for (float& b : (*m)->global_params().ViewAt(MfRatingModel::kItemBias).Flat()) {
    b = static_cast<float>(s.NextNormal() * 0.3);
  }
  for (float& b : (*m)->local_params()->ViewAt(MfRatingModel::kUserBias).Flat()) {
    b = static_cast<float>(s.NextNormal() * 0.3);
  }
  return std::move(*m);
}

Batch TwoUsers() {
  Batch b;
  b.Add(1, {3, 7, 7, 12, 0}, {4, 5, 3, 1, 2});
  b.Add(4, {29, 5, 3}, {2.5f, 3, 4});
  return b;
}

TEST(MfBpr, CreateValidatesOptions) {
  EXPECT_FALSE(MfBprModel::Create({.num_users = 0, .num_items = 3}).ok());
  EXPECT_FALSE(MfBprModel::Create({.num_users = 2, .num_items = 3, .dim = 0}).ok());
  EXPECT_FALSE(MfBprModel::Create({.num_users = 2, .num_items = 3, .l2 = -1}).ok());
  auto m = MfBprModel::Create({.num_users = 2, .num_items = 3, .dim = 4});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->type(), "mf_bpr");
  const auto& g = (*m)->global_params().layout();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].name, "item_emb");
  EXPECT_EQ(g[1].name, "item_bias");
  EXPECT_EQ(g[1].cols, 1u);
  ASSERT_NE((*m)->local_params(), nullptr);
  EXPECT_EQ((*m)->local_params()->layout()[0].name, "user_emb");
  EXPECT_EQ((*m)->local_params()->layout()[0].rows, 2u);
}

TEST(MfBpr, GradientCheck) {
  auto m = MakeBpr();
  const Batch b = TwoUsers();
  testing::CheckGradients(*m, b.View(), {.seed = 5, .epoch = 1, .step = 2});
}

TEST(MfBpr, GradientCheckWithL2) {
  auto m = MakeBpr(0.1f);
  const Batch b = TwoUsers();
  testing::CheckGradients(*m, b.View(), {.seed = 5, .epoch = 1, .step = 2});
}

TEST(MfBpr, DeterministicPerStepKey) {
  auto m = MakeBpr();
  const Batch b = TwoUsers();
  testing::CheckDeterminism(*m, b.View(), {.seed = 5, .epoch = 1, .step = 2}, true);
}

TEST(MfBpr, OnlyBatchRowsAndNegativesAreTouched) {
  auto m = MakeBpr();
  const Batch b = TwoUsers();
  auto ws = m->NewWorkspace();
  Gradients g = m->NewGlobalGradients(), l = m->NewLocalGradients();
  const LossSum loss = m->ForwardBackward(b.View(), {.seed = 5}, ws.get(), &g, &l);
  EXPECT_EQ(loss.examples, 8u);
  EXPECT_EQ(l.TouchedRows(MfBprModel::kUserEmb), (std::vector<uint32_t>{1, 4}));
  // Each interaction touches its item and one negative: at most 2 rows per
  // interaction, and every positive is present.
  const auto& rows = g.TouchedRows(MfBprModel::kItemEmb);
  EXPECT_LE(rows.size(), 6u + 8u);
  std::set<uint32_t> touched(rows.begin(), rows.end());
  for (uint32_t i : {3u, 7u, 12u, 0u, 29u, 5u}) EXPECT_TRUE(touched.contains(i));
  EXPECT_EQ(g.TouchedRows(MfBprModel::kItemBias), rows);
  // Local gradient rows of users outside the batch are exactly zero.
  const auto lu = l.values().ViewAt(MfBprModel::kUserEmb);
  for (uint32_t u : {0u, 2u, 3u}) {
    for (float x : lu.Row(u)) EXPECT_EQ(x, 0.0f);
  }
}

TEST(MfBpr, NegativesAvoidTheUsersItems) {
  // 4 items, the user has 3 of them: the only negative is item 2, and the
  // gradient of item 2 is the sum of the negative terms.
  auto m = MfBprModel::Create({.num_users = 1, .num_items = 4, .dim = 2});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(1);
  Batch b;
  b.Add(0, {0, 1, 3});
  auto ws = (*m)->NewWorkspace();
  Gradients g = (*m)->NewGlobalGradients(), l = (*m)->NewLocalGradients();
  for (uint32_t step = 0; step < 5; ++step) {
    (*m)->ForwardBackward(b.View(), {.seed = 1, .step = step}, ws.get(), &g, &l);
  }
  std::set<uint32_t> rows(g.TouchedRows(0).begin(), g.TouchedRows(0).end());
  EXPECT_EQ(rows, (std::set<uint32_t>{0, 1, 2, 3}));
  EXPECT_GT(g.values().ViewAt(MfBprModel::kItemBias).data[2], 0.0f);  // pushed down
  // A user who touched every item has no negative and contributes nothing.
  Batch full;
  full.Add(0, {0, 1, 2, 3});
  g.Clear();
  l.Clear();
  const LossSum s = (*m)->ForwardBackward(full.View(), {.seed = 1}, ws.get(), &g, &l);
  EXPECT_EQ(s.examples, 0u);
  EXPECT_EQ(g.SquaredNorm(), 0.0);
}

TEST(MfBpr, ScoringAndUnknownUser) {
  auto m = MakeBpr();
  testing::CheckScoring(*m, {0, 3, 4, Scorer::kUnknownUser}, {{}, {1, 2}, {5}, {7, 8}});
  std::vector<float> scores(30);
  m->ScoreAll(Scorer::kUnknownUser, std::vector<uint32_t>{1, 2}, scores);
  const auto bias = m->global_params().ViewAt(MfBprModel::kItemBias);
  for (uint32_t i = 0; i < 30; ++i) EXPECT_EQ(scores[i], bias.data[i]);
  // A known user's score is u . e_i + b_i and ignores the history.
  std::vector<float> a(30), c(30);
  m->ScoreAll(2, std::vector<uint32_t>{}, a);
  m->ScoreAll(2, std::vector<uint32_t>{4, 5, 6}, c);
  EXPECT_EQ(a, c);
  const auto u = m->local_params()->ViewAt(MfBprModel::kUserEmb);
  const auto e = m->global_params().ViewAt(MfBprModel::kItemEmb);
  double dot = 0;
  for (size_t k = 0; k < 6; ++k) dot += u(2, k) * e(9, k);
  EXPECT_NEAR(a[9], dot + bias.data[9], 1e-5);
}

TEST(MfBpr, InitializeIsDeterministic) {
  auto a = MakeBpr(), b = MakeBpr();
  EXPECT_TRUE(a->global_params() == b->global_params());
  EXPECT_TRUE(*a->local_params() == *b->local_params());
  b->Initialize(4);
  EXPECT_FALSE(a->global_params() == b->global_params());
}

TEST(MfRating, CreateValidatesOptionsAndLayout) {
  EXPECT_FALSE(MfRatingModel::Create({.num_users = 1, .num_items = 0}).ok());
  EXPECT_FALSE(MfRatingModel::Create({.num_users = 1, .num_items = 2, .global_mean = NAN}).ok());
  auto m = MfRatingModel::Create({.num_users = 3, .num_items = 4, .dim = 2, .global_mean = 3.5f});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->type(), "mf_rating");
  const auto& g = (*m)->global_params().layout();
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].name, "item_emb");
  EXPECT_EQ(g[1].name, "item_bias");
  EXPECT_EQ(g[2].name, "global_mean");
  const auto& l = (*m)->local_params()->layout();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].name, "user_emb");
  EXPECT_EQ(l[1].name, "user_bias");
  (*m)->Initialize(0);
  EXPECT_EQ((*m)->PredictRating(Scorer::kUnknownUser, 1), 3.5f);
}

TEST(MfRating, GradientCheck) {
  auto m = MakeRating();
  const Batch b = TwoUsers();
  testing::CheckGradients(*m, b.View(), {.seed = 5}, {.step = 2e-3f, .abs_tol = 5e-3});
}

TEST(MfRating, GradientCheckWithL2) {
  auto m = MakeRating(0.2f);
  const Batch b = TwoUsers();
  testing::CheckGradients(*m, b.View(), {.seed = 5}, {.step = 2e-3f, .abs_tol = 5e-3});
}

TEST(MfRating, LossIsSumOfSquaredErrors) {
  auto m = MfRatingModel::Create(
      {.num_users = 2, .num_items = 3, .dim = 1, .init_std = 0, .global_mean = 3});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(0);
  (*m)->global_params().ViewAt(MfRatingModel::kItemEmb).Flat()[1] = 2;
  (*m)->local_params()->ViewAt(MfRatingModel::kUserEmb).Flat()[1] = 0.5f;
  (*m)->local_params()->ViewAt(MfRatingModel::kUserBias).Flat()[1] = -1;
  // prediction(1, 1) = 3 - 1 + 0 + 0.5 * 2 = 3; prediction(1, 0) = 2.
  EXPECT_FLOAT_EQ((*m)->PredictRating(1, 1), 3.0f);
  Batch b;
  b.Add(1, {1, 0}, {5, 1});
  auto ws = (*m)->NewWorkspace();
  Gradients g = (*m)->NewGlobalGradients(), l = (*m)->NewLocalGradients();
  const LossSum s = (*m)->ForwardBackward(b.View(), {}, ws.get(), &g, &l);
  EXPECT_DOUBLE_EQ(s.loss, 4.0 + 1.0);
  EXPECT_EQ(s.examples, 2u);
  EXPECT_FLOAT_EQ(g.values().ViewAt(MfRatingModel::kGlobalMean).data[0], 2 * (-2) + 2 * 1);
  EXPECT_EQ(l.TouchedRows(MfRatingModel::kUserEmb), (std::vector<uint32_t>{1}));
  EXPECT_EQ(g.TouchedRows(MfRatingModel::kItemEmb), (std::vector<uint32_t>{1, 0}));
}

TEST(MfRating, DeterministicAndSparse) {
  auto m = MakeRating(0.1f);
  const Batch b = TwoUsers();
  testing::CheckDeterminism(*m, b.View(), {.seed = 5}, false);
  auto ws = m->NewWorkspace();
  Gradients g = m->NewGlobalGradients(), l = m->NewLocalGradients();
  m->ForwardBackward(b.View(), {}, ws.get(), &g, &l);
  std::set<uint32_t> rows(g.TouchedRows(0).begin(), g.TouchedRows(0).end());
  EXPECT_EQ(rows, (std::set<uint32_t>{3, 7, 12, 0, 29, 5}));
  EXPECT_EQ(l.TouchedRows(MfRatingModel::kUserBias), (std::vector<uint32_t>{1, 4}));
}

TEST(MfRating, ScoringIsPredictedRatings) {
  auto m = MakeRating();
  testing::CheckScoring(*m, {0, 2, 4, Scorer::kUnknownUser}, {{}, {1}, {5, 6}, {}});
  std::vector<float> scores(30);
  m->ScoreAll(3, std::vector<uint32_t>{}, scores);
  for (uint32_t i = 0; i < 30; ++i) EXPECT_NEAR(scores[i], m->PredictRating(3, i), 1e-5);
  m->ScoreAll(Scorer::kUnknownUser, std::vector<uint32_t>{}, scores);
  const auto bias = m->global_params().ViewAt(MfRatingModel::kItemBias);
  for (uint32_t i = 0; i < 30; ++i) EXPECT_FLOAT_EQ(scores[i], 3.2f + bias.data[i]);
}

// 3 users: user 0 has 4 interactions, user 1 has 2 (train only), user 2 has 3.
Dataset RatingData() {
  Dataset d;
  d.user_ids = {10, 11, 12};
  d.item_ids = {0, 1, 2, 3};
  d.offsets = {0, 4, 6, 9};
  d.items = {0, 1, 2, 3, /**/ 1, 2, /**/ 3, 0, 1};
  d.ratings = {4, 3, 5, 2, /**/ 1, 1, /**/ 3, 4, 1};
  d.timestamps.assign(9, 0);
  return d;
}

TEST(EvaluateRatings, HandBuiltCase) {
  const Dataset data = RatingData();
  const LeaveOneOutSplit split(data);
  // A model that predicts exactly 3 for everything: global_mean 3, rest 0.
  auto m = MfRatingModel::Create(
      {.num_users = 3, .num_items = 4, .dim = 2, .init_std = 0, .global_mean = 3});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(0);
  // Validation targets: user 0 -> item 2 rated 5, user 2 -> item 0 rated 4.
  auto valid = EvaluateRatings(**m, split, SplitPart::kValidation, 1);
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ(valid->count, 2u);
  EXPECT_DOUBLE_EQ(valid->mae, (2.0 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(valid->rmse, std::sqrt((4.0 + 1.0) / 2));
  // Test targets: user 0 -> item 3 rated 2, user 2 -> item 1 rated 1; add an
  // item bias of +1 on item 1: predictions 3 and 4.
  (*m)->global_params().ViewAt(MfRatingModel::kItemBias).data[1] = 1;
  auto test = EvaluateRatings(**m, split, SplitPart::kTest, 3);
  ASSERT_TRUE(test.ok());
  EXPECT_EQ(test->count, 2u);
  EXPECT_DOUBLE_EQ(test->mae, (1.0 + 3.0) / 2);
  EXPECT_DOUBLE_EQ(test->rmse, std::sqrt((1.0 + 9.0) / 2));
  EXPECT_NEAR(TrainingMeanRating(split), (4.0 + 3 + 1 + 1 + 3) / 5, 1e-6);
}

TEST(EvaluateRatings, ThreadCountIndependentAndRefusesMismatch) {
  Dataset data;
  const uint32_t users = 700, items = 50;
  RandomStream s({.seed = 4, .purpose = "data"});
  data.item_ids.resize(items);
  data.offsets.push_back(0);
  for (uint32_t u = 0; u < users; ++u) {
    data.user_ids.push_back(u);
    const uint32_t len = 1 + s.NextBelow(6);
    for (uint32_t k = 0; k < len; ++k) {
      data.items.push_back(s.NextBelow(items));
      data.ratings.push_back(static_cast<float>(1 + s.NextBelow(5)));
      data.timestamps.push_back(k);
    }
    data.offsets.push_back(data.items.size());
  }
  const LeaveOneOutSplit split(data);
  auto m = MfRatingModel::Create(
      {.num_users = users, .num_items = items, .dim = 4, .init_std = 0.7f, .global_mean = 3});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(9);
  auto one = EvaluateRatings(**m, split, SplitPart::kTest, 1);
  auto many = EvaluateRatings(**m, split, SplitPart::kTest, 4);
  ASSERT_TRUE(one.ok() && many.ok());
  EXPECT_EQ(one->rmse, many->rmse);
  EXPECT_EQ(one->mae, many->mae);
  EXPECT_EQ(one->count, many->count);
  auto wrong = MfRatingModel::Create({.num_users = users + 1, .num_items = items});
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(EvaluateRatings(**wrong, split, SplitPart::kTest).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedrec
