// The blocked full-ranking path and its kernel against naive references:
// every score is ScoreDot's, ScoreDot is what Eigen's dot gave before the
// kernel existed, and the blocked counts give the per-user metrics bitwise,
// for any thread count.
#include "models/full_ranking.h"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "core/random.h"
#include "models/evaluation.h"
#include "models/sasrec.h"
#include "models/score_kernel.h"
#include "tests/testing/fixtures.h"

namespace fedrec {
namespace {

using ::fedrec::testing::SequenceDataset;

std::vector<float> RandomFloats(size_t n, uint64_t seed, uint32_t round = 0) {
  RandomStream s({.seed = seed, .purpose = "test_floats", .round = round});
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(2.0 * s.NextDouble() - 1.0);
  return v;
}

uint32_t Bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

TEST(ScoreKernel, ScoreDotIsEigensDotBitwise) {
  // The scores before this kernel were Map<RowVectorXf>::dot: pin that the
  // kernel's order is that order, at every dimension and any alignment.
  // Only on a build whose Eigen packets are 4 floats (SSE2, the baseline):
  // a wider build sums Eigen's dot differently, the kernel stays as it is.
  if (Eigen::internal::packet_traits<float>::size != 4) {
    GTEST_SKIP() << "Eigen's float packets are not 4 wide in this build";
  }
  ForceScoreKernelForTesting(ScoreKernelIsa::kSse2);
  const std::vector<float> buf = RandomFloats(4096, 7);
  for (uint32_t d = 1; d <= 80; ++d) {
    for (uint32_t off = 0; off < 4; ++off) {
      const float* a = buf.data() + off;
      const float* b = buf.data() + 1000 + 3 * off + d;
      const float eigen = Eigen::Map<const Eigen::RowVectorXf>(b, d).dot(
          Eigen::Map<const Eigen::RowVectorXf>(a, d));
      ASSERT_EQ(Bits(ScoreDot(a, b, d)), Bits(eigen)) << "d=" << d << " off=" << off;
    }
  }
  ForceScoreKernelForTesting(ScoreKernelIsa::kAuto);
}

TEST(ScoreKernel, FmaBuildsScoreWithTheFusedChain) {
  // The fused order (score_kernel.h) written out with std::fma, and the
  // packet order it replaces differs from it somewhere: the test can tell
  // the two apart.
  if (ScoreKernelInUse() != ScoreKernelIsa::kFma) {
    GTEST_SKIP() << "this build's ISA has no FMA; it scores in the packet order";
  }
  const std::vector<float> buf = RandomFloats(4096, 11);
  bool differs_from_packets = false;
  for (uint32_t d = 1; d <= 80; ++d) {
    for (uint32_t off = 0; off < 4; ++off) {
      const float* a = buf.data() + off;
      const float* b = buf.data() + 1000 + 3 * off + d;
      float chain = 0.0f;
      for (uint32_t k = 0; k < d; ++k) chain = std::fma(a[k], b[k], chain);
      ASSERT_EQ(Bits(ScoreDot(a, b, d)), Bits(chain)) << "d=" << d << " off=" << off;
      ForceScoreKernelForTesting(ScoreKernelIsa::kSse2);
      differs_from_packets |= Bits(ScoreDot(a, b, d)) != Bits(chain);
      ForceScoreKernelForTesting(ScoreKernelIsa::kAuto);
    }
  }
  EXPECT_TRUE(differs_from_packets);
}

void BlocksAndCounts();

// Runs `body` once per instruction set of the counting kernel.
template <typename Body>
void ForEachKernel(Body body) {
  for (const ScoreKernelIsa isa :
       {ScoreKernelIsa::kSse2, ScoreKernelIsa::kAvx2, ScoreKernelIsa::kFma}) {
    ForceScoreKernelForTesting(isa);
    SCOPED_TRACE(ScoreKernelName(ScoreKernelIsa::kAuto));
    body();
  }
  ForceScoreKernelForTesting(ScoreKernelIsa::kAuto);
}

TEST(ScoreKernel, BlocksAndCountsAreScoreDotBitwise) {
  ForEachKernel([] { BlocksAndCounts(); });
}

void BlocksAndCounts() {
  // Sizes that leave partial tiles of users and items, and (the last) more
  // items than one packed sub-block of the FMA kernel.
  struct Shape {
    uint32_t d, users, items, begin, end;
  };
  std::vector<Shape> shapes;
  for (const uint32_t d : {1u, 3u, 4u, 5u, 8u, 12u, 13u, 32u, 50u, 63u}) {
    shapes.push_back({d, 7, 31, 3, 30});
  }
  shapes.push_back({32, 13, 600, 5, 590});
  for (const auto [d, users, items, begin, end] : shapes) {
    const std::vector<float> states = RandomFloats(size_t{users} * d, d, 1);
    const std::vector<float> rows = RandomFloats(size_t{items} * d, d, 2);
    std::vector<float> block(size_t{users} * (end - begin));
    ScoreBlock(states.data(), users, rows.data(), d, begin, end, block.data());
    std::vector<float> targets(users);
    std::vector<uint64_t> want_gt(users, 0), want_eq(users, 0);
    for (uint32_t u = 0; u < users; ++u) {
      // Each target is one of the block's own scores: exact ties happen.
      targets[u] = ScoreDot(states.data() + u * d, rows.data() + size_t{(u * 5) % items} * d, d);
      for (uint32_t i = begin; i < end; ++i) {
        const float s = ScoreDot(states.data() + u * d, rows.data() + size_t{i} * d, d);
        ASSERT_EQ(Bits(block[u * (end - begin) + (i - begin)]), Bits(s))
            << d << " " << u << " " << i;
        want_gt[u] += s > targets[u];
        want_eq[u] += s == targets[u];
      }
    }
    std::vector<uint64_t> gt(users, 0), eq(users, 0);
    CountAgainstTargets(states.data(), users, rows.data(), d, begin, end, targets.data(), gt.data(),
                        eq.data());
    EXPECT_EQ(gt, want_gt) << "d=" << d;
    EXPECT_EQ(eq, want_eq) << "d=" << d;
    std::vector<float> one(items);
    ScoreRows(states.data(), rows.data(), d, items, one.data());
    for (uint32_t i = 0; i < items; ++i) {
      ASSERT_EQ(Bits(one[i]), Bits(ScoreDot(states.data(), rows.data() + size_t{i} * d, d)));
    }
  }
}

// A dot-product scorer with a per-user state drawn from small integers (or
// random floats), so exact ties between the target and other items are
// common; some users' states are NaN.
class DotScorer final : public Scorer {
 public:
  DotScorer(uint32_t items, uint32_t d, bool integers, uint64_t seed)
      : items_(items), d_(d), integers_(integers), seed_(seed) {
    RandomStream s({.seed = seed, .purpose = "test_rows"});
    rows_.resize(size_t{items} * d);
    for (float& x : rows_) x = Draw(&s);
    // Duplicate rows: items tied with each other for every user.
    for (uint32_t i = 0; i + 7 < items; i += 11) {
      std::copy_n(rows_.begin() + size_t{i} * d, d, rows_.begin() + size_t{i + 7} * d);
    }
  }
  uint32_t num_items() const override { return items_; }
  DotItems dot_items() const override { return {rows_.data(), d_}; }
  void UserState(uint32_t user, std::span<const uint32_t> history,
                 std::span<float> state) const override {
    RandomStream s({.seed = seed_, .purpose = "test_state", .client = user});
    for (float& x : state) x = Draw(&s);
    if (!history.empty()) state[0] += static_cast<float>(history.back() % 3);
    if (user % 17 == 5) state[1 % d_] = std::numeric_limits<float>::quiet_NaN();
  }
  void ScoreAll(uint32_t user, std::span<const uint32_t> history,
                std::span<float> scores) const override {
    std::vector<float> h(d_);
    UserState(user, history, h);
    for (uint32_t i = 0; i < items_; ++i)
      scores[i] = ScoreDot(h.data(), &rows_[size_t{i} * d_], d_);
  }

 private:
  float Draw(RandomStream* s) const {
    return integers_ ? static_cast<float>(static_cast<int>(s->NextBelow(3)) - 1)
                     : static_cast<float>(2.0 * s->NextDouble() - 1.0);
  }
  uint32_t items_, d_;
  bool integers_;
  uint64_t seed_;
  std::vector<float> rows_;
};

// Users of mixed lengths (some too short to evaluate), histories with
// repeats, targets that repeat an earlier item.
Dataset MixedDataset(uint32_t users, uint32_t items, uint64_t seed) {
  std::vector<std::vector<uint32_t>> seqs(users);
  for (uint32_t u = 0; u < users; ++u) {
    RandomStream s({.seed = seed, .purpose = "test_seq", .client = u});
    const uint32_t len = 1 + s.NextBelow(20);
    for (uint32_t t = 0; t < len; ++t) {
      const bool repeat = t > 0 && s.NextBelow(4) == 0;
      seqs[u].push_back(repeat ? seqs[u][s.NextBelow(t)] : s.NextBelow(items));
    }
  }
  return SequenceDataset(seqs, items);
}

// The protocol written out plainly: the whole score vector, every item
// outside the input history but the target, strictly above / equal.
MetricSums NaiveFullRanking(const Scorer& scorer, const LeaveOneOutSplit& split, SplitPart part,
                            uint32_t k) {
  MetricSums sums;
  std::vector<float> scores(scorer.num_items());
  for (uint32_t u = 0; u < split.data().num_users(); ++u) {
    if (!split.IsEvaluable(u)) continue;
    const auto input = split.Input(u, part);
    const uint32_t target = split.Target(u, part);
    scorer.ScoreAll(u, input, scores);
    uint64_t greater = 0, ties = 0;
    for (uint32_t i = 0; i < scorer.num_items(); ++i) {
      if (i == target || std::find(input.begin(), input.end(), i) != input.end()) continue;
      if (std::isnan(scores[target]) || scores[i] > scores[target]) {
        ++greater;
      } else if (scores[i] == scores[target]) {
        ++ties;
      }
    }
    sums.Add(ExpectedRankMetrics(greater, ties, k));
  }
  return sums;
}

void ExpectSameSums(const MetricSums& a, const MetricSums& b) {
  EXPECT_EQ(a.users, b.users);
  EXPECT_EQ(a.hr, b.hr);
  EXPECT_EQ(a.ndcg, b.ndcg);
  EXPECT_EQ(a.mrr, b.mrr);
}

TEST(FullRankingEval, BlockedEqualsNaiveAndPerUserPaths) {
  struct Case {
    uint32_t users, items, d;
    bool integers;
  };
  // Item counts around and past one block, user counts not a multiple of
  // the batch, dimensions with and without a scalar tail.
  for (const Case c :
       {Case{300, 37, 8, true}, Case{600, kFullRankingItemBlock + 37, 5, true},
        Case{257, 101, 50, false}, Case{100, 64, 3, true}, Case{513, 211, 32, false}}) {
    const Dataset data = MixedDataset(c.users, c.items, c.items);
    const LeaveOneOutSplit split(data);
    const DotScorer scorer(c.items, c.d, c.integers, c.d);
    ForEachKernel([&] {
      for (const SplitPart part : {SplitPart::kValidation, SplitPart::kTest}) {
        EvalOptions opt;
        opt.protocol = EvalProtocol::kFull;
        opt.part = part;
        opt.k = 5;
        opt.threads = 2;
        const auto blocked = Evaluate(scorer, split, opt);
        ASSERT_TRUE(blocked.ok()) << blocked.status();
        ASSERT_GT(blocked->sums.users, 0u);
        ExpectSameSums(blocked->sums, NaiveFullRanking(scorer, split, part, opt.k));
        opt.blocked_full = false;
        const auto per_user = Evaluate(scorer, split, opt);
        ASSERT_TRUE(per_user.ok());
        ExpectSameSums(blocked->sums, per_user->sums);
      }
    });
  }
}

TEST(FullRankingEval, TiesAreCountedNotWon) {
  // Every item scores the same: the target's expected rank is the middle of
  // all candidates, which a wrong tie or exclusion count would move.
  const Dataset data = MixedDataset(50, 40, 3);
  const LeaveOneOutSplit split(data);
  class Constant final : public Scorer {
   public:
    uint32_t num_items() const override { return 40; }
    DotItems dot_items() const override { return {rows_.data(), 4}; }
    void UserState(uint32_t, std::span<const uint32_t>, std::span<float> s) const override {
      std::fill(s.begin(), s.end(), 1.0f);
    }
    void ScoreAll(uint32_t, std::span<const uint32_t>, std::span<float> s) const override {
      std::fill(s.begin(), s.end(), 4.0f);
    }
    std::vector<float> rows_ = std::vector<float>(160, 1.0f);
  } scorer;
  EvalOptions opt;
  opt.protocol = EvalProtocol::kFull;
  const auto r = Evaluate(scorer, split, opt);
  ASSERT_TRUE(r.ok());
  ExpectSameSums(r->sums, NaiveFullRanking(scorer, split, opt.part, opt.k));
}

TEST(FullRankingEval, IndependentOfThreadsSubsetAndStride) {
  const Dataset data = MixedDataset(700, 300, 9);
  const LeaveOneOutSplit split(data);
  const DotScorer scorer(300, 12, true, 4);
  EvalOptions opt;
  opt.protocol = EvalProtocol::kFull;
  opt.threads = 1;
  const auto one = Evaluate(scorer, split, opt);
  ASSERT_TRUE(one.ok());
  for (const uint32_t threads : {2u, 3u, 8u}) {
    opt.threads = threads;
    const auto r = Evaluate(scorer, split, opt);
    ASSERT_TRUE(r.ok());
    ExpectSameSums(r->sums, one->sums);
  }
  // Three strided shares and an explicit user list merge to the whole.
  MetricSums merged;
  std::vector<uint32_t> users;
  for (uint32_t u = 0; u < 700; u += 2) users.push_back(u);
  for (uint32_t offset = 0; offset < 3; ++offset) {
    for (const bool odd : {false, true}) {
      std::vector<uint32_t> mine;
      for (uint32_t u = odd ? 1 : 0; u < 700; u += 2) mine.push_back(u);
      EvalOptions o = opt;
      o.user_offset = offset;
      o.user_stride = 3;
      o.users = mine;
      const auto r = Evaluate(scorer, split, o);
      ASSERT_TRUE(r.ok());
      merged.Merge(r->sums);
    }
  }
  ExpectSameSums(merged, one->sums);
}

TEST(FullRankingEval, TargetItemsSplitTheUsers) {
  // Users selected by their target (the cold items of eval.cold_items) and
  // by the complement of that set sum exactly to all users, on both
  // protocols and both full-ranking paths; all items flagged is everyone.
  const uint32_t items = 300;
  const Dataset data = MixedDataset(700, items, 13);
  const LeaveOneOutSplit split(data);
  const DotScorer scorer(items, 12, true, 4);
  std::vector<uint8_t> flagged(items, 0), others(items, 1), all(items, 1);
  RandomStream rng({.seed = 5, .purpose = "test_mask"});
  for (uint32_t i = 0; i < items; ++i) {
    flagged[i] = rng.NextBelow(5) == 0 ? 1 : 0;
    others[i] = 1 - flagged[i];
  }
  for (const EvalProtocol protocol : {EvalProtocol::kSampled, EvalProtocol::kFull}) {
    for (const bool blocked : {true, false}) {
      for (const SplitPart part : {SplitPart::kValidation, SplitPart::kTest}) {
        EvalOptions opt;
        opt.protocol = protocol;
        opt.part = part;
        opt.negatives = 50;
        opt.blocked_full = blocked;
        const auto whole = Evaluate(scorer, split, opt);
        ASSERT_TRUE(whole.ok()) << whole.status();
        opt.target_items = all;
        const auto everyone = Evaluate(scorer, split, opt);
        ASSERT_TRUE(everyone.ok());
        ExpectSameSums(everyone->sums, whole->sums);
        opt.target_items = flagged;
        const auto a = Evaluate(scorer, split, opt);
        opt.target_items = others;
        const auto b = Evaluate(scorer, split, opt);
        ASSERT_TRUE(a.ok() && b.ok());
        EXPECT_GT(a->sums.users, 50u);
        EXPECT_LT(a->sums.users, whole->sums.users / 2);
        MetricSums merged = a->sums;
        merged.Merge(b->sums);
        ExpectSameSums(merged, whole->sums);
      }
    }
  }
  EvalOptions bad;
  std::vector<uint8_t> short_mask(items - 1, 1);
  bad.target_items = short_mask;
  const auto r = Evaluate(scorer, split, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
}

TEST(FullRankingEval, SasRecBlockedEqualsPerUser) {
  const uint32_t items = 150;
  const Dataset data = MixedDataset(300, items, 5);
  const LeaveOneOutSplit split(data);
  SasRecOptions so;
  so.num_items = items;
  so.dim = 16;
  so.blocks = 1;
  so.max_len = 8;
  auto model = SasRecModel::Create(so);
  ASSERT_TRUE(model.ok());
  (*model)->Initialize(3);
  // ScoreCandidates and ScoreAll agree bitwise (the sampled and full
  // protocols see the same scores).
  const std::vector<uint32_t> history = {4, 9, 4, 77};
  std::vector<float> all(items), some(3);
  const std::vector<uint32_t> candidates = {0, 77, 149};
  (*model)->ScoreAll(0, history, all);
  (*model)->ScoreCandidates(0, history, candidates, some);
  for (size_t j = 0; j < candidates.size(); ++j) EXPECT_EQ(Bits(some[j]), Bits(all[candidates[j]]));
  EvalOptions opt;
  opt.protocol = EvalProtocol::kFull;
  const auto blocked = Evaluate(**model, split, opt);
  ASSERT_TRUE(blocked.ok());
  ExpectSameSums(blocked->sums, NaiveFullRanking(**model, split, opt.part, opt.k));
}

// Cosine / temperature scores are not a plain dot with the raw item table:
// such a model offers no dot items, and the full protocol scores it through
// ScoreAll, agreeing with the naive count.
TEST(FullRankingEval, NormalisedSasRecIsScoredPerUser) {
  const uint32_t items = 120;
  const Dataset data = MixedDataset(200, items, 6);
  const LeaveOneOutSplit split(data);
  for (const auto& [normalize, temperature] : {std::pair{true, 0.05}, std::pair{false, 0.5}}) {
    SasRecOptions so;
    so.num_items = items;
    so.dim = 16;
    so.blocks = 1;
    so.max_len = 8;
    so.loss = SasRecLoss::kCe;
    so.ce_negatives = 16;
    so.normalize = normalize;
    so.temperature = temperature;
    auto model = SasRecModel::Create(so);
    ASSERT_TRUE(model.ok()) << model.status();
    (*model)->Initialize(5);
    EXPECT_EQ((*model)->dot_items().rows, nullptr);
    EvalOptions opt;
    opt.protocol = EvalProtocol::kFull;
    const auto r = Evaluate(**model, split, opt);
    ASSERT_TRUE(r.ok());
    ExpectSameSums(r->sums, NaiveFullRanking(**model, split, opt.part, opt.k));
    // ScoreAll (one row scan of dots, then each item's divisor) and
    // ScoreCandidates (one dot at a time) give the same bits.
    std::vector<uint32_t> every(items);
    std::iota(every.begin(), every.end(), 0u);
    std::vector<float> all(items), one_by_one(items);
    for (uint32_t u = 0; u < 60; ++u) {
      if (!split.IsEvaluable(u)) continue;
      const auto input = split.Input(u, opt.part);
      (*model)->ScoreAll(u, input, all);
      (*model)->ScoreCandidates(u, input, every, one_by_one);
      for (uint32_t i = 0; i < items; ++i) {
        ASSERT_EQ(Bits(all[i]), Bits(one_by_one[i])) << "user " << u << " item " << i;
      }
    }
  }
}

// model.item_repr = text: the blocked path multiplies user states by the
// cached adapted table (the same rows ScoreAll reads), so it agrees with the
// per-user path bitwise; id+text offers no dot items and is scored per user.
TEST(FullRankingEval, TextSasRecBlockedEqualsPerUser) {
  const uint32_t items = 150, f = 12;
  const Dataset data = MixedDataset(300, items, 7);
  const LeaveOneOutSplit split(data);
  auto features = std::make_shared<ItemFeatures>();
  features->num_items = items;
  features->dim = f;
  features->values = RandomFloats(size_t{items} * f, 21);
  for (ItemRepr repr : {ItemRepr::kText, ItemRepr::kIdText}) {
    SasRecOptions so;
    so.num_items = items;
    so.dim = 16;
    so.blocks = 1;
    so.max_len = 8;
    so.item_repr = {repr, layers::AdapterKind::kMlp, f, 0};
    auto model = SasRecModel::Create(so, features);
    ASSERT_TRUE(model.ok()) << model.status();
    (*model)->Initialize(3);
    EXPECT_EQ((*model)->dot_items().rows == nullptr, repr == ItemRepr::kIdText);
    EvalOptions opt;
    opt.protocol = EvalProtocol::kFull;
    const auto blocked = Evaluate(**model, split, opt);
    ASSERT_TRUE(blocked.ok());
    ExpectSameSums(blocked->sums, NaiveFullRanking(**model, split, opt.part, opt.k));
  }
}

}  // namespace
}  // namespace fedrec
