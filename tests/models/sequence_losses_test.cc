// Losses with negatives shared by a sequence (models/sequence_losses.h):
// finite-difference gradient checks (double) of the full SASRec model for
// every loss/option combination, the head against a per-position reference,
// the sampler's invariants (no negative is any item of the sequence), the
// popularity alias table and its logQ, gBCE's beta, and cosine scoring.
#include "models/sequence_losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "core/random.h"
#include "models/sasrec.h"
#include "models/sasrec_impl.h"
#include "tests/models/sasrec_double.h"

namespace fedrec {
namespace {

using seqloss::HeadLoss;
using testing::CheckGradient;
using testing::DoubleCopy;
using testing::Random;
using testing::Vec;

// ---- gBCE's beta -------------------------------------------------------------

TEST(Gbce, BetaFollowsThePaper) {
  // t = 0: plain BCE; t = 1: beta = alpha = k / (|I| - 1).
  EXPECT_DOUBLE_EQ(seqloss::GbceBeta(256, 3417, 0.0), 1.0);
  EXPECT_NEAR(seqloss::GbceBeta(256, 3417, 1.0), 256.0 / 3416.0, 1e-15);
  // ML-1M, 256 negatives, t = 0.75: beta = 0.25 + 0.75 * alpha.
  EXPECT_NEAR(seqloss::GbceBeta(256, 3417, 0.75), 0.25 + 0.75 * 256.0 / 3416.0, 1e-15);
}

// ---- Shared negatives ----------------------------------------------------------

const ExcludedItems kNone;

TEST(SharedNegatives, NeverAnItemOfTheSequenceSoNoTargetIsEverANegative) {
  const uint32_t items = 40;
  std::vector<uint8_t> seen;
  std::vector<uint32_t> negs;
  std::vector<double> logq;
  std::vector<uint64_t> counts(items);
  for (uint32_t i = 0; i < items; ++i) counts[i] = 1 + (i * 7) % 13;
  const seqloss::PopularityTable table(counts);
  for (uint32_t user = 0; user < 200; ++user) {
    RandomStream gen({3, "test", user, 0, 0});
    std::vector<uint32_t> seq(2 + gen.NextBelow(30));
    for (uint32_t& i : seq) i = gen.NextBelow(items);
    for (const seqloss::PopularityTable* t :
         {static_cast<const seqloss::PopularityTable*>(nullptr), &table}) {
      RandomStream stream({1, "train_negatives", 2, user, 3});
      seqloss::DrawSharedNegatives(stream, seq, items, t, 64, kNone, seen, &negs, &logq);
      ASSERT_EQ(negs.size(), 64u);
      for (uint32_t n : negs) {
        for (uint32_t i : seq) ASSERT_NE(n, i) << "user " << user;
      }
    }
    EXPECT_EQ(std::accumulate(seen.begin(), seen.end(), 0), 0) << "seen must be left cleared";
  }
}

TEST(SharedNegatives, NoneWhenTheUserHasEveryItem) {
  std::vector<uint8_t> seen;
  std::vector<uint32_t> negs = {1, 2};
  std::vector<double> logq;
  const std::vector<uint32_t> seq = {0, 1, 2, 3, 1};
  RandomStream stream({1, "train_negatives", 0, 0, 0});
  seqloss::DrawSharedNegatives(stream, seq, 4, nullptr, 8, kNone, seen, &negs, &logq);
  EXPECT_TRUE(negs.empty());
}

// Per-position draws are successive shared draws from one stream: position
// t's k negatives are the t-th set, with their logQ, none in the sequence;
// none at all for a user who has every item.
TEST(PerPositionNegatives, SuccessiveSetsFromOneStream) {
  std::vector<uint8_t> seen;
  std::vector<uint64_t> counts(50);
  for (uint32_t i = 0; i < 50; ++i) counts[i] = 1 + (i * 3) % 7;
  const seqloss::PopularityTable table(counts);
  const std::vector<uint32_t> seq = {4, 9, 9, 31, 2, 17};
  std::vector<uint32_t> all, one;
  std::vector<double> all_logq, one_logq;
  RandomStream a({1, "train_negatives", 2, 5, 3}), b({1, "train_negatives", 2, 5, 3});
  seqloss::DrawPerPositionNegatives(a, seq, 50, &table, 6, 5, kNone, seen, &all, &all_logq);
  ASSERT_EQ(all.size(), 30u);
  ASSERT_EQ(all_logq.size(), 30u);
  for (size_t t = 0; t < 5; ++t) {
    seqloss::DrawSharedNegatives(b, seq, 50, &table, 6, kNone, seen, &one, &one_logq);
    for (size_t k = 0; k < 6; ++k) {
      EXPECT_EQ(all[t * 6 + k], one[k]);
      EXPECT_EQ(all_logq[t * 6 + k], one_logq[k]);
      for (uint32_t i : seq) EXPECT_NE(one[k], i);
    }
  }
  // Distinct positions get distinct sets (30 draws from 45 items).
  EXPECT_GT(std::set<uint32_t>(all.begin(), all.end()).size(), 6u);
  const std::vector<uint32_t> everything = {0, 1, 2, 3};
  RandomStream c({1, "train_negatives", 0, 0, 0});
  seqloss::DrawPerPositionNegatives(c, everything, 4, nullptr, 3, 3, kNone, seen, &all, &all_logq);
  EXPECT_TRUE(all.empty());
  EXPECT_TRUE(all_logq.empty());
}

TEST(SharedNegatives, PopularityFrequenciesAndLogQ) {
  const std::vector<uint64_t> counts = {0, 1, 2, 3, 4, 10, 0, 30};  // total 50
  const seqloss::PopularityTable table(counts);
  RandomStream stream({9, "test", 0, 0, 0});
  std::vector<double> freq(counts.size(), 0);
  const int draws = 200000;
  for (int i = 0; i < draws; ++i) freq[table.Draw(stream)] += 1.0 / draws;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double p = static_cast<double>(counts[i]) / 50.0;
    // 6 binomial standard deviations.
    EXPECT_NEAR(freq[i], p, 6 * std::sqrt(p * (1 - p) / draws) + 1e-12) << "item " << i;
  }
  // The user holds items 7 and 2 (mass 32): q = count / 18 for the rest.
  std::vector<uint8_t> seen;
  std::vector<uint32_t> negs;
  std::vector<double> logq;
  const std::vector<uint32_t> seq = {7, 2, 7};
  RandomStream s2({9, "train_negatives", 0, 0, 0});
  seqloss::DrawSharedNegatives(s2, seq, 8, &table, 16, kNone, seen, &negs, &logq);
  ASSERT_EQ(logq.size(), 16u);
  for (size_t k = 0; k < negs.size(); ++k) {
    EXPECT_NE(counts[negs[k]], 0u);
    EXPECT_DOUBLE_EQ(logq[k], std::log(16.0 * static_cast<double>(counts[negs[k]]) / 18.0));
  }
  // When the user's items hold all the mass, the rest is drawn uniformly.
  const std::vector<uint32_t> heavy = {1, 2, 3, 4, 5, 7};
  seqloss::DrawSharedNegatives(s2, heavy, 8, &table, 10, kNone, seen, &negs, &logq);
  for (size_t k = 0; k < negs.size(); ++k) {
    EXPECT_TRUE(negs[k] == 0 || negs[k] == 6);
    EXPECT_DOUBLE_EQ(logq[k], std::log(10.0 / 2.0));
  }
}

TEST(SharedNegatives, NeverAnExcludedItemAndLogQOverWhatIsLeft) {
  const uint32_t items = 30;
  std::vector<uint8_t> flags(items, 0);
  for (uint32_t i : {0u, 4u, 5u, 17u, 29u}) flags[i] = 1;
  const ExcludedItems excluded(flags);
  std::vector<uint64_t> counts(items, 2);
  counts[17] = 40;  // an excluded heavy item: its mass leaves q's denominator
  const seqloss::PopularityTable table(counts);
  const uint64_t total = 2 * (items - 1) + 40;
  std::vector<uint8_t> seen;
  std::vector<uint32_t> negs;
  std::vector<double> logq;
  const std::vector<uint32_t> seq = {3, 4, 3, 8};  // 4 is also excluded
  std::vector<int> hits(items, 0);
  for (uint32_t user = 0; user < 300; ++user) {
    for (const seqloss::PopularityTable* t :
         {static_cast<const seqloss::PopularityTable*>(nullptr), &table}) {
      RandomStream stream({5, "train_negatives", 0, user, 0});
      seqloss::DrawSharedNegatives(stream, seq, items, t, 16, excluded, seen, &negs, &logq);
      ASSERT_EQ(negs.size(), 16u);
      for (size_t k = 0; k < negs.size(); ++k) {
        const uint32_t n = negs[k];
        ++hits[n];
        ASSERT_FALSE(excluded.contains(n)) << n;
        ASSERT_TRUE(n != 3 && n != 8) << n;
        if (t == nullptr) continue;
        // Rejected mass: the user's items 3 and 8 and the five excluded.
        const double rest = static_cast<double>(total - 2 * 2 - (2 * 4 + 40));
        EXPECT_DOUBLE_EQ(logq[k], std::log(16.0 * 2.0 / rest));
      }
    }
  }
  // Every available item is drawn (the exclusion removes, it does not skew).
  for (uint32_t i = 0; i < items; ++i) {
    if (!excluded.contains(i) && i != 3 && i != 8) {
      EXPECT_GT(hits[i], 100) << i;
    }
  }
  EXPECT_EQ(std::accumulate(seen.begin(), seen.end(), 0), 0);
  // Uniform draws with nothing excluded are the draws of an empty set.
  std::vector<uint32_t> a, b;
  RandomStream s1({5, "train_negatives", 0, 1, 0}), s2({5, "train_negatives", 0, 1, 0});
  seqloss::DrawSharedNegatives(s1, seq, items, nullptr, 16, kNone, seen, &a, nullptr);
  seqloss::DrawSharedNegatives(s2, seq, items, nullptr, 16,
                               ExcludedItems(std::vector<uint8_t>(items, 0)), seen, &b, nullptr);
  EXPECT_EQ(a, b);
  // Nothing left: no negatives.
  std::vector<uint8_t> all_but(items, 1);
  all_but[3] = all_but[8] = 0;
  RandomStream s3({5, "train_negatives", 0, 2, 0});
  seqloss::DrawSharedNegatives(s3, seq, items, nullptr, 16, ExcludedItems(all_but), seen, &negs,
                               nullptr);
  EXPECT_TRUE(negs.empty());
}

TEST(UnseenItemSampler, UniformOverTheItemsNeitherSeenNorExcluded) {
  const uint32_t items = 10;
  std::vector<uint8_t> flags(items, 0);
  flags[2] = flags[7] = 1;
  const ExcludedItems excluded(flags);
  UnseenItemSampler sampler(items);
  const std::vector<uint32_t> seq = {0, 7, 0};
  ASSERT_TRUE(sampler.Begin(seq, excluded));
  RandomStream stream({8, "test", 0, 0, 0});
  const int draws = 70000;
  std::vector<int> hits(items, 0);
  for (int k = 0; k < draws; ++k) ++hits[sampler.Draw(stream, excluded)];
  sampler.End(seq);
  // 7 available items: 1/7 each, within 6 binomial standard deviations.
  const double p = 1.0 / 7, sd = std::sqrt(p * (1 - p) / draws);
  for (uint32_t i = 0; i < items; ++i) {
    const bool available = i != 0 && i != 2 && i != 7;
    if (!available) {
      EXPECT_EQ(hits[i], 0) << i;
    } else {
      EXPECT_NEAR(hits[i] / static_cast<double>(draws), p, 6 * sd) << i;
    }
  }
  // The user's items and the excluded ones covering the catalogue: none left.
  const std::vector<uint32_t> rest = {0, 1, 3, 4, 5, 6, 8, 9};
  EXPECT_FALSE(sampler.Begin(rest, excluded));
  sampler.End(rest);
  EXPECT_TRUE(sampler.Begin(rest, ExcludedItems()));
  sampler.End(rest);
}

// ---- The head against a per-position reference ----------------------------------

TEST(SharedNegativesLoss, MatchesAPerPositionReference) {
  const int len = 5, d = 4, items = 12;
  Vec h = Random(len * d, 1), emb = Random(items * d, 2);
  const std::vector<uint32_t> targets = {1, 3, 5, 7, 9};
  const std::vector<uint32_t> negs = {0, 2, 4, 2, 11};
  const std::vector<double> logq = {0.1, -0.3, 0.2, -0.3, 0.5};
  auto row = [&](const Vec& m, uint32_t r) {
    return Vec(m.begin() + r * d, m.begin() + r * d + d);
  };
  auto unit = [](Vec v) {
    const double n = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
    for (double& x : v) x /= n;
    return v;
  };
  auto dot = [](const Vec& a, const Vec& b) {
    return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
  };
  for (HeadLoss kind : {HeadLoss::kSampledSoftmax, HeadLoss::kGbce}) {
    for (bool norm : {false, true}) {
      seqloss::HeadOptions o{.loss = kind, .normalize = norm, .temperature = 0.3, .gbce_beta = 0.4};
      double want = 0;
      for (int t = 0; t < len; ++t) {
        Vec ht = row(h, t);
        if (norm) ht = unit(ht);
        auto logit = [&](uint32_t item) {
          Vec e = row(emb, item);
          if (norm) e = unit(e);
          return dot(ht, e) / 0.3;
        };
        const double sp = logit(targets[t]);
        std::vector<double> sn;
        for (size_t k = 0; k < negs.size(); ++k) sn.push_back(logit(negs[k]) - logq[k]);
        if (kind == HeadLoss::kSampledSoftmax) {
          double z = std::exp(sp);
          for (double s : sn) z += std::exp(s);
          want += std::log(z) - sp;
        } else {
          want += 0.4 * std::log1p(std::exp(-sp));
          for (double s : sn) want += std::log1p(std::exp(s));
        }
      }
      seqloss::HeadScratch<double> ws;
      const double got = seqloss::SharedNegativesLoss<double>(
          o, layers::ConstMatrixMap<double>(h.data(), len, d),
          layers::ConstMatrixMap<double>(emb.data(), items, d), targets, negs, logq.data(), nullptr,
          nullptr, nullptr, 0, ws);
      EXPECT_NEAR(got, want, 1e-12 * std::abs(want)) << static_cast<int>(kind) << " " << norm;
    }
  }
}

// ---- The full model, every combination --------------------------------------------

struct LossCase {
  std::string name;
  SasRecLoss loss;
  uint32_t negatives;
  NegativeSampler sampler;
  bool normalize;
  double temperature;
  double dropout;
  double l2;
  bool per_position = false;
  bool separate_output = false;
};

class SharedLossGradients : public ::testing::TestWithParam<LossCase> {};

TEST_P(SharedLossGradients, EveryTensorMatchesFiniteDifferences) {
  const LossCase& c = GetParam();
  SasRecOptions o;
  o.num_items = 30;
  o.dim = 6;
  o.blocks = 2;
  o.heads = 2;
  o.max_len = 7;
  o.dropout = c.dropout;
  o.loss = c.loss;
  o.ce_negatives = c.negatives;
  o.sampler = c.sampler;
  o.normalize = c.normalize;
  o.temperature = c.temperature;
  o.l2_emb = c.l2;
  o.gbce_t = 0.6;
  o.negatives_per_position = c.per_position;
  o.separate_output = c.separate_output;
  ASSERT_TRUE(ValidateSasRecOptions(o).ok()) << ValidateSasRecOptions(o);
  auto model = SasRecModel::Create(o);
  ASSERT_TRUE(model.ok());
  (*model)->Initialize(5);
  std::vector<uint64_t> counts(o.num_items);
  for (uint32_t i = 0; i < o.num_items; ++i) counts[i] = 1 + (i * 5) % 9;
  const seqloss::PopularityTable table(counts);
  const ParameterStore& store = (*model)->global_params();
  // Double copies of the parameters, perturbed (DoubleCopy).
  testing::DoubleParams copy = DoubleCopy(store, 0.3);
  std::vector<Vec>& params = copy.params;
  std::vector<Vec>& grads = copy.grads;
  const std::vector<const double*>& pp = copy.pp;
  const std::vector<double*>& gp = copy.gp;
  const std::vector<uint32_t> short_seq = {3, 17, 4, 29, 8};
  const std::vector<uint32_t> long_seq = {1, 2, 5, 7, 11, 13, 0, 19, 23, 2, 9, 27, 6};
  const StepKey key{11, 2, 3};
  sasrec_internal::SeqWorkspace<double> ws;
  auto loss = [&](double* const* g) {
    uint64_t examples = 0;
    double l = sasrec_internal::SequenceLoss<double>(o, pp.data(), g, nullptr, 4, short_seq, key,
                                                     true, ws, &examples, &table);
    l += sasrec_internal::SequenceLoss<double>(o, pp.data(), g, nullptr, 9, long_seq, key, true, ws,
                                               &examples, &table);
    EXPECT_EQ(examples, 4u + 7u);
    return l;
  };
  loss(gp.data());
  auto f = [&] { return loss(nullptr); };
  for (size_t k = 0; k < params.size(); ++k) {
    std::vector<size_t> idx;
    if (k == sasrec_internal::kItemEmb ||
        (o.separate_output && k == sasrec_internal::OutEmbIndex(o))) {
      // Inputs/targets, likely negatives and rows no loss reads.
      for (uint32_t row : {3u, 29u, 9u, 6u, 0u, 14u, 21u, 10u, 25u}) {
        for (uint32_t j = 0; j < o.dim; j += 2) idx.push_back(row * o.dim + j);
      }
    } else {
      for (size_t i = 0; i < params[k].size(); i += std::max<size_t>(1, params[k].size() / 7)) {
        idx.push_back(i);
      }
    }
    CheckGradient(store.layout()[k].name, params[k], grads[k], f, idx);
  }
}

const auto kU = NegativeSampler::kUniform;
const auto kP = NegativeSampler::kPopularity;

INSTANTIATE_TEST_SUITE_P(
    Combinations, SharedLossGradients,
    ::testing::Values(
        LossCase{"SampledSoftmax", SasRecLoss::kCe, 5, kU, false, 1.0, 0.0, 0},
        LossCase{"SampledSoftmaxDropoutL2", SasRecLoss::kCe, 5, kU, false, 1.0, 0.3, 0.05},
        LossCase{"SampledSoftmaxPopularity", SasRecLoss::kCe, 5, kP, false, 1.0, 0.0, 0},
        LossCase{"SampledSoftmaxNormTemp", SasRecLoss::kCe, 5, kU, true, 0.2, 0.0, 0},
        LossCase{"SampledSoftmaxNormTemp005Popularity", SasRecLoss::kCe, 5, kP, true, 0.05, 0.3, 0},
        LossCase{"SampledSoftmaxTempOnly", SasRecLoss::kCe, 5, kU, false, 0.5, 0.0, 0},
        LossCase{"Gbce", SasRecLoss::kGbce, 5, kU, false, 1.0, 0.0, 0},
        LossCase{"GbceDropoutL2", SasRecLoss::kGbce, 5, kU, false, 1.0, 0.3, 0.05},
        LossCase{"GbcePopularity", SasRecLoss::kGbce, 5, kP, false, 1.0, 0.0, 0},
        LossCase{"GbceNormTemp", SasRecLoss::kGbce, 5, kU, true, 0.2, 0.0, 0},
        LossCase{"FullCeNormTemp", SasRecLoss::kCe, 0, kU, true, 0.2, 0.0, 0},
        LossCase{"FullCeTempOnly", SasRecLoss::kCe, 0, kU, false, 0.5, 0.3, 0},
        LossCase{"GbcePerPositionDropoutL2", SasRecLoss::kGbce, 3, kU, false, 1.0, 0.3, 0.05, true},
        LossCase{"GbcePerPositionPopularityNormTemp", SasRecLoss::kGbce, 3, kP, true, 0.2, 0.0, 0,
                 true},
        LossCase{"SampledSoftmaxPerPositionL2", SasRecLoss::kCe, 4, kU, false, 1.0, 0.0, 0.05,
                 true},
        LossCase{"BceSeparateOutputL2", SasRecLoss::kBce, 0, kU, false, 1.0, 0.3, 0.05, false,
                 true},
        LossCase{"GbceSeparateOutputL2", SasRecLoss::kGbce, 5, kU, false, 1.0, 0.0, 0.05, false,
                 true},
        LossCase{"FullCeSeparateOutputNormTemp", SasRecLoss::kCe, 0, kU, true, 0.2, 0.0, 0.05,
                 false, true}),
    [](const ::testing::TestParamInfo<LossCase>& info) { return info.param.name; });

// ---- Options and scoring -------------------------------------------------------

TEST(SharedLossOptions, RefusesWhatDoesNotApply) {
  SasRecOptions o;
  o.num_items = 10;
  o.normalize = true;  // bce
  EXPECT_FALSE(ValidateSasRecOptions(o).ok());
  o = SasRecOptions{};
  o.num_items = 10;
  o.loss = SasRecLoss::kGbce;  // no negatives
  EXPECT_FALSE(ValidateSasRecOptions(o).ok());
  o.ce_negatives = 4;
  EXPECT_TRUE(ValidateSasRecOptions(o).ok());
  o.temperature = 0;
  EXPECT_FALSE(ValidateSasRecOptions(o).ok());
  o.temperature = 1;
  o.gbce_t = 1.5;
  EXPECT_FALSE(ValidateSasRecOptions(o).ok());
}

TEST(SharedLossScoring, NormalisedScoresAreCosinesOverTau) {
  SasRecOptions o;
  o.num_items = 50;
  o.dim = 8;
  o.heads = 2;
  o.max_len = 10;
  o.loss = SasRecLoss::kCe;
  o.ce_negatives = 8;
  o.normalize = true;
  o.temperature = 0.05;
  auto model = SasRecModel::Create(o);
  ASSERT_TRUE(model.ok());
  (*model)->Initialize(3);
  const std::vector<uint32_t> history = {4, 9, 2, 33};
  std::vector<float> h(o.dim), all(o.num_items), some(3);
  (*model)->LastHiddenState(history, h);
  (*model)->ScoreAll(0, history, all);
  const float* emb = (*model)->global_params().ViewAt(0).data;
  double hn = 0;
  for (float x : h) hn += double{x} * x;
  for (uint32_t i = 0; i < o.num_items; ++i) {
    double dot = 0, en = 0;
    for (uint32_t j = 0; j < o.dim; ++j) {
      dot += double{h[j]} * emb[i * o.dim + j];
      en += double{emb[i * o.dim + j]} * emb[i * o.dim + j];
    }
    EXPECT_NEAR(all[i], dot / std::sqrt(hn * en) / 0.05, 1e-4) << i;
  }
  const std::vector<uint32_t> cands = {7, 0, 49};
  (*model)->ScoreCandidates(0, history, cands, some);
  for (size_t j = 0; j < cands.size(); ++j) EXPECT_EQ(some[j], all[cands[j]]);
}

// A separate output table: scores are dot products with out_emb rows (also
// through dot_items, which the blocked full ranking uses), inputs touch
// item_emb, and scored items out_emb.
TEST(SharedLossScoring, SeparateOutputScoresAgainstOutEmb) {
  SasRecOptions o;
  o.num_items = 40;
  o.dim = 8;
  o.heads = 2;
  o.max_len = 10;
  o.loss = SasRecLoss::kCe;
  o.ce_negatives = 6;
  o.separate_output = true;
  auto model = SasRecModel::Create(o);
  ASSERT_TRUE(model.ok());
  (*model)->Initialize(3);
  const size_t out = sasrec_internal::OutEmbIndex(o);
  ASSERT_EQ((*model)->global_params().layout()[out].name, "out_emb");
  const std::vector<uint32_t> history = {4, 9, 2, 33};
  std::vector<float> h(o.dim), all(o.num_items);
  (*model)->LastHiddenState(history, h);
  (*model)->ScoreAll(0, history, all);
  const float* table = (*model)->global_params().ViewAt(out).data;
  for (uint32_t i = 0; i < o.num_items; ++i) {
    double dot = 0;
    for (uint32_t j = 0; j < o.dim; ++j) dot += double{h[j]} * table[i * o.dim + j];
    EXPECT_NEAR(all[i], dot, 1e-5) << i;
  }
  EXPECT_EQ((*model)->dot_items().rows, table);
  Gradients g = (*model)->NewGlobalGradients();
  EXPECT_TRUE(g.IsSparse(out));
  auto ws = (*model)->NewWorkspace();
  const std::vector<uint32_t> seq = {3, 5, 7, 9};
  const UserSequence us{0, seq, {}};
  (*model)->ForwardBackward({&us, 1}, StepKey{1, 0, 0}, ws.get(), &g, nullptr);
  const auto& in_rows = g.TouchedRows(sasrec_internal::kItemEmb);
  EXPECT_EQ(std::set<uint32_t>(in_rows.begin(), in_rows.end()), (std::set<uint32_t>{3, 5, 7}));
  const auto& out_rows = g.TouchedRows(out);
  const std::set<uint32_t> scored(out_rows.begin(), out_rows.end());
  for (uint32_t t : {5u, 7u, 9u}) EXPECT_TRUE(scored.contains(t));
  EXPECT_FALSE(scored.contains(3));
  o.item_repr.repr = ItemRepr::kText;
  EXPECT_FALSE(ValidateSasRecOptions(o).ok());
}

TEST(SharedLossModel, PopularityNeedsMatchingCounts) {
  SasRecOptions o;
  o.num_items = 5;
  o.dim = 4;
  o.heads = 1;
  o.max_len = 4;
  o.loss = SasRecLoss::kCe;
  o.ce_negatives = 3;
  o.sampler = NegativeSampler::kPopularity;
  auto model = SasRecModel::Create(o);
  ASSERT_TRUE(model.ok());
  const std::vector<uint64_t> wrong = {1, 2};
  const std::vector<uint64_t> zeros(5, 0);
  const std::vector<uint64_t> good = {1, 2, 3, 0, 5};
  EXPECT_FALSE((*model)->SetItemPopularity(wrong).ok());
  EXPECT_FALSE((*model)->SetItemPopularity(zeros).ok());
  EXPECT_TRUE((*model)->SetItemPopularity(good).ok());
}

}  // namespace
}  // namespace fedrec
