// Items represented through frozen content features (model.item_repr = text
// | id+text, models/item_repr.h): finite-difference gradient checks in double
// for the adapter and for SASRec with every loss, scoring paths that agree
// bitwise, the adapted-table cache, the factory's plumbing and checks, a
// checkpoint round trip, thread-count invariance, and a known-answer test:
// a text model ranks items never seen in training by their content.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/random.h"
#include "models/factory.h"
#include "models/item_table.h"
#include "models/layers/adapter.h"
#include "models/recommend.h"
#include "models/sasrec.h"
#include "models/sasrec_impl.h"
#include "models/score_kernel.h"
#include "tests/models/sasrec_double.h"
#include "tests/testing/model_checks.h"

namespace fedrec {
namespace {

using layers::AdapterKind;
using layers::AdapterShape;
using testing::CheckGradient;
using testing::DoubleCopy;
using testing::Random;
using testing::Vec;

// n x f features uniform in [-1, 1), keyed by `tag`.
std::shared_ptr<const ItemFeatures> RandomFeatures(uint32_t n, uint32_t f, uint32_t tag) {
  return testing::RandomItemFeatures(n, f, /*seed=*/31, tag);
}

uint32_t Bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// ---- Adapter layer -------------------------------------------------------

TEST(Adapter, GradientsMatchFiniteDifferences) {
  for (AdapterKind kind : {AdapterKind::kLinear, AdapterKind::kMlp}) {
    const AdapterShape s{kind, 5, 7, 4};
    const int m = 6;
    std::vector<Vec> p, g;
    const auto tensors = s.tensors();
    for (size_t k = 0; k < tensors.size(); ++k) {
      p.push_back(Random(size_t{tensors[k].rows} * tensors[k].cols, 40 + k));
      g.emplace_back(p.back().size(), 0.0);
    }
    Vec x = Random(m * s.in, 1), r = Random(m * s.out, 2), y(m * s.out);
    Vec xhat(m * s.hidden), rstd(m), act(m * s.hidden), s1(m * s.hidden), s2(m * s.hidden);
    auto cache = [&] {
      using MM = layers::MatrixMap<double>;
      return layers::AdapterCache<double>{MM(xhat.data(), m, s.hidden), rstd.data(),
                                          MM(act.data(), m, s.hidden), MM(s1.data(), m, s.hidden),
                                          MM(s2.data(), m, s.hidden)};
    };
    auto ptrs = [&] {
      std::vector<const double*> v;
      for (const Vec& t : p) v.push_back(t.data());
      return v;
    };
    auto f = [&] {
      layers::AdapterForward<double>(s, ptrs().data(),
                                     layers::ConstMatrixMap<double>(x.data(), m, s.in), cache(),
                                     layers::MatrixMap<double>(y.data(), m, s.out));
      return std::inner_product(y.begin(), y.end(), r.begin(), 0.0);
    };
    f();
    std::vector<double*> gp;
    for (Vec& t : g) gp.push_back(t.data());
    layers::AdapterBackward<double>(s, ptrs().data(),
                                    layers::ConstMatrixMap<double>(x.data(), m, s.in), cache(),
                                    layers::ConstMatrixMap<double>(r.data(), m, s.out), gp.data());
    for (size_t k = 0; k < p.size(); ++k) {
      CheckGradient(std::string(kind == AdapterKind::kMlp ? "mlp." : "linear.") + tensors[k].name,
                    p[k], g[k], f);
    }
  }
}

// ---- SASRec in double ----------------------------------------------------

struct ReprCase {
  ItemRepr repr;
  AdapterKind adapter;
  SasRecLoss loss;
  uint32_t negatives;  // ce / gbce; 0 with kCe = full softmax
  bool pre_ln = false;
  double l2 = 0;
};

std::string ReprCaseName(const ::testing::TestParamInfo<ReprCase>& info) {
  const ReprCase& c = info.param;
  std::string s = c.repr == ItemRepr::kText ? "Text" : "IdText";
  s += c.adapter == AdapterKind::kMlp ? "Mlp" : "Linear";
  s += c.loss == SasRecLoss::kBce    ? "Bce"
       : c.loss == SasRecLoss::kGbce ? "Gbce"
       : c.negatives > 0             ? "SampledCe"
                                     : "FullCe";
  if (c.pre_ln) s += "PreLn";
  if (c.l2 > 0) s += "L2";
  return s;
}

constexpr uint32_t kItems = 30, kFeatureDim = 5;

SasRecOptions ReprOptions(const ReprCase& c) {
  SasRecOptions o;
  o.num_items = kItems;
  o.dim = 6;
  o.blocks = 2;
  o.heads = 2;
  o.max_len = 7;
  o.dropout = 0.3;
  o.pre_ln = c.pre_ln;
  o.loss = c.loss;
  o.ce_negatives = c.negatives;
  o.l2_emb = c.l2;
  o.item_repr.repr = c.repr;
  o.item_repr.adapter = c.adapter;
  o.item_repr.feature_dim = kFeatureDim;
  o.item_repr.adapter_hidden = 4;
  return o;
}

class ReprGradients : public ::testing::TestWithParam<ReprCase> {};

TEST_P(ReprGradients, EveryTensorMatchesFiniteDifferences) {
  const SasRecOptions o = ReprOptions(GetParam());
  const auto features = RandomFeatures(kItems, kFeatureDim, 1);
  auto model = SasRecModel::Create(o, features);
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->Initialize(5);
  const ParameterStore& store = (*model)->global_params();
  const ItemLayout& layout = (*model)->item_layout();
  testing::DoubleParams copy = DoubleCopy(store, 0.3);
  // One sequence shorter than max_len (4 positions) and one longer (12 > 7),
  // sharing item 2.
  const std::vector<uint32_t> short_seq = {3, 17, 4, 29, 2};
  const std::vector<uint32_t> long_seq = {1, 2, 5, 7, 11, 13, 0, 19, 23, 2, 9, 27, 6};
  const std::vector<UserSequence> batch = {{4, short_seq, {}}, {9, long_seq, {}}};
  const StepKey key{11, 2, 3};
  sasrec_internal::SeqWorkspace<double> ws;
  auto loss = [&](double* const* g) {
    uint64_t examples = 0;
    const double l = sasrec_internal::FeatureBatchLoss<double>(
        o, layout, *features, copy.pp.data(), g, nullptr, batch, key, true, ws, &examples, nullptr);
    EXPECT_EQ(examples, 4u + 7u);
    return l;
  };
  loss(copy.gp.data());
  auto f = [&] { return loss(nullptr); };
  for (size_t k = 0; k < copy.params.size(); ++k) {
    const std::string& name = store.layout()[k].name;
    std::vector<size_t> idx;
    if (name == "item_emb") {
      for (uint32_t row : {3u, 29u, 9u, 6u, 0u, 14u, 21u}) {
        for (uint32_t j = 0; j < o.dim; j += 2) idx.push_back(row * o.dim + j);
      }
    } else if (!name.starts_with("item_adapter.")) {
      for (size_t i = 0; i < copy.params[k].size();
           i += std::max<size_t>(1, copy.params[k].size() / 7)) {
        idx.push_back(i);
      }
    }
    CheckGradient(name, copy.params[k], copy.grads[k], f, idx);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, ReprGradients,
    ::testing::Values(
        ReprCase{ItemRepr::kText, AdapterKind::kLinear, SasRecLoss::kBce, 0},
        ReprCase{ItemRepr::kText, AdapterKind::kMlp, SasRecLoss::kBce, 0},
        ReprCase{ItemRepr::kText, AdapterKind::kLinear, SasRecLoss::kCe, 4},
        ReprCase{ItemRepr::kText, AdapterKind::kMlp, SasRecLoss::kCe, 0},
        ReprCase{ItemRepr::kText, AdapterKind::kLinear, SasRecLoss::kGbce, 4},
        ReprCase{ItemRepr::kText, AdapterKind::kMlp, SasRecLoss::kGbce, 4, true},
        ReprCase{ItemRepr::kIdText, AdapterKind::kLinear, SasRecLoss::kBce, 0},
        ReprCase{ItemRepr::kIdText, AdapterKind::kMlp, SasRecLoss::kCe, 4},
        ReprCase{ItemRepr::kIdText, AdapterKind::kLinear, SasRecLoss::kCe, 0},
        ReprCase{ItemRepr::kIdText, AdapterKind::kMlp, SasRecLoss::kGbce, 4},
        ReprCase{ItemRepr::kText, AdapterKind::kLinear, SasRecLoss::kBce, 0, true, 0.05},
        ReprCase{ItemRepr::kIdText, AdapterKind::kMlp, SasRecLoss::kBce, 0, false, 0.05}),
    ReprCaseName);

// ---- Float model ---------------------------------------------------------

std::unique_ptr<SasRecModel> TextModel(ItemRepr repr, AdapterKind adapter, uint32_t items,
                                       std::shared_ptr<const ItemFeatures> features,
                                       SasRecLoss loss = SasRecLoss::kBce, uint32_t negatives = 0) {
  SasRecOptions o;
  o.num_items = items;
  o.dim = 16;
  o.blocks = 1;
  o.heads = 1;
  o.max_len = 12;
  o.dropout = 0.2;
  o.loss = loss;
  o.ce_negatives = negatives;
  o.item_repr = {repr, adapter, features->dim, 0};
  auto model = SasRecModel::Create(o, std::move(features));
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->Initialize(2);
  return std::move(*model);
}

std::vector<std::vector<uint32_t>> Sequences(size_t users, uint32_t items, uint32_t seed = 3) {
  RandomStream s({.seed = seed, .purpose = "test_sequences"});
  std::vector<std::vector<uint32_t>> seqs(users);
  for (auto& q : seqs) {
    q.resize(2 + s.NextBelow(20));
    for (uint32_t& i : q) i = s.NextBelow(items);
  }
  return seqs;
}

std::vector<UserSequence> Batch(const std::vector<std::vector<uint32_t>>& seqs) {
  std::vector<UserSequence> b;
  for (size_t u = 0; u < seqs.size(); ++u) b.push_back({static_cast<uint32_t>(u), seqs[u], {}});
  return b;
}

TEST(TextSasRec, LayoutHasNoItemTableAndDenseGradients) {
  const auto features = RandomFeatures(500, 24, 2);
  auto text = TextModel(ItemRepr::kText, AdapterKind::kLinear, 500, features);
  const auto& layout = text->global_params().layout();
  EXPECT_EQ(layout[0].name, "item_adapter.w");
  EXPECT_EQ(layout[0].rows, 24u);
  EXPECT_EQ(layout[0].cols, 16u);
  EXPECT_EQ(layout[1].name, "item_adapter.b");
  EXPECT_EQ(layout[2].name, "pos_emb");
  EXPECT_FALSE(text->global_params().Has("item_emb"));
  // The update's size does not depend on the catalogue: 24 * 16 + 16 adapter
  // words plus the dense weights.
  auto small = TextModel(ItemRepr::kText, AdapterKind::kLinear, 50, RandomFeatures(50, 24, 3));
  EXPECT_EQ(text->global_params().size(), small->global_params().size());
  Gradients g = text->NewGlobalGradients();
  for (size_t k = 0; k < layout.size(); ++k) EXPECT_FALSE(g.IsSparse(k));

  auto both = TextModel(ItemRepr::kIdText, AdapterKind::kMlp, 500, features);
  const auto& l2 = both->global_params().layout();
  EXPECT_EQ(l2[0].name, "item_emb");
  EXPECT_EQ(l2[1].name, "item_adapter.w1");
  EXPECT_EQ(l2[1].cols, 32u);  // h = 2d by default
  EXPECT_EQ(l2[3].name, "item_adapter.ln.gamma");
  EXPECT_EQ(l2[6].name, "item_adapter.b2");
  EXPECT_EQ(l2[7].name, "pos_emb");
  EXPECT_TRUE(both->NewGlobalGradients().IsSparse(0));
  // LayerNorm gamma starts at 1, biases at 0, weights Glorot.
  for (float x : both->global_params().ViewAt(3).Flat()) EXPECT_EQ(x, 1.0f);
  for (float x : both->global_params().ViewAt(2).Flat()) EXPECT_EQ(x, 0.0f);
  const float bound = static_cast<float>(std::sqrt(6.0 / (24 + 32)));
  for (float x : both->global_params().ViewAt(1).Flat()) EXPECT_LE(std::abs(x), bound);
}

TEST(TextSasRec, CreateChecksTheFeatures) {
  SasRecOptions o;
  o.num_items = 40;
  o.dim = 8;
  o.blocks = 1;
  o.max_len = 5;
  o.item_repr = {ItemRepr::kText, AdapterKind::kLinear, 6, 0};
  EXPECT_EQ(SasRecModel::Create(o).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(SasRecModel::Create(o, RandomFeatures(41, 6, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SasRecModel::Create(o, RandomFeatures(40, 7, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(SasRecModel::Create(o, RandomFeatures(40, 6, 1)).ok());
  o.item_repr.feature_dim = 0;
  EXPECT_EQ(SasRecModel::Create(o, RandomFeatures(40, 6, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TextSasRec, FloatGradientsMatchDouble) {
  for (ItemRepr repr : {ItemRepr::kText, ItemRepr::kIdText}) {
    const auto features = RandomFeatures(60, 10, 4);
    auto m = TextModel(repr, AdapterKind::kMlp, 60, features, SasRecLoss::kCe, 8);
    const auto seqs = Sequences(6, 60);
    const auto batch = Batch(seqs);
    const StepKey key{5, 1, 1};
    Gradients g = m->NewGlobalGradients();
    const LossSum lf = m->ForwardBackward(batch, key, nullptr, &g, nullptr);
    testing::DoubleParams copy = DoubleCopy(m->global_params());
    sasrec_internal::SeqWorkspace<double> ws;
    uint64_t examples = 0;
    const double ld = sasrec_internal::FeatureBatchLoss<double>(
        m->options(), m->item_layout(), *features, copy.pp.data(), copy.gp.data(), nullptr, batch,
        key, true, ws, &examples, nullptr);
    EXPECT_EQ(examples, lf.examples);
    EXPECT_NEAR(lf.loss, ld, 1e-4 * std::abs(ld));
    for (size_t k = 0; k < copy.grads.size(); ++k) {
      const TensorView v = g.View(k);
      for (size_t i = 0; i < v.size(); ++i) {
        ASSERT_NEAR(v.data[i], copy.grads[k][i], 1e-4 + 1e-3 * std::abs(copy.grads[k][i]))
            << m->global_params().layout()[k].name << "[" << i << "]";
      }
    }
  }
}

// Chunks of a batch computed on several threads, each with its own
// gradients and workspace, and reduced in chunk order, give bitwise the
// one-thread result (what the trainers rely on).
TEST(TextSasRec, TrainingIsThreadCountInvariant) {
  for (ItemRepr repr : {ItemRepr::kText, ItemRepr::kIdText}) {
    const auto features = RandomFeatures(80, 12, 5);
    auto m = TextModel(repr, AdapterKind::kMlp, 80, features, SasRecLoss::kGbce, 8);
    const auto seqs = Sequences(32, 80);
    const auto batch = Batch(seqs);
    const StepKey key{9, 3, 4};
    constexpr size_t kChunks = 4;
    auto run = [&](bool threaded) {
      std::vector<Gradients> g;
      for (size_t c = 0; c < kChunks; ++c) g.push_back(m->NewGlobalGradients());
      auto work = [&](size_t c) {
        auto ws = m->NewWorkspace();
        const auto chunk = std::span<const UserSequence>(batch).subspan(c * 8, 8);
        m->ForwardBackward(chunk, key, ws.get(), &g[c], nullptr);
      };
      if (threaded) {
        std::vector<std::thread> threads;
        for (size_t c = 0; c < kChunks; ++c) threads.emplace_back(work, c);
        for (auto& t : threads) t.join();
      } else {
        for (size_t c = 0; c < kChunks; ++c) work(c);
      }
      for (size_t c = 1; c < kChunks; ++c) g[0].AddFrom(g[c]);
      const auto flat = g[0].values().Flat();
      return std::vector<float>(flat.begin(), flat.end());
    };
    const std::vector<float> one = run(false), many = run(true);
    ASSERT_EQ(one.size(), many.size());
    EXPECT_EQ(0, std::memcmp(one.data(), many.data(), one.size() * sizeof(float)));
  }
}

TEST(TextSasRec, ScoringPathsAgreeBitwise) {
  for (AdapterKind adapter : {AdapterKind::kLinear, AdapterKind::kMlp}) {
    for (ItemRepr repr : {ItemRepr::kText, ItemRepr::kIdText}) {
      const uint32_t items = 3000;  // more than one cache chunk
      const auto features = RandomFeatures(items, 20, 6);
      auto m = TextModel(repr, adapter, items, features);
      const std::vector<uint32_t> history = {4, 9, 4, 2077, 2999};
      std::vector<float> all(items), some(4);
      const std::vector<uint32_t> candidates = {0, 2077, 1500, 2999};
      m->ScoreAll(0, history, all);
      m->ScoreCandidates(0, history, candidates, some);
      for (size_t j = 0; j < candidates.size(); ++j) {
        EXPECT_EQ(Bits(some[j]), Bits(all[candidates[j]]));
      }
      const Scorer::DotItems dot = m->dot_items();
      if (repr == ItemRepr::kIdText) {
        EXPECT_EQ(dot.rows, nullptr);
        continue;
      }
      ASSERT_NE(dot.rows, nullptr);
      std::vector<float> state(dot.dim);
      m->UserState(0, history, state);
      for (uint32_t i = 0; i < items; i += 7) {
        EXPECT_EQ(Bits(ScoreDot(state.data(), dot.rows + size_t{i} * dot.dim, dot.dim)),
                  Bits(all[i]));
      }
    }
  }
}

// The cached table follows the parameters: after an update, scores equal a
// fresh model's with the same parameters.
TEST(TextSasRec, AdaptedTableFollowsParameterChanges) {
  for (ItemRepr repr : {ItemRepr::kText, ItemRepr::kIdText}) {
    const auto features = RandomFeatures(200, 8, 7);
    auto m = TextModel(repr, AdapterKind::kLinear, 200, features);
    const std::vector<uint32_t> history = {1, 5, 9};
    std::vector<float> before(200), after(200), fresh(200);
    m->ScoreAll(0, history, before);
    for (float& x : m->global_params().Flat()) x *= 1.25f;
    m->ScoreAll(0, history, after);
    auto other = TextModel(repr, AdapterKind::kLinear, 200, features);
    other->global_params() = m->global_params();
    other->ScoreAll(0, history, fresh);
    EXPECT_NE(before, after);
    EXPECT_EQ(after, fresh);
  }
}

TEST(TextSasRec, ConcurrentScoringIsIdentical) {
  const auto features = RandomFeatures(300, 16, 8);
  auto m = TextModel(ItemRepr::kText, AdapterKind::kMlp, 300, features);
  const auto seqs = Sequences(30, 300);
  std::vector<std::vector<float>> got[2];
  auto work = [&](int t) {
    got[t].assign(seqs.size(), std::vector<float>(300));
    for (size_t i = 0; i < seqs.size(); ++i) m->ScoreAll(0, seqs[i], got[t][i]);
  };
  std::thread t0(work, 0), t1(work, 1);  // both may build the cache first
  t0.join();
  t1.join();
  EXPECT_EQ(got[0], got[1]);
}

// ---- Factory, checkpoints, recommend -------------------------------------

proto::ModelSpec TextSpec(uint32_t items, uint32_t f) {
  proto::ModelSpec spec;
  spec.set_type("sasrec");
  spec.set_dim(8);
  spec.set_blocks(1);
  spec.set_heads(1);
  spec.set_max_len(6);
  spec.set_num_items(items);
  (*spec.mutable_extra())["loss"] = "bce";
  (*spec.mutable_extra())["item_repr"] = "text";
  (*spec.mutable_extra())["adapter"] = "mlp";
  (*spec.mutable_extra())["adapter_hidden"] = "12";
  (*spec.mutable_extra())["feature_dim"] = std::to_string(f);
  return spec;
}

TEST(TextSasRec, SpecFromConfigCarriesTheRepresentation) {
  Config c;
  c.model.dim = 8;
  c.model.heads = 1;
  c.model.item_repr = "text";
  c.model.adapter = "mlp";
  c.model.adapter_hidden = 12;
  auto none = ModelSpecFromConfig(c, 5, 40, /*feature_dim=*/0);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("item features"), std::string::npos);
  auto spec = ModelSpecFromConfig(c, 5, 40, /*feature_dim=*/24);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->extra().at("item_repr"), "text");
  EXPECT_EQ(spec->extra().at("adapter"), "mlp");
  EXPECT_EQ(spec->extra().at("adapter_hidden"), "12");
  EXPECT_EQ(spec->extra().at("feature_dim"), "24");
  auto model = CreateModel(*spec, "cpu", RandomFeatures(40, 24, 9));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->global_params().ViewAt(0).cols, 12u);
  EXPECT_EQ(CreateModel(*spec).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CreateModel(*spec, "cpu", RandomFeatures(40, 23, 9)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // id specs carry nothing new, and ignore features.
  c.model.item_repr = "id";
  auto id = ModelSpecFromConfig(c, 5, 40, 24);
  ASSERT_TRUE(id.ok());
  EXPECT_FALSE(id->extra().contains("item_repr"));
  EXPECT_FALSE(id->extra().contains("feature_dim"));
  EXPECT_TRUE(CreateModel(*id, "cpu", RandomFeatures(40, 24, 9)).ok());
  // MF with explicit ratings does not take item features.
  c.model.type = "mf_rating";
  c.model.item_repr = "text";
  const auto rating = ModelSpecFromConfig(c, 5, 40, 24);
  EXPECT_EQ(rating.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(rating.status().message()).find("not 'mf_rating'"), std::string::npos)
      << rating.status();
}

TEST(TextSasRec, CheckpointRoundTripAndRecommend) {
  const uint32_t items = 90, f = 10;
  const auto features = RandomFeatures(items, f, 10);
  const proto::ModelSpec spec = TextSpec(items, f);
  auto model = CreateModel(spec, "cpu", features);
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->Initialize(4);
  Checkpoint ckpt;
  SaveModel(spec, **model, &ckpt);
  for (uint32_t i = 0; i < items; ++i) ckpt.add_item_ids(1000 + i);
  EXPECT_EQ(ckpt.tensors(0).name(), "item_adapter.w1");

  EXPECT_EQ(LoadModel(ckpt).status().code(), absl::StatusCode::kFailedPrecondition);
  auto loaded = LoadModel(ckpt, features);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE((*loaded)->global_params() == (*model)->global_params());
  const std::vector<uint32_t> history = {3, 8, 13};
  std::vector<float> a(items), b(items);
  (*model)->ScoreAll(0, history, a);
  (*loaded)->ScoreAll(0, history, b);
  EXPECT_EQ(a, b);

  // recommend's blocked top-k gives ScoreAll's scores bitwise.
  auto rec = Recommender::Create(ckpt, "ckpt", features);
  ASSERT_TRUE(rec.ok()) << rec.status();
  RecommendRequest request;
  request.history = {1003, 1008, 1013};
  request.k = 5;
  auto top = rec->Recommend(request);
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_EQ(top->size(), 5u);
  std::vector<uint32_t> order(items);
  std::iota(order.begin(), order.end(), 0);
  std::erase_if(order, [](uint32_t i) { return i == 3 || i == 8 || i == 13; });
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return a[x] > a[y]; });
  for (size_t j = 0; j < 5; ++j) {
    EXPECT_EQ((*top)[j].item, 1000 + order[j]);
    EXPECT_EQ(Bits((*top)[j].score), Bits(a[order[j]]));
  }
}

// ---- Known answer: content generalises to items never trained on ---------

// Items of kClusters clusters whose features are the cluster's centroid plus
// noise; each user's sequence stays within one cluster. The last items of
// every cluster never occur in training. A text model must rank the unseen
// items of the user's cluster above the unseen items of other clusters (an
// AUC well above 0.5); an id model, whose unseen rows never get a positive
// gradient, cannot.
TEST(TextSasRec, RanksNeverTrainedItemsByContent) {
  constexpr uint32_t kClusters = 4, kPerCluster = 40, kUnseen = 8, kF = 16;
  constexpr uint32_t kNumItems = kClusters * kPerCluster;
  auto features = std::make_shared<ItemFeatures>();
  features->num_items = kNumItems;
  features->dim = kF;
  RandomStream s({.seed = 77, .purpose = "test_clusters"});
  std::vector<std::vector<float>> centroid(kClusters, std::vector<float>(kF));
  for (auto& c : centroid) {
    for (float& x : c) x = static_cast<float>(s.NextNormal());
  }
  features->values.resize(size_t{kNumItems} * kF);
  for (uint32_t i = 0; i < kNumItems; ++i) {
    for (uint32_t j = 0; j < kF; ++j) {
      features->values[size_t{i} * kF + j] =
          centroid[i / kPerCluster][j] + 0.3f * static_cast<float>(s.NextNormal());
    }
  }
  auto unseen = [](uint32_t i) { return i % kPerCluster >= kPerCluster - kUnseen; };
  std::vector<std::vector<uint32_t>> seqs(160);
  for (size_t u = 0; u < seqs.size(); ++u) {
    const uint32_t c = u % kClusters;
    seqs[u].resize(8);
    for (uint32_t& i : seqs[u]) i = c * kPerCluster + s.NextBelow(kPerCluster - kUnseen);
  }
  auto auc = [&](ItemRepr repr) {
    SasRecOptions o;
    o.num_items = kNumItems;
    o.dim = 16;
    o.blocks = 1;
    o.max_len = 8;
    o.dropout = 0.0;
    o.item_repr = {repr, AdapterKind::kLinear, repr == ItemRepr::kId ? 0u : kF, 0};
    auto created = SasRecModel::Create(o, repr == ItemRepr::kId ? nullptr : features);
    EXPECT_TRUE(created.ok()) << created.status();
    SasRecModel& m = **created;
    m.Initialize(1);
    const auto batch = Batch(seqs);
    Gradients g = m.NewGlobalGradients();
    auto ws = m.NewWorkspace();
    for (uint32_t epoch = 0; epoch < 60; ++epoch) {
      for (size_t b = 0; b < batch.size(); b += 16) {
        g.Clear();
        const LossSum l =
            m.ForwardBackward(std::span<const UserSequence>(batch).subspan(b, 16),
                              StepKey{1, epoch, static_cast<uint32_t>(b)}, ws.get(), &g, nullptr);
        const float step = 0.5f / static_cast<float>(l.examples);
        auto p = m.global_params().Flat();
        auto d = g.values().Flat();
        for (size_t i = 0; i < p.size(); ++i) p[i] -= step * d[i];
      }
    }
    // Pairs (unseen item of the user's cluster, unseen item of another).
    double right = 0, pairs = 0;
    std::vector<float> scores(kNumItems);
    for (size_t u = 0; u < seqs.size(); ++u) {
      m.ScoreAll(0, seqs[u], scores);
      const uint32_t c = u % kClusters;
      for (uint32_t i = 0; i < kNumItems; ++i) {
        if (!unseen(i) || i / kPerCluster != c) continue;
        for (uint32_t j = 0; j < kNumItems; ++j) {
          if (!unseen(j) || j / kPerCluster == c) continue;
          right += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
          pairs += 1;
        }
      }
    }
    return right / pairs;
  };
  const double text = auc(ItemRepr::kText), id = auc(ItemRepr::kId);
  RecordProperty("text_auc", std::to_string(text));
  RecordProperty("id_auc", std::to_string(id));
  EXPECT_GT(text, 0.9) << "id AUC " << id;
  EXPECT_LT(id, 0.7) << "text AUC " << text;
}

}  // namespace
}  // namespace fedrec
