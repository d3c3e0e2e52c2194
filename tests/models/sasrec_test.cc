// SASRec: finite-difference gradient checks (double) for every layer and for
// the full model w.r.t. every parameter tensor, plus determinism and scoring
// properties of the float model.
#include "models/sasrec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <thread>
#include <vector>

#include "core/random.h"
#include "models/layers/attention.h"
#include "models/layers/embedding.h"
#include "models/layers/feed_forward.h"
#include "models/layers/layer_norm.h"
#include "models/layers/linear.h"
#include "models/sasrec_impl.h"
#include "models/sasrec_last_hidden.h"
#include "tests/models/sasrec_double.h"

namespace fedrec {
namespace {

using layers::ConstMatrixMap;
using layers::ConstRowVectorMap;
using layers::MatrixMap;
using layers::RowVectorMap;
using testing::CheckGradient;
using testing::DoubleCopy;
using testing::Random;
using testing::Vec;

ConstMatrixMap<double> CM(const Vec& v, Eigen::Index r, Eigen::Index c) {
  return ConstMatrixMap<double>(v.data(), r, c);
}
MatrixMap<double> M(Vec& v, Eigen::Index r, Eigen::Index c) {
  return MatrixMap<double>(v.data(), r, c);
}
ConstRowVectorMap<double> CV(const Vec& v) {
  return ConstRowVectorMap<double>(v.data(), static_cast<Eigen::Index>(v.size()));
}
RowVectorMap<double> V(Vec& v) {
  return RowVectorMap<double>(v.data(), static_cast<Eigen::Index>(v.size()));
}

double Dot(const Vec& a, const Vec& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

TEST(SasRecLayers, LinearGradients) {
  const int n = 5, in = 4, out = 3;
  Vec x = Random(n * in, 1), w = Random(in * out, 2), b = Random(out, 3), r = Random(n * out, 4);
  Vec y(n * out);
  auto f = [&] {
    layers::LinearForward<double>(CM(x, n, in), CM(w, in, out), CV(b), M(y, n, out));
    return Dot(y, r);
  };
  f();
  Vec dx(n * in, 0), dw(in * out, 0), db(out, 0);
  MatrixMap<double> dxm = M(dx, n, in);
  layers::LinearBackward<double>(CM(x, n, in), CM(w, in, out), CM(r, n, out), M(dw, in, out), V(db),
                                 &dxm);
  CheckGradient("x", x, dx, f);
  CheckGradient("w", w, dw, f);
  CheckGradient("b", b, db, f);
}

struct AttentionCase {
  int heads;
  double dropout;
  int len = 5;  // 70 > kAttentionRowBlock exercises the blocked causal GEMMs
};

void PrintTo(const AttentionCase& c, std::ostream* os) {
  *os << "heads=" << c.heads << " dropout=" << c.dropout << " len=" << c.len;
}

class AttentionGradients : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionGradients, MatchFiniteDifferences) {
  const int len = GetParam().len, d = 6, heads = GetParam().heads;
  const double rate = GetParam().dropout;
  Vec qin = Random(len * d, 10), kin = Random(len * d, 11), r = Random(len * d, 12);
  Vec wq = Random(d * d, 13), wk = Random(d * d, 14), wv = Random(d * d, 15);
  Vec bq = Random(d, 16), bk = Random(d, 17), bv = Random(d, 18);
  // The L x L buffers start as NaN: entries the layer does not write (right
  // of a row block) must never be read.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Vec q(len * d), k(len * d), v(len * d), probs(heads * len * len, nan),
      dropped(heads * len * len, nan), mask(heads * len * len, nan), out(len * d);
  auto params = [&] {
    return layers::AttentionParams<double>{CM(wq, d, d), CM(wk, d, d), CM(wv, d, d),
                                           CV(bq),       CV(bk),       CV(bv)};
  };
  auto cache = [&] {
    return layers::AttentionCache<double>{M(q, len, d), M(k, len, d),   M(v, len, d),
                                          probs.data(), dropped.data(), mask.data()};
  };
  auto f = [&] {
    RandomStream stream({3, "dropout", 0, 0, 0});  // same masks every call
    layers::CausalAttentionForward<double>(CM(qin, len, d), CM(kin, len, d), params(), heads,
                                           rate > 0 ? &stream : nullptr, rate, cache(),
                                           M(out, len, d));
    return Dot(out, r);
  };
  f();
  Vec dqin(len * d, 0), dkin(len * d, 0), dwq(d * d, 0), dwk(d * d, 0), dwv(d * d, 0), dbq(d, 0),
      dbk(d, 0), dbv(d, 0), sq(len * d), sk(len * d), sv(len * d), sp(len * len, nan);
  layers::CausalAttentionBackward<double>(
      CM(qin, len, d), CM(kin, len, d), params(), heads, rate > 0, cache(), CM(r, len, d),
      {M(dwq, d, d), M(dwk, d, d), M(dwv, d, d), V(dbq), V(dbk), V(dbv)},
      {M(sq, len, d), M(sk, len, d), M(sv, len, d), sp.data()}, M(dqin, len, d), M(dkin, len, d));
  CheckGradient("queries", qin, dqin, f);
  CheckGradient("keys", kin, dkin, f);
  CheckGradient("wq", wq, dwq, f);
  CheckGradient("wk", wk, dwk, f);
  CheckGradient("wv", wv, dwv, f);
  CheckGradient("bq", bq, dbq, f);
  CheckGradient("bk", bk, dbk, f);
  CheckGradient("bv", bv, dbv, f);
}

INSTANTIATE_TEST_SUITE_P(Heads, AttentionGradients,
                         ::testing::Values(AttentionCase{1, 0.0}, AttentionCase{2, 0.0},
                                           AttentionCase{3, 0.0}, AttentionCase{1, 0.4},
                                           AttentionCase{2, 0.4}, AttentionCase{2, 0.3, 70}));

TEST(SasRecLayers, AttentionIsCausal) {
  const int len = 6, d = 4, heads = 2;
  Vec x = Random(len * d, 20), w = Random(d * d, 21), b = Random(d, 22);
  Vec q(len * d), k(len * d), v(len * d), probs(heads * len * len), out1(len * d), out2(len * d);
  layers::AttentionParams<double> p{CM(w, d, d), CM(w, d, d), CM(w, d, d), CV(b), CV(b), CV(b)};
  auto run = [&](Vec& out) {
    layers::AttentionCache<double> c{M(q, len, d), M(k, len, d), M(v, len, d),
                                     probs.data(), probs.data(), nullptr};
    layers::CausalAttentionForward<double>(CM(x, len, d), CM(x, len, d), p, heads, nullptr, 0, c,
                                           M(out, len, d));
  };
  run(out1);
  for (int j = 0; j < d; ++j) x[4 * d + j] += 1.0;  // change position 4
  run(out2);
  for (int i = 0; i < 4 * d; ++i) EXPECT_EQ(out1[i], out2[i]) << i;  // rows 0..3 unchanged
  bool changed = false;
  for (int i = 4 * d; i < len * d; ++i) changed |= out1[i] != out2[i];
  EXPECT_TRUE(changed);
}

class FeedForwardGradients : public ::testing::TestWithParam<double> {};

TEST_P(FeedForwardGradients, MatchFiniteDifferences) {
  const int len = 4, d = 5;
  const double rate = GetParam();
  Vec x = Random(len * d, 30), w1 = Random(d * d, 31), b1 = Random(d, 32), w2 = Random(d * d, 33),
      b2 = Random(d, 34), r = Random(len * d, 35);
  Vec hidden(len * d), m1(len * d), m2(len * d), y(len * d);
  auto params = [&] {
    return layers::FeedForwardParams<double>{CM(w1, d, d), CV(b1), CM(w2, d, d), CV(b2)};
  };
  auto cache = [&] {
    return layers::FeedForwardCache<double>{M(hidden, len, d), M(m1, len, d), M(m2, len, d)};
  };
  auto f = [&] {
    RandomStream stream({4, "dropout", 1, 2, 3});
    layers::FeedForwardForward<double>(CM(x, len, d), params(), rate > 0 ? &stream : nullptr, rate,
                                       cache(), M(y, len, d));
    return Dot(y, r);
  };
  f();
  Vec dx(len * d, 0), dw1(d * d, 0), db1(d, 0), dw2(d * d, 0), db2(d, 0), sh(len * d), sy(len * d);
  layers::FeedForwardBackward<double>(CM(x, len, d), params(), rate > 0, cache(), CM(r, len, d),
                                      {M(dw1, d, d), V(db1), M(dw2, d, d), V(db2)}, M(sh, len, d),
                                      M(sy, len, d), M(dx, len, d));
  CheckGradient("x", x, dx, f);
  CheckGradient("w1", w1, dw1, f);
  CheckGradient("b1", b1, db1, f);
  CheckGradient("w2", w2, dw2, f);
  CheckGradient("b2", b2, db2, f);
}

INSTANTIATE_TEST_SUITE_P(Dropout, FeedForwardGradients, ::testing::Values(0.0, 0.3));

TEST(SasRecLayers, EmbeddingGradientsAndSparseRows) {
  const int rows = 10, d = 4;
  Vec table = Random(rows * d, 40), r = Random(3 * d, 41), out(3 * d);
  const std::vector<uint32_t> ids = {3, 1, 3};
  auto f = [&] {
    layers::EmbeddingForward<double>(CM(table, rows, d), ids, 2.0, M(out, 3, d));
    return Dot(out, r);
  };
  f();
  ParameterStore layout;
  ASSERT_TRUE(layout.Add("emb", rows, d).ok());
  layout.Finalize();
  Gradients tracker(layout, {true});
  Vec dtable(rows * d, 0);
  layers::EmbeddingBackward<double>(ids, 2.0, CM(r, 3, d), M(dtable, rows, d), &tracker, 0);
  EXPECT_EQ(tracker.TouchedRows(0), (std::vector<uint32_t>{3, 1}));
  CheckGradient("table", table, dtable, f);
}

// ---- Full model ----------------------------------------------------------

struct ModelCase {
  bool pre_ln;
  SasRecLoss loss;
  uint32_t ce_negatives;
  double dropout;
  double l2_emb;
};

std::string CaseName(const ::testing::TestParamInfo<ModelCase>& info) {
  const ModelCase& c = info.param;
  std::string s = c.pre_ln ? "PreLn" : "PostLn";
  s += c.loss == SasRecLoss::kBce ? "Bce" : (c.ce_negatives ? "SampledCe" : "FullCe");
  s += c.dropout > 0 ? "Dropout" : "NoDropout";
  if (c.l2_emb > 0) s += "L2";
  return s;
}

SasRecOptions SmallOptions(const ModelCase& c) {
  SasRecOptions o;
  o.num_items = 30;
  o.dim = 6;
  o.blocks = 2;
  o.heads = 2;
  o.max_len = 7;
  o.dropout = c.dropout;
  o.pre_ln = c.pre_ln;
  o.loss = c.loss;
  o.ce_negatives = c.ce_negatives;
  o.l2_emb = c.l2_emb;
  return o;
}

void PrintTo(const ModelCase& c, std::ostream* os) {
  *os << (c.pre_ln ? "pre_ln" : "post_ln")
      << " loss=" << (c.loss == SasRecLoss::kBce ? "bce" : "ce")
      << " ce_negatives=" << c.ce_negatives << " dropout=" << c.dropout << " l2=" << c.l2_emb;
}

class ModelGradients : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelGradients, EveryTensorMatchesFiniteDifferences) {
  const SasRecOptions o = SmallOptions(GetParam());
  auto model = SasRecModel::Create(o);
  ASSERT_TRUE(model.ok());
  (*model)->Initialize(5);
  const ParameterStore& store = (*model)->global_params();
  // Double copies of the parameters, perturbed (DoubleCopy).
  testing::DoubleParams copy = DoubleCopy(store, 0.3);
  std::vector<Vec>& params = copy.params;
  std::vector<Vec>& grads = copy.grads;
  const std::vector<const double*>& pp = copy.pp;
  const std::vector<double*>& gp = copy.gp;
  // One sequence shorter than max_len (4 positions) and one longer (12 > 7).
  const std::vector<uint32_t> short_seq = {3, 17, 4, 29, 8};
  const std::vector<uint32_t> long_seq = {1, 2, 5, 7, 11, 13, 0, 19, 23, 2, 9, 27, 6};
  const StepKey key{11, 2, 3};
  sasrec_internal::SeqWorkspace<double> ws;
  auto loss = [&](double* const* g) {
    uint64_t examples = 0;
    double l = sasrec_internal::SequenceLoss<double>(o, pp.data(), g, nullptr, 4, short_seq, key,
                                                     true, ws, &examples);
    l += sasrec_internal::SequenceLoss<double>(o, pp.data(), g, nullptr, 9, long_seq, key, true, ws,
                                               &examples);
    EXPECT_EQ(examples, 4u + 7u);
    return l;
  };
  loss(gp.data());
  auto f = [&] { return loss(nullptr); };
  for (size_t k = 0; k < params.size(); ++k) {
    const std::string& name = store.layout()[k].name;
    std::vector<size_t> idx;
    if (k == sasrec_internal::kItemEmb) {
      // Rows of the inputs and targets (always touched), plus a few others
      // (negatives, or untouched rows whose gradient must be 0).
      for (uint32_t row : {3u, 29u, 9u, 6u, 0u, 14u, 21u}) {
        for (uint32_t j = 0; j < o.dim; j += 2) idx.push_back(row * o.dim + j);
      }
    } else if (k == sasrec_internal::kPosEmb) {
      for (size_t i = 0; i < params[k].size(); i += 3) idx.push_back(i);
    } else {
      for (size_t i = 0; i < params[k].size(); i += std::max<size_t>(1, params[k].size() / 9)) {
        idx.push_back(i);
      }
    }
    CheckGradient(name, params[k], grads[k], f, idx);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelGradients,
                         ::testing::Values(ModelCase{false, SasRecLoss::kBce, 0, 0.0, 0},
                                           ModelCase{false, SasRecLoss::kBce, 0, 0.3, 0},
                                           ModelCase{true, SasRecLoss::kBce, 0, 0.0, 0},
                                           ModelCase{true, SasRecLoss::kBce, 0, 0.3, 0},
                                           ModelCase{false, SasRecLoss::kCe, 4, 0.0, 0},
                                           ModelCase{false, SasRecLoss::kCe, 0, 0.3, 0},
                                           ModelCase{true, SasRecLoss::kCe, 4, 0.3, 0},
                                           ModelCase{true, SasRecLoss::kCe, 0, 0.0, 0},
                                           ModelCase{false, SasRecLoss::kBce, 0, 0.3, 0.05}),
                         CaseName);

// ---- Float model ---------------------------------------------------------

std::unique_ptr<SasRecModel> MakeModel(SasRecOptions o) {
  auto model = SasRecModel::Create(o);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->Initialize(1);
  return std::move(*model);
}

SasRecOptions FloatOptions() {
  SasRecOptions o;
  o.num_items = 200;
  o.dim = 16;
  o.blocks = 2;
  o.heads = 2;
  o.max_len = 20;
  o.dropout = 0.2;
  return o;
}

std::vector<std::vector<uint32_t>> Sequences(size_t n, uint32_t num_items) {
  std::vector<std::vector<uint32_t>> seqs(n);
  RandomStream s({9, "seqs", 0, 0, 0});
  for (auto& seq : seqs) {
    seq.resize(1 + s.NextBelow(35));
    for (uint32_t& i : seq) i = s.NextBelow(num_items);
  }
  return seqs;
}

std::vector<UserSequence> Batch(const std::vector<std::vector<uint32_t>>& seqs) {
  std::vector<UserSequence> b;
  for (size_t u = 0; u < seqs.size(); ++u) b.push_back({static_cast<uint32_t>(u), seqs[u], {}});
  return b;
}

TEST(SasRecModel, RejectsBadOptions) {
  SasRecOptions o = FloatOptions();
  o.heads = 3;
  EXPECT_FALSE(SasRecModel::Create(o).ok());
  o = FloatOptions();
  o.num_items = 0;
  EXPECT_FALSE(SasRecModel::Create(o).ok());
  o = FloatOptions();
  o.dropout = 1.0;
  EXPECT_FALSE(SasRecModel::Create(o).ok());
}

TEST(SasRecModel, LayoutNamesAndInit) {
  auto m = MakeModel(FloatOptions());
  const ParameterStore& p = m->global_params();
  EXPECT_EQ(p.layout()[0].name, "item_emb");
  EXPECT_EQ(p.layout()[1].name, "pos_emb");
  EXPECT_EQ(p.layout()[2].name, "block0.attn_ln.gamma");
  EXPECT_EQ(p.layout()[15].name, "block0.ffn.b2");
  EXPECT_EQ(p.layout().back().name, "final_ln.beta");
  EXPECT_EQ(p.num_tensors(), 2u + 14u * 2u + 2u);
  EXPECT_EQ(p.View("block1.ffn_ln.gamma").value().data[3], 1.0f);
  EXPECT_EQ(p.View("block1.attn.bq").value().data[3], 0.0f);
  const float limit = std::sqrt(6.0f / (200 + 16));
  for (float x : p.View("item_emb").value().Flat()) EXPECT_LE(std::abs(x), limit);
  auto m2 = MakeModel(FloatOptions());
  EXPECT_TRUE(m->global_params() == m2->global_params());
  Gradients g = m->NewGlobalGradients();
  EXPECT_TRUE(g.IsSparse(0));
  EXPECT_FALSE(g.IsSparse(1));
}

TEST(SasRecModel, ForwardBackwardIsDeterministicAndSparse) {
  auto m = MakeModel(FloatOptions());
  const auto seqs = Sequences(16, 200);
  const auto batch = Batch(seqs);
  Gradients g1 = m->NewGlobalGradients(), g2 = m->NewGlobalGradients();
  auto ws1 = m->NewWorkspace();
  const StepKey key{3, 1, 2};
  const LossSum l1 = m->ForwardBackward(batch, key, ws1.get(), &g1, nullptr);
  // A reused workspace that has seen other sequences gives the same result.
  const LossSum l2 = m->ForwardBackward(batch, key, ws1.get(), &g2, nullptr);
  EXPECT_EQ(l1.loss, l2.loss);
  EXPECT_EQ(l1.examples, l2.examples);
  const auto a = g1.values().Flat(), b = g2.values().Flat();
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  EXPECT_EQ(g1.TouchedRows(0), g2.TouchedRows(0));
  uint64_t expected_examples = 0;
  for (const auto& s : seqs)
    expected_examples += s.empty() ? 0 : std::min<size_t>(s.size() - 1, 20);
  EXPECT_EQ(l1.examples, expected_examples);
  // Untouched rows of item_emb are zero.
  std::vector<bool> touched(200, false);
  for (uint32_t r : g1.TouchedRows(0)) touched[r] = true;
  TensorView e = g1.View(0);
  for (uint32_t r = 0; r < 200; ++r) {
    if (touched[r]) continue;
    for (float x : e.Row(r)) EXPECT_EQ(x, 0.0f);
  }
  // A different step gives different negatives/dropout.
  Gradients g3 = m->NewGlobalGradients();
  const LossSum l3 = m->ForwardBackward(batch, StepKey{3, 1, 3}, ws1.get(), &g3, nullptr);
  EXPECT_NE(l1.loss, l3.loss);
  // The loss matches Loss() with dropout on.
  EXPECT_NEAR(m->Loss(batch, key, true).loss, l1.loss, 1e-6 * std::abs(l1.loss));
}

TEST(SasRecModel, FloatGradientsMatchDouble) {
  SasRecOptions o = FloatOptions();
  auto m = MakeModel(o);
  const auto seqs = Sequences(4, 200);
  const auto batch = Batch(seqs);
  const StepKey key{3, 1, 2};
  Gradients g = m->NewGlobalGradients();
  m->ForwardBackward(batch, key, nullptr, &g, nullptr);
  const ParameterStore& store = m->global_params();
  testing::DoubleParams copy = DoubleCopy(store);
  const std::vector<Vec>& grads = copy.grads;
  const std::vector<const double*>& pp = copy.pp;
  const std::vector<double*>& gp = copy.gp;
  sasrec_internal::SeqWorkspace<double> ws;
  uint64_t ex = 0;
  for (const auto& s : batch) {
    sasrec_internal::SequenceLoss<double>(o, pp.data(), gp.data(), nullptr, s.user, s.items, key,
                                          true, ws, &ex);
  }
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    TensorView v = g.values().ViewAt(k);
    double scale = 1e-3;
    for (double x : grads[k]) scale = std::max(scale, std::abs(x));
    for (size_t i = 0; i < v.size(); ++i) {
      ASSERT_NEAR(v.data[i], grads[k][i], 2e-3 * scale)
          << store.layout()[k].name << "[" << i << "]";
    }
  }
}

TEST(SasRecModel, ScoringMatchesTheTrainingForward) {
  SasRecOptions o = FloatOptions();
  o.loss = SasRecLoss::kCe;  // full softmax: the loss reads every score
  o.dropout = 0;
  auto m = MakeModel(o);
  // A sequence of 2 items has one position: input {a}, target b.
  const std::vector<uint32_t> seq = {17, 42};
  const UserSequence us{0, seq, {}};
  const double loss = m->Loss({&us, 1}, StepKey{}, false).loss;
  std::vector<float> scores(o.num_items);
  m->ScoreAll(0, std::span<const uint32_t>(seq).first(1), scores);
  double mx = scores[0];
  for (float s : scores) mx = std::max<double>(mx, s);
  double sum = 0;
  for (float s : scores) sum += std::exp(s - mx);
  EXPECT_NEAR(loss, std::log(sum) + mx - scores[42], 1e-4);
}

TEST(SasRecModel, ScoreCandidatesIsAGatherOfScoreAll) {
  auto m = MakeModel(FloatOptions());
  const auto seqs = Sequences(10, 200);
  const std::vector<uint32_t> cands = {5, 0, 199, 17, 17, 88};
  for (const auto& h : seqs) {
    std::vector<float> all(200), some(cands.size());
    m->ScoreAll(1, h, all);
    m->ScoreCandidates(1, h, cands, some);
    for (size_t j = 0; j < cands.size(); ++j) EXPECT_EQ(some[j], all[cands[j]]);
  }
}

TEST(SasRecModel, LongHistoriesUseTheLastMaxLenItems) {
  auto m = MakeModel(FloatOptions());
  std::vector<uint32_t> h(45);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint32_t>(i * 7 % 200);
  std::vector<float> a(200), b(200);
  m->ScoreAll(0, h, a);
  m->ScoreAll(0, std::span<const uint32_t>(h).last(20), b);
  EXPECT_EQ(a, b);
  std::vector<float> empty(200);
  m->ScoreAll(0, {}, empty);
  for (float s : empty) EXPECT_EQ(s, 0.0f);
}

TEST(SasRecModel, ConcurrentScoringIsIdentical) {
  auto m = MakeModel(FloatOptions());
  const auto seqs = Sequences(40, 200);
  std::vector<std::vector<float>> expected(seqs.size(), std::vector<float>(200));
  for (size_t u = 0; u < seqs.size(); ++u) m->ScoreAll(0, seqs[u], expected[u]);
  std::vector<std::vector<float>> got[2];
  auto work = [&](int t) {
    got[t].assign(seqs.size(), std::vector<float>(200));
    for (int rep = 0; rep < 3; ++rep) {
      for (size_t i = 0; i < seqs.size(); ++i) {
        const size_t u = t == 0 ? i : seqs.size() - 1 - i;  // different orders
        m->ScoreAll(0, seqs[u], got[t][u]);
      }
    }
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(got[0], expected);
  EXPECT_EQ(got[1], expected);
}

// The inference forward (models/sasrec_last_hidden.h) computes only the last
// position of the last block: it equals Forward's last row up to rounding
// (double precision here), for both residual placements, one or two heads,
// no, one or two blocks, and histories shorter than, equal to and longer
// than max_len.
TEST(SasRecLastHidden, EqualsTheFullForwardsLastRow) {
  for (const bool pre_ln : {false, true}) {
    for (const uint32_t blocks : {0u, 1u, 2u}) {
      for (const uint32_t heads : {1u, 2u}) {
        SasRecOptions o = SmallOptions({pre_ln, SasRecLoss::kBce, 0, 0.0, 0.0});
        o.blocks = blocks;
        o.heads = heads;
        auto model = SasRecModel::Create(o);
        ASSERT_TRUE(model.ok());
        (*model)->Initialize(7);
        const testing::DoubleParams copy = DoubleCopy((*model)->global_params(), 0.3);
        const std::vector<uint32_t> history = {1, 2, 5, 7, 11, 13, 0, 19, 23, 2, 9, 27};
        for (const size_t n : {1u, 4u, 7u, 12u}) {
          const std::span<const uint32_t> h(history.data(), n);
          sasrec_internal::SeqWorkspace<double> full_ws, last_ws;
          const size_t len = std::min<size_t>(n, o.max_len);
          sasrec_internal::Forward<double>(o, copy.pp.data(), h.subspan(n - len), nullptr, full_ws);
          const double* want = full_ws.hidden_out.Get(len * o.dim) + (len - 1) * o.dim;
          std::vector<double> got(o.dim);
          sasrec_internal::LastHidden<double>(o, copy.pp.data(), h, last_ws, got.data());
          for (uint32_t j = 0; j < o.dim; ++j) {
            EXPECT_NEAR(got[j], want[j], 1e-12 * (1 + std::abs(want[j])))
                << "pre_ln " << pre_ln << " blocks " << blocks << " heads " << heads << " n " << n
                << " j " << j;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace fedrec
