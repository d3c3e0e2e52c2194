#include "models/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "core/random.h"
#include "models/pop.h"
#include "tests/testing/fixtures.h"

namespace fedrec {
namespace {

using ::fedrec::testing::SequenceDataset;

// Scores item i as `fixed[i]`, or, when `oracle` is set, puts the true next
// item of a "successor" rule (item + 1) on top.
class TableScorer final : public Scorer {
 public:
  explicit TableScorer(std::vector<float> fixed) : fixed_(std::move(fixed)) {}
  uint32_t num_items() const override { return static_cast<uint32_t>(fixed_.size()); }
  void ScoreAll(uint32_t, std::span<const uint32_t> history,
                std::span<float> scores) const override {
    std::copy(fixed_.begin(), fixed_.end(), scores.begin());
    if (oracle_ && !history.empty()) scores[(history.back() + 1) % fixed_.size()] = 1e9f;
  }
  bool oracle_ = false;

 private:
  std::vector<float> fixed_;
};

Dataset RandomSuccessorDataset(uint32_t users, uint32_t items, uint64_t seed) {
  std::vector<std::vector<uint32_t>> seqs(users);
  for (uint32_t u = 0; u < users; ++u) {
    RandomStream s({.seed = seed, .purpose = "test_seq", .client = u});
    const uint32_t len = 2 + s.NextBelow(12);
    uint32_t item = s.NextBelow(items);
    for (uint32_t t = 0; t < len; ++t) {
      seqs[u].push_back(item);
      item = (item + 1) % items;
    }
  }
  return SequenceDataset(seqs, items);
}

TEST(Evaluate, OracleIsPerfectOnBothProtocolsAndSplits) {
  const Dataset data = RandomSuccessorDataset(300, 500, 1);
  LeaveOneOutSplit split(data);
  TableScorer scorer(std::vector<float>(500, 0.0f));
  scorer.oracle_ = true;
  for (auto protocol : {EvalProtocol::kSampled, EvalProtocol::kFull}) {
    for (auto part : {SplitPart::kValidation, SplitPart::kTest}) {
      EvalOptions opt;
      opt.protocol = protocol;
      opt.part = part;
      auto r = Evaluate(scorer, split, opt);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_DOUBLE_EQ(r->Mean().hr, 1.0);
      EXPECT_DOUBLE_EQ(r->Mean().ndcg, 1.0);
      EXPECT_DOUBLE_EQ(r->Mean().mrr, 1.0);
    }
  }
}

TEST(Evaluate, OnlyUsersWithThreeInteractionsAreEvaluated) {
  const Dataset data = SequenceDataset({{0, 1}, {0, 1, 2}, {3}, {1, 2, 3, 4}}, 6);
  LeaveOneOutSplit split(data);
  TableScorer scorer(std::vector<float>(6, 0.0f));
  auto r = Evaluate(scorer, split, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sums.users, 2u);
}

TEST(Evaluate, ConstantScorerGetsTheRandomBaseline) {
  // With all scores tied, the expected HR@10 on the sampled protocol is
  // 10 / 101 exactly, whatever the negatives are.
  const Dataset data = RandomSuccessorDataset(200, 1000, 2);
  LeaveOneOutSplit split(data);
  TableScorer scorer(std::vector<float>(1000, 0.5f));
  auto r = Evaluate(scorer, split, {});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->Mean().hr, 10.0 / 101.0, 1e-9);
}

TEST(Evaluate, FullProtocolExcludesHistoryButKeepsARepeatedTarget) {
  // User 0: input {0, 1, 2}, test target 1 repeats an earlier item.
  const Dataset data = SequenceDataset({{0, 1, 2, 1}}, 5);
  LeaveOneOutSplit split(data);
  // Item 0 and 2 score above the target but are in the history: excluded.
  TableScorer scorer({9.0f, 5.0f, 8.0f, 1.0f, 0.0f});
  EvalOptions opt;
  opt.protocol = EvalProtocol::kFull;
  opt.part = SplitPart::kTest;
  auto r = Evaluate(scorer, split, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->Mean().mrr, 1.0);
}

TEST(Evaluate, SampledNegativesAvoidEveryTouchedItem) {
  // Touched items score highest; if any were drawn as a negative the target
  // (score 1) would not be first.
  const Dataset data = SequenceDataset({{0, 1, 2, 3, 4, 5, 6}}, 20);
  LeaveOneOutSplit split(data);
  std::vector<float> scores(20, 0.0f);
  for (uint32_t i = 0; i <= 6; ++i) scores[i] = 100.0f;
  scores[6] = 1.0f;  // test target
  TableScorer scorer(scores);
  EvalOptions opt;
  opt.part = SplitPart::kTest;
  auto r = Evaluate(scorer, split, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->Mean().hr, 1.0);
}

TEST(Evaluate, IndependentOfThreadsAndSplitsAcrossWorkers) {
  const Dataset data = RandomSuccessorDataset(1000, 300, 3);
  LeaveOneOutSplit split(data);
  const PopularityModel pop = PopularityModel::Fit(split);
  EvalOptions opt;
  opt.threads = 1;
  auto one = Evaluate(pop, split, opt);
  opt.threads = 3;
  auto three = Evaluate(pop, split, opt);
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_EQ(one->sums.hr, three->sums.hr);
  EXPECT_EQ(one->sums.ndcg, three->sums.ndcg);
  EXPECT_EQ(one->sums.mrr, three->sums.mrr);

  MetricSums merged;
  for (uint32_t w = 0; w < 4; ++w) {
    opt.user_offset = w;
    opt.user_stride = 4;
    auto part = Evaluate(pop, split, opt);
    ASSERT_TRUE(part.ok());
    merged.Merge(part->sums);
  }
  EXPECT_EQ(merged.hr, one->sums.hr);
  EXPECT_EQ(merged.users, one->sums.users);
}

TEST(Evaluate, BadOptionsAreRefused) {
  const Dataset data = SequenceDataset({{0, 1, 2}}, 4);
  LeaveOneOutSplit split(data);
  TableScorer scorer(std::vector<float>(4, 0.0f));
  EvalOptions opt;
  opt.k = 0;
  EXPECT_EQ(Evaluate(scorer, split, opt).status().code(), absl::StatusCode::kInvalidArgument);
  TableScorer wrong(std::vector<float>(7, 0.0f));
  EXPECT_EQ(Evaluate(wrong, split, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseEvalProtocol("bogus").ok());
}

TEST(PopularityModel, CountsOnlyTrainingItems) {
  // User 0 train = {0, 0}, targets 1 (valid) and 2 (test); user 1 trains {2}.
  const Dataset data = SequenceDataset({{0, 0, 1, 2}, {2}}, 3);
  LeaveOneOutSplit split(data);
  const PopularityModel pop = PopularityModel::Fit(split);
  EXPECT_EQ(pop.counts(), (std::vector<float>{2.0f, 0.0f, 1.0f}));
}

}  // namespace
}  // namespace fedrec
