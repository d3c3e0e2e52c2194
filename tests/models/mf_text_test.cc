// MF-BPR with items from content features (model.item_repr text / id+text):
// layout, gradients against central differences, determinism, scoring,
// the features' checks, and an item no user touched is ranked by content.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "models/factory.h"
#include "models/mf.h"
#include "tests/testing/model_checks.h"

namespace fedrec {
namespace {

using testing::Batch;

constexpr uint32_t kItems = 30, kFeatureDim = 7;

std::shared_ptr<const ItemFeatures> Features(uint32_t n, uint32_t f) {
  return testing::RandomItemFeatures(n, f);
}

std::unique_ptr<MfBprModel> MakeText(ItemRepr repr, layers::AdapterKind adapter, float l2) {
  MfBprOptions o{.num_users = 5, .num_items = kItems, .dim = 6, .l2 = l2, .init_std = 0.5f};
  o.item_repr = {repr, adapter, kFeatureDim, 5};
  auto m = MfBprModel::Create(o, Features(kItems, kFeatureDim));
  EXPECT_TRUE(m.ok()) << m.status();
  (*m)->Initialize(3);
  if ((*m)->bias_tensor() != MfBprModel::kNoBias) {
    RandomStream s({.seed = 1, .purpose = "bias"});
    for (float& b : (*m)->global_params().ViewAt((*m)->bias_tensor()).Flat()) {
      b = static_cast<float>(s.NextNormal() * 0.3);
    }
  }
  return std::move(*m);
}

Batch Users() {
  Batch b;
  b.Add(1, {3, 7, 7, 12, 0});
  b.Add(4, {29, 5, 3});
  b.Add(2, {});
  return b;
}

std::vector<std::string> Names(const Model& m) {
  std::vector<std::string> names;
  for (const auto& t : m.global_params().layout()) names.push_back(t.name);
  return names;
}

TEST(MfBprText, LayoutHasNoPerItemParameterInText) {
  auto text = MakeText(ItemRepr::kText, layers::AdapterKind::kLinear, 0);
  EXPECT_EQ(Names(*text), (std::vector<std::string>{"item_adapter.w", "item_adapter.b"}));
  EXPECT_EQ(text->bias_tensor(), MfBprModel::kNoBias);
  EXPECT_FALSE(text->NewGlobalGradients().IsSparse(0));
  auto both = MakeText(ItemRepr::kIdText, layers::AdapterKind::kLinear, 0);
  EXPECT_EQ(Names(*both), (std::vector<std::string>{"item_emb", "item_adapter.w", "item_adapter.b",
                                                    "item_bias"}));
  EXPECT_EQ(both->bias_tensor(), 3u);
  const Gradients g = both->NewGlobalGradients();
  EXPECT_TRUE(g.IsSparse(0));
  EXPECT_FALSE(g.IsSparse(1));
  EXPECT_TRUE(g.IsSparse(3));
  // The user vectors stay local in every mode.
  EXPECT_EQ(text->local_params()->layout()[0].name, "user_emb");
}

TEST(MfBprText, CreateChecksTheFeatures) {
  MfBprOptions o{.num_users = 5, .num_items = kItems, .dim = 6};
  o.item_repr = {ItemRepr::kText, layers::AdapterKind::kLinear, kFeatureDim, 0};
  EXPECT_EQ(MfBprModel::Create(o).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(MfBprModel::Create(o, Features(kItems + 1, kFeatureDim)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MfBprModel::Create(o, Features(kItems, kFeatureDim + 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

struct Variant {
  const char* name;
  ItemRepr repr;
  float l2;
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class MfBprTextVariants : public ::testing::TestWithParam<Variant> {};

// With the linear adapter: float central differences would cross the mlp's
// ReLU kinks now and then; the mlp's backward is ItemRows' code, which
// item_repr_test checks in double.
TEST_P(MfBprTextVariants, GradientCheck) {
  auto m = MakeText(GetParam().repr, layers::AdapterKind::kLinear, GetParam().l2);
  const Batch b = Users();
  testing::CheckGradients(*m, b.View(), {.seed = 3, .epoch = 2, .step = 1},
                          {.step = 4e-3f, .abs_tol = 2e-3, .rel_tol = 3e-2});
}

TEST_P(MfBprTextVariants, DeterministicAndScoring) {
  for (layers::AdapterKind adapter : {layers::AdapterKind::kLinear, layers::AdapterKind::kMlp}) {
    auto m = MakeText(GetParam().repr, adapter, GetParam().l2);
    const Batch b = Users();
    testing::CheckDeterminism(*m, b.View(), {.seed = 3, .epoch = 2, .step = 1}, true);
    // User 99 has no row: the item terms alone (bias, or 0 in text).
    testing::CheckScoring(*m, {0, 4, 99}, {{1, 2}, {}, {3}});
  }
}

INSTANTIATE_TEST_SUITE_P(All, MfBprTextVariants,
                         ::testing::Values(Variant{"text", ItemRepr::kText, 0.0f},
                                           Variant{"text_l2", ItemRepr::kText, 0.05f},
                                           Variant{"id_text", ItemRepr::kIdText, 0.0f},
                                           Variant{"id_text_l2", ItemRepr::kIdText, 0.05f}),
                         [](const ::testing::TestParamInfo<Variant>& info) {
                           return info.param.name;
                         });

// The negatives a text model draws are the id model's draws: the same
// stream, the same order.
TEST(MfBprText, DrawsTheIdModelsNegatives) {
  auto id = MfBprModel::Create({.num_users = 5, .num_items = kItems, .dim = 6});
  ASSERT_TRUE(id.ok());
  (*id)->Initialize(3);
  auto text = MakeText(ItemRepr::kIdText, layers::AdapterKind::kLinear, 0);
  const Batch b = Users();
  auto touched = [&](Model& m) {
    Gradients g = m.NewGlobalGradients(), l = m.NewLocalGradients();
    auto ws = m.NewWorkspace();
    m.ForwardBackward(b.View(), {.seed = 3, .epoch = 2, .step = 1}, ws.get(), &g, &l);
    std::vector<uint32_t> rows = g.TouchedRows(0);
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  EXPECT_EQ(touched(**id), touched(*text));
}

// Users who like items with feature[0] > 0 (the even ones) and never saw
// item 0, whose feature[0] is the largest: a text model ranks it above every
// item of the other kind from its content alone.
TEST(MfBprText, RanksAnUntouchedItemByContent) {
  const uint32_t items = 40, users = 60, f = 4;
  auto feats = std::make_shared<ItemFeatures>();
  feats->num_items = items;
  feats->dim = f;
  feats->values.assign(size_t{items} * f, 0.0f);
  RandomStream s({.seed = 9, .purpose = "test_features"});
  for (uint32_t i = 0; i < items; ++i) {
    feats->values[size_t{i} * f] = i % 2 == 0 ? 1.0f : -1.0f;
    for (uint32_t k = 1; k < f; ++k) {
      feats->values[size_t{i} * f + k] = static_cast<float>(s.NextDouble() - 0.5);
    }
  }
  feats->values[0] = 2.0f;
  MfBprOptions o{.num_users = users, .num_items = items, .dim = 4, .init_std = 0.1f};
  o.item_repr = {ItemRepr::kText, layers::AdapterKind::kLinear, f, 0};
  auto m = MfBprModel::Create(o, feats);
  ASSERT_TRUE(m.ok()) << m.status();
  (*m)->Initialize(1);
  Batch b;
  for (uint32_t u = 0; u < users; ++u) {
    std::vector<uint32_t> liked;
    for (uint32_t k = 0; k < 6; ++k) liked.push_back(2 + 2 * ((u + 3 * k) % 19));  // even, not 0
    b.Add(u, liked);
  }
  auto ws = (*m)->NewWorkspace();
  Gradients g = (*m)->NewGlobalGradients(), l = (*m)->NewLocalGradients();
  for (uint32_t step = 0; step < 200; ++step) {
    g.Clear();
    l.Clear();
    (*m)->ForwardBackward(b.View(), {.seed = 4, .epoch = 0, .step = step}, ws.get(), &g, &l);
    for (int which = 0; which < 2; ++which) {
      ParameterStore& p = which == 0 ? (*m)->global_params() : *(*m)->local_params();
      const Gradients& gr = which == 0 ? g : l;
      for (size_t k = 0; k < p.num_tensors(); ++k) {
        auto v = p.ViewAt(k).Flat();
        const auto gv = gr.values().ViewAt(k).Flat();
        for (size_t e = 0; e < v.size(); ++e) v[e] -= 0.05f * gv[e];
      }
    }
  }
  // Every user ranks item 0 above every item of the disliked kind (odd).
  std::vector<float> scores(items);
  for (uint32_t u = 0; u < users; ++u) {
    (*m)->ScoreAll(u, {}, scores);
    for (uint32_t i = 1; i < items; i += 2) {
      ASSERT_GT(scores[0], scores[i]) << "user " << u << " item " << i;
    }
  }
}

TEST(MfBprText, SpecFromTheFactory) {
  proto::ModelSpec spec;
  spec.set_type("mf_bpr");
  spec.set_num_items(kItems);
  spec.set_num_users(5);
  spec.set_dim(6);
  (*spec.mutable_extra())["item_repr"] = "text";
  (*spec.mutable_extra())["adapter"] = "mlp";
  (*spec.mutable_extra())["adapter_hidden"] = "5";
  (*spec.mutable_extra())["feature_dim"] = std::to_string(kFeatureDim);
  auto m = CreateModel(spec, "cpu", Features(kItems, kFeatureDim));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(Names(**m), (std::vector<std::string>{"item_adapter.w1", "item_adapter.b1",
                                                  "item_adapter.ln.gamma", "item_adapter.ln.beta",
                                                  "item_adapter.w2", "item_adapter.b2"}));
  spec.set_type("mf_rating");
  EXPECT_EQ(CreateModel(spec, "cpu", Features(kItems, kFeatureDim)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedrec
