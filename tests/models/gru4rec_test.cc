#include "models/gru4rec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <thread>

#include "core/random.h"
#include "tests/testing/model_checks.h"

namespace fedrec {
namespace {

using testing::Batch;

std::unique_ptr<Gru4RecModel> Make(Gru4RecOptions o) {
  auto m = Gru4RecModel::Create(o);
  EXPECT_TRUE(m.ok()) << m.status();
  (*m)->Initialize(11);
  return std::move(*m);
}

Gru4RecOptions Small() {
  return {.num_items = 25, .dim = 5, .layers = 1, .max_len = 6, .init_std = 0.5f};
}

Batch Users() {
  Batch b;
  b.Add(0, {1, 4, 4, 9, 2, 17, 3, 8, 11});  // longer than max_len + 1: truncated
  b.Add(3, {20, 5, 6});
  b.Add(7, {13});  // no position to predict
  return b;
}

TEST(Gru4Rec, CreateValidatesOptionsAndLayout) {
  EXPECT_FALSE(Gru4RecModel::Create({.num_items = 0}).ok());
  EXPECT_FALSE(Gru4RecModel::Create({.num_items = 5, .layers = 0}).ok());
  EXPECT_FALSE(Gru4RecModel::Create({.num_items = 5, .dropout = 1.0f}).ok());
  EXPECT_FALSE(Gru4RecModel::Create({.num_items = 5, .loss = SeqLoss::kBpr, .negatives = 0}).ok());
  EXPECT_TRUE(Gru4RecModel::Create({.num_items = 5, .loss = SeqLoss::kCe, .negatives = 0}).ok());
  auto m = Gru4RecModel::Create({.num_items = 5, .dim = 3, .layers = 2});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->type(), "gru4rec");
  EXPECT_EQ((*m)->local_params(), nullptr);
  std::vector<std::string> names;
  for (const auto& t : (*m)->global_params().layout()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"item_emb", "gru0.w_ih", "gru0.w_hh", "gru0.b_ih",
                                             "gru0.b_hh", "gru1.w_ih", "gru1.w_hh", "gru1.b_ih",
                                             "gru1.b_hh"}));
  const auto& w = (*m)->global_params().layout()[Gru4RecModel::GruTensor(1, 1)];
  EXPECT_EQ(w.rows, 9u);
  EXPECT_EQ(w.cols, 3u);
  EXPECT_EQ(ParseSeqLoss("ce").value(), SeqLoss::kCe);
  EXPECT_EQ(ParseSeqLoss("gbce").value(), SeqLoss::kGbce);
  EXPECT_FALSE(ParseSeqLoss("bce").ok());
}

TEST(Gru4Rec, CreateRefusesHeadOptionsWhereTheyDoNotApply) {
  auto refused = [](Gru4RecOptions o) { return !Gru4RecModel::Create(o).ok(); };
  EXPECT_TRUE(refused({.num_items = 5, .loss = SeqLoss::kGbce, .negatives = 0}));
  EXPECT_TRUE(refused({.num_items = 5, .loss = SeqLoss::kBpr, .normalize = true}));
  EXPECT_TRUE(refused({.num_items = 5, .loss = SeqLoss::kBpr, .temperature = 0.5}));
  EXPECT_TRUE(
      refused({.num_items = 5, .loss = SeqLoss::kBpr, .sampler = NegativeSampler::kPopularity}));
  EXPECT_TRUE(refused({.num_items = 5,
                       .loss = SeqLoss::kCe,
                       .negatives = 0,
                       .sampler = NegativeSampler::kPopularity}));
  EXPECT_TRUE(refused({.num_items = 5, .loss = SeqLoss::kCe, .temperature = 0}));
  EXPECT_TRUE(refused({.num_items = 5, .loss = SeqLoss::kGbce, .gbce_t = 1.5}));
  EXPECT_FALSE(refused({.num_items = 5,
                        .loss = SeqLoss::kGbce,
                        .negatives = 3,
                        .sampler = NegativeSampler::kPopularity,
                        .normalize = true,
                        .temperature = 0.05}));
}

struct Variant {
  const char* name;
  SeqLoss loss;
  uint32_t negatives;
  uint32_t layers;
  float dropout;
  bool normalize = false;
  double temperature = 1.0;
  bool popularity = false;
  bool per_position = false;
  bool separate_output = false;
};

Gru4RecOptions OptionsOf(const Variant& v) {
  Gru4RecOptions o = Small();
  o.loss = v.loss;
  o.negatives = v.negatives;
  o.layers = v.layers;
  o.dropout = v.dropout;
  o.normalize = v.normalize;
  o.temperature = v.temperature;
  if (v.popularity) o.sampler = NegativeSampler::kPopularity;
  o.negatives_per_position = v.per_position;
  o.separate_output = v.separate_output;
  return o;
}

// A model of the variant; popularity variants get skewed item counts.
std::unique_ptr<Gru4RecModel> MakeVariant(const Variant& v) {
  auto m = Make(OptionsOf(v));
  if (v.popularity) {
    std::vector<uint64_t> counts(25);
    for (uint32_t i = 0; i < 25; ++i) counts[i] = 1 + (i * 7) % 11;
    EXPECT_TRUE(m->SetItemPopularity(counts).ok());
  }
  return m;
}

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class Gru4RecVariants : public ::testing::TestWithParam<Variant> {};

TEST_P(Gru4RecVariants, GradientCheck) {
  auto m = MakeVariant(GetParam());
  const Batch b = Users();
  testing::CheckGradients(
      *m, b.View(), {.seed = 3, .epoch = 2, .step = 1},
      {.step = 4e-3f, .abs_tol = 2e-3, .rel_tol = 3e-2, .entries_per_tensor = 10});
}

TEST_P(Gru4RecVariants, DeterministicAndScoring) {
  const Variant v = GetParam();
  auto m = MakeVariant(v);
  const Batch b = Users();
  const bool random = v.negatives > 0 || v.dropout > 0;
  testing::CheckDeterminism(*m, b.View(), {.seed = 3, .epoch = 2, .step = 1}, random);
  testing::CheckScoring(*m, {0, 1, 5}, {{1, 2, 3}, {}, {24, 0, 0, 7, 9, 10, 11, 12}});
}

INSTANTIATE_TEST_SUITE_P(
    All, Gru4RecVariants,
    ::testing::Values(
        Variant{"bpr1", SeqLoss::kBpr, 1, 1, 0.0f},
        Variant{"bpr3_dropout", SeqLoss::kBpr, 3, 1, 0.3f},
        Variant{"ce_sampled", SeqLoss::kCe, 4, 1, 0.0f},
        Variant{"ce_full", SeqLoss::kCe, 0, 1, 0.0f},
        Variant{"ce_two_layers_dropout", SeqLoss::kCe, 2, 2, 0.25f},
        Variant{"ce_full_two_layers_dropout", SeqLoss::kCe, 0, 2, 0.2f},
        Variant{"gbce", SeqLoss::kGbce, 4, 1, 0.0f},
        Variant{"gbce_two_layers_dropout", SeqLoss::kGbce, 3, 2, 0.25f},
        Variant{"ce_sampled_cosine", SeqLoss::kCe, 4, 1, 0.0f, true, 0.5},
        Variant{"ce_full_cosine", SeqLoss::kCe, 0, 1, 0.0f, true, 0.5},
        Variant{"ce_sampled_temperature", SeqLoss::kCe, 4, 1, 0.0f, false, 2.0},
        Variant{"gbce_cosine", SeqLoss::kGbce, 4, 1, 0.0f, true, 0.5},
        Variant{"ce_sampled_popularity", SeqLoss::kCe, 4, 1, 0.0f, false, 1.0, true},
        Variant{"gbce_popularity_cosine", SeqLoss::kGbce, 4, 1, 0.0f, true, 0.5, true},
        Variant{"gbce_per_position_dropout", SeqLoss::kGbce, 3, 1, 0.2f, false, 1.0, false, true},
        Variant{"ce_sampled_per_position_popularity_cosine", SeqLoss::kCe, 3, 2, 0.0f, true, 0.5,
                true, true},
        Variant{"bpr_separate_output", SeqLoss::kBpr, 2, 1, 0.2f, false, 1.0, false, false, true},
        Variant{"gbce_separate_output", SeqLoss::kGbce, 4, 2, 0.0f, false, 1.0, false, false, true},
        Variant{"ce_full_separate_output_cosine", SeqLoss::kCe, 0, 1, 0.0f, true, 0.5, false, false,
                true}),
    [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

TEST(Gru4Rec, OnlyInputTargetAndNegativeRowsAreTouched) {
  Gru4RecOptions o = Small();
  o.negatives = 2;
  auto m = Make(o);
  Batch b;
  b.Add(2, {3, 5, 7, 9});
  auto ws = m->NewWorkspace();
  Gradients g = m->NewGlobalGradients();
  const LossSum s = m->ForwardBackward(b.View(), {.seed = 1}, ws.get(), &g, nullptr);
  EXPECT_EQ(s.examples, 3u);
  const auto& rows = g.TouchedRows(Gru4RecModel::kItemEmb);
  std::set<uint32_t> touched(rows.begin(), rows.end());
  for (uint32_t i : {3u, 5u, 7u, 9u}) EXPECT_TRUE(touched.contains(i));
  // 4 sequence items + at most 3 positions x 2 negatives, never another
  // sequence item as a negative.
  EXPECT_LE(touched.size(), 4u + 6u);
  EXPECT_GT(touched.size(), 4u);
  const auto emb = g.values().ViewAt(Gru4RecModel::kItemEmb);
  for (uint32_t i = 0; i < o.num_items; ++i) {
    if (touched.contains(i)) continue;
    for (float x : emb.Row(i)) EXPECT_EQ(x, 0.0f);
  }
  // Full softmax touches every row.
  o.negatives = 0;
  o.loss = SeqLoss::kCe;
  auto full = Make(o);
  auto ws2 = full->NewWorkspace();
  Gradients g2 = full->NewGlobalGradients();
  full->ForwardBackward(b.View(), {.seed = 1}, ws2.get(), &g2, nullptr);
  EXPECT_EQ(g2.TouchedRows(Gru4RecModel::kItemEmb).size(), o.num_items);
}

// The softmax-type losses draw ONE set of negatives per sequence: the rows
// touched are the sequence's items and at most `negatives` others, whatever
// the number of positions (per-position draws would touch up to 5 x 3).
TEST(Gru4Rec, SoftmaxLossesShareTheirNegatives) {
  for (SeqLoss loss : {SeqLoss::kCe, SeqLoss::kGbce}) {
    Gru4RecOptions o = Small();
    o.loss = loss;
    o.negatives = 3;
    auto m = Make(o);
    Batch b;
    b.Add(2, {3, 5, 7, 9, 11, 13});  // 5 positions
    auto ws = m->NewWorkspace();
    Gradients g = m->NewGlobalGradients();
    const LossSum s = m->ForwardBackward(b.View(), {.seed = 1}, ws.get(), &g, nullptr);
    EXPECT_EQ(s.examples, 5u);
    const auto& rows = g.TouchedRows(Gru4RecModel::kItemEmb);
    const std::set<uint32_t> touched(rows.begin(), rows.end());
    // Drawn with replacement: up to 3 distinct negatives, at least one.
    EXPECT_LE(touched.size(), 6u + 3u) << SeqLossName(loss);
    EXPECT_GT(touched.size(), 6u) << SeqLossName(loss);
    // Per position: up to 5 x 3 distinct negatives, in practice more than 3.
    o.negatives_per_position = true;
    auto per_position = Make(o);
    Gradients g2 = per_position->NewGlobalGradients();
    auto ws2 = per_position->NewWorkspace();
    per_position->ForwardBackward(b.View(), {.seed = 1}, ws2.get(), &g2, nullptr);
    const auto& rows2 = g2.TouchedRows(Gru4RecModel::kItemEmb);
    const std::set<uint32_t> touched2(rows2.begin(), rows2.end());
    EXPECT_LE(touched2.size(), 6u + 15u) << SeqLossName(loss);
    EXPECT_GT(touched2.size(), 6u + 3u) << SeqLossName(loss);
  }
}

// With a separate output embedding, inputs touch item_emb only and the
// scored items (targets, negatives) out_emb only; scores follow out_emb.
TEST(Gru4Rec, SeparateOutputEmbedding) {
  Gru4RecOptions o = Small();
  o.loss = SeqLoss::kCe;
  o.negatives = 3;
  o.separate_output = true;
  auto m = Make(o);
  const size_t out = m->OutputTensor();
  ASSERT_EQ(m->global_params().layout()[out].name, "out_emb");
  EXPECT_TRUE(m->NewGlobalGradients().IsSparse(out));
  Batch b;
  b.Add(2, {3, 5, 7, 9});
  auto ws = m->NewWorkspace();
  Gradients g = m->NewGlobalGradients();
  m->ForwardBackward(b.View(), {.seed = 1}, ws.get(), &g, nullptr);
  const auto& in_rows = g.TouchedRows(Gru4RecModel::kItemEmb);
  EXPECT_EQ(std::set<uint32_t>(in_rows.begin(), in_rows.end()), (std::set<uint32_t>{3, 5, 7}));
  const auto& out_rows = g.TouchedRows(out);
  const std::set<uint32_t> scored(out_rows.begin(), out_rows.end());
  for (uint32_t t : {5u, 7u, 9u}) EXPECT_TRUE(scored.contains(t));
  EXPECT_FALSE(scored.contains(3));  // an input only
  // Scores move with out_emb, not with item_emb's row of the scored item.
  std::vector<float> before(25), after(25);
  const std::vector<uint32_t> history{1, 2};
  m->ScoreAll(0, history, before);
  m->global_params().ViewAt(out).Row(20)[0] += 1.0f;
  m->global_params().ViewAt(Gru4RecModel::kItemEmb).Row(21)[0] += 1.0f;
  m->ScoreAll(0, history, after);
  EXPECT_NE(before[20], after[20]);
  EXPECT_EQ(before[21], after[21]);
  o.item_repr = {ItemRepr::kText, layers::AdapterKind::kLinear, 7, 0};
  EXPECT_FALSE(Gru4RecModel::Create(o, testing::RandomItemFeatures(25, 7)).ok());
}

// Cosine scoring: every score is cos(h, e_i) / tau, so in [-1/tau, 1/tau],
// and the order is the plain dot products' order divided by each row's norm.
TEST(Gru4Rec, CosineScoringMatchesTraining) {
  Gru4RecOptions o = Small();
  o.loss = SeqLoss::kCe;
  o.negatives = 4;
  o.normalize = true;
  o.temperature = 0.25;
  auto cosine = Make(o);
  o.normalize = false;
  o.temperature = 1.0;
  auto plain = Make(o);  // the same parameters (same seed and layout)
  const std::vector<uint32_t> history{4, 8, 15};
  std::vector<float> c(25), p(25);
  cosine->ScoreAll(0, history, c);
  plain->ScoreAll(0, history, p);
  const auto emb = plain->global_params().ViewAt(Gru4RecModel::kItemEmb);
  float h_norm = 0;  // recovered from one item: p / (c * tau * |e|)
  for (uint32_t i = 0; i < 25; ++i) {
    EXPECT_LE(std::abs(c[i]), 4.0f + 1e-4f);
    float e_norm = 0;
    for (float x : emb.Row(i)) e_norm += x * x;
    e_norm = std::sqrt(e_norm);
    const float implied = p[i] / (c[i] * 0.25f * e_norm);
    if (i == 0) h_norm = implied;
    EXPECT_NEAR(implied, h_norm, 1e-3f * h_norm) << i;
  }
}

TEST(Gru4Rec, TruncatesToMaxLen) {
  // Only the last max_len + 1 items matter for training, and the last
  // max_len of the history for scoring.
  auto m = Make(Small());
  Batch long_seq, short_seq;
  long_seq.Add(0, {21, 22, 23, 1, 4, 4, 9, 2, 17, 3});
  short_seq.Add(0, {1, 4, 4, 9, 2, 17, 3});
  auto ws = m->NewWorkspace();
  Gradients a = m->NewGlobalGradients(), b = m->NewGlobalGradients();
  // Negatives exclude the whole training sequence, so use full softmax to
  // compare like with like.
  Gru4RecOptions o = Small();
  o.loss = SeqLoss::kCe;
  o.negatives = 0;
  auto full = Make(o);
  auto fws = full->NewWorkspace();
  const LossSum la = full->ForwardBackward(long_seq.View(), {}, fws.get(), &a, nullptr);
  const LossSum lb = full->ForwardBackward(short_seq.View(), {}, fws.get(), &b, nullptr);
  EXPECT_EQ(la.examples, 6u);
  EXPECT_EQ(la.loss, lb.loss);
  EXPECT_TRUE(testing::BitwiseEqual(a, b));
  std::vector<float> s1(25), s2(25);
  m->ScoreAll(0, long_seq.items[0], s1);
  const std::vector<uint32_t> tail(long_seq.items[0].end() - 6, long_seq.items[0].end());
  m->ScoreAll(0, tail, s2);
  EXPECT_EQ(s1, s2);
}

TEST(Gru4Rec, Scoring) {
  Gru4RecOptions o = Small();
  o.layers = 2;
  auto m = Make(o);
  testing::CheckScoring(*m, {0, 1, Scorer::kUnknownUser, 5},
                        {{1, 2, 3}, {}, {24, 0, 0, 7, 9, 10, 11, 12}, {4}});
  std::vector<float> a(25), b(25);
  m->ScoreAll(0, std::vector<uint32_t>{1, 2, 3}, a);
  m->ScoreAll(Scorer::kUnknownUser, std::vector<uint32_t>{1, 2, 3}, b);
  EXPECT_EQ(a, b);  // the user id is not read
  m->ScoreAll(0, std::vector<uint32_t>{}, a);
  for (float x : a) EXPECT_EQ(x, 0.0f);
}

TEST(Gru4Rec, ScoringIgnoresTrainingDropout) {
  Gru4RecOptions o = Small();
  auto plain = Make(o);
  o.dropout = 0.5f;
  auto dropped = Make(o);
  std::vector<float> a(25), b(25);
  plain->ScoreAll(0, std::vector<uint32_t>{5, 6, 7}, a);
  dropped->ScoreAll(0, std::vector<uint32_t>{5, 6, 7}, b);
  EXPECT_EQ(a, b);
}

// ---- Items from content features (model.item_repr text / id+text) -------

std::shared_ptr<const ItemFeatures> Features(uint32_t n, uint32_t f) {
  return testing::RandomItemFeatures(n, f);
}

struct TextVariant {
  const char* name;
  ItemRepr repr;
  SeqLoss loss;
  uint32_t negatives;
  uint32_t layers;
  float dropout;
};

void PrintTo(const TextVariant& v, std::ostream* os) { *os << v.name; }

std::unique_ptr<Gru4RecModel> MakeText(const TextVariant& v, layers::AdapterKind adapter) {
  Gru4RecOptions o = Small();
  o.loss = v.loss;
  o.negatives = v.negatives;
  o.layers = v.layers;
  o.dropout = v.dropout;
  o.item_repr = {v.repr, adapter, 7, 6};
  auto m = Gru4RecModel::Create(o, Features(o.num_items, 7));
  EXPECT_TRUE(m.ok()) << m.status();
  (*m)->Initialize(11);
  return std::move(*m);
}

class Gru4RecTextVariants : public ::testing::TestWithParam<TextVariant> {};

// With the linear adapter: the float central differences (step 4e-3) would
// cross the mlp's ReLU kinks for some item now and then. The mlp adapter's
// backward is the same code (ItemRows, models/item_table.h) that
// item_repr_test checks in double with every SASRec loss; the GRU code
// paths do not depend on the adapter kind.
TEST_P(Gru4RecTextVariants, GradientCheck) {
  auto m = MakeText(GetParam(), layers::AdapterKind::kLinear);
  const Batch b = Users();
  testing::CheckGradients(
      *m, b.View(), {.seed = 3, .epoch = 2, .step = 1},
      {.step = 4e-3f, .abs_tol = 2e-3, .rel_tol = 3e-2, .entries_per_tensor = 10});
}

TEST_P(Gru4RecTextVariants, DeterministicAndScoring) {
  const TextVariant v = GetParam();
  for (layers::AdapterKind adapter : {layers::AdapterKind::kLinear, layers::AdapterKind::kMlp}) {
    auto m = MakeText(v, adapter);
    const Batch b = Users();
    testing::CheckDeterminism(*m, b.View(), {.seed = 3, .epoch = 2, .step = 1},
                              v.negatives > 0 || v.dropout > 0);
    testing::CheckScoring(*m, {0, 1, 5}, {{1, 2, 3}, {}, {24, 0, 0, 7, 9, 10, 11, 12}});
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, Gru4RecTextVariants,
    ::testing::Values(
        TextVariant{"text_bpr1", ItemRepr::kText, SeqLoss::kBpr, 1, 1, 0.0f},
        TextVariant{"text_bpr3_dropout", ItemRepr::kText, SeqLoss::kBpr, 3, 1, 0.3f},
        TextVariant{"text_ce_sampled", ItemRepr::kText, SeqLoss::kCe, 4, 1, 0.0f},
        TextVariant{"text_ce_full_two_layers_dropout", ItemRepr::kText, SeqLoss::kCe, 0, 2, 0.2f},
        TextVariant{"id_text_bpr1", ItemRepr::kIdText, SeqLoss::kBpr, 1, 1, 0.0f},
        TextVariant{"id_text_ce_sampled_two_layers_dropout", ItemRepr::kIdText, SeqLoss::kCe, 2, 2,
                    0.25f},
        TextVariant{"id_text_ce_full", ItemRepr::kIdText, SeqLoss::kCe, 0, 1, 0.0f},
        TextVariant{"text_gbce", ItemRepr::kText, SeqLoss::kGbce, 4, 1, 0.0f},
        TextVariant{"id_text_gbce_dropout", ItemRepr::kIdText, SeqLoss::kGbce, 3, 1, 0.2f}),
    [](const ::testing::TestParamInfo<TextVariant>& info) { return info.param.name; });

TEST(Gru4RecText, LayoutAndChecks) {
  auto text =
      MakeText({"", ItemRepr::kText, SeqLoss::kBpr, 1, 2, 0.0f}, layers::AdapterKind::kLinear);
  std::vector<std::string> names;
  for (const auto& t : text->global_params().layout()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"item_adapter.w", "item_adapter.b", "gru0.w_ih",
                                             "gru0.w_hh", "gru0.b_ih", "gru0.b_hh", "gru1.w_ih",
                                             "gru1.w_hh", "gru1.b_ih", "gru1.b_hh"}));
  EXPECT_EQ(text->GruTensorAt(1, 1), 7u);
  for (size_t k = 0; k < names.size(); ++k) EXPECT_FALSE(text->NewGlobalGradients().IsSparse(k));
  Gru4RecOptions o = Small();
  o.item_repr = {ItemRepr::kText, layers::AdapterKind::kLinear, 7, 0};
  EXPECT_EQ(Gru4RecModel::Create(o).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Gru4RecModel::Create(o, Features(24, 7)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Chunks on several threads, reduced in chunk order, give bitwise the
// one-thread gradients; the scores follow parameter changes.
TEST(Gru4RecText, ThreadCountInvariantAndFollowsParameters) {
  auto m = MakeText({"", ItemRepr::kIdText, SeqLoss::kCe, 3, 1, 0.2f}, layers::AdapterKind::kMlp);
  Batch b;
  RandomStream s({.seed = 8, .purpose = "test_sequences"});
  for (uint32_t u = 0; u < 16; ++u) {
    std::vector<uint32_t> q(2 + s.NextBelow(9));
    for (uint32_t& i : q) i = s.NextBelow(25);
    b.Add(u, q);
  }
  const auto batch = b.View();
  auto run = [&](bool threaded) {
    std::vector<Gradients> g;
    for (int c = 0; c < 4; ++c) g.push_back(m->NewGlobalGradients());
    auto work = [&](int c) {
      auto ws = m->NewWorkspace();
      m->ForwardBackward(std::span<const UserSequence>(batch).subspan(c * 4, 4), {1, 2, 3},
                         ws.get(), &g[c], nullptr);
    };
    if (threaded) {
      std::vector<std::thread> t;
      for (int c = 0; c < 4; ++c) t.emplace_back(work, c);
      for (auto& x : t) x.join();
    } else {
      for (int c = 0; c < 4; ++c) work(c);
    }
    for (int c = 1; c < 4; ++c) g[0].AddFrom(g[c]);
    const auto f = g[0].values().Flat();
    return std::vector<float>(f.begin(), f.end());
  };
  const std::vector<float> one = run(false), many = run(true);
  EXPECT_EQ(0, std::memcmp(one.data(), many.data(), one.size() * sizeof(float)));

  std::vector<float> before(25), after(25);
  m->ScoreAll(0, std::vector<uint32_t>{1, 2}, before);
  for (float& x : m->global_params().Flat()) x *= 1.5f;
  m->ScoreAll(0, std::vector<uint32_t>{1, 2}, after);
  EXPECT_NE(before, after);
}

}  // namespace
}  // namespace fedrec
