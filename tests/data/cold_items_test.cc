#include "data/cold_items.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "core/random.h"
#include "data/split.h"
#include "tests/testing/fixtures.h"

namespace fedrec {
namespace {

using ::fedrec::testing::SequenceDataset;

// Random sequences of lengths 1..12 over `items` items.
Dataset RandomDataset(uint32_t users, uint32_t items, uint64_t seed) {
  RandomStream rng({.seed = seed, .purpose = "test_data"});
  std::vector<std::vector<uint32_t>> seqs(users);
  for (auto& s : seqs) {
    s.resize(1 + rng.NextBelow(12));
    for (uint32_t& i : s) i = rng.NextBelow(items);
  }
  return SequenceDataset(seqs, items);
}

TEST(ColdItems, DrawsTheRoundedFractionDeterministically) {
  auto a = DrawColdItems(1000, 0.2, 7);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(std::count(a->begin(), a->end(), 1), 200);
  EXPECT_EQ(*a, *DrawColdItems(1000, 0.2, 7));
  EXPECT_NE(*a, *DrawColdItems(1000, 0.2, 8));
  const auto seven = *DrawColdItems(7, 0.5, 1);
  EXPECT_EQ(std::count(seven.begin(), seven.end(), 1), 4);  // 3.5 rounds up
  EXPECT_TRUE(DrawColdItems(1000, 0.0, 7)->empty());
}

TEST(ColdItems, DrawIsRoughlyUniformOverItems) {
  // Each of 100 items is cold with probability 0.3 per seed; over 400 seeds
  // every item's count is Binomial(400, 0.3): mean 120, sd 9.2.
  std::vector<int> hits(100, 0);
  for (uint64_t seed = 0; seed < 400; ++seed) {
    const auto cold = *DrawColdItems(100, 0.3, seed);
    for (size_t i = 0; i < cold.size(); ++i) hits[i] += cold[i];
  }
  for (int h : hits) {
    EXPECT_GT(h, 120 - 50);  // > 5 sd: a failure is not chance
    EXPECT_LT(h, 120 + 50);
  }
}

TEST(ColdItems, RefusesAFractionOutsideTheUnitInterval) {
  for (double f : {-0.1, 1.0, 1.5}) {
    const auto r = DrawColdItems(10, f, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("eval.cold_items"));
  }
}

TEST(ColdItems, WithholdsEverywhereButTheTestTarget) {
  // Item 9 is cold.
  Dataset d = SequenceDataset({{1, 9, 2, 3, 9},  // 9 inside and as the target
                               {9, 4},           // cold first item
                               {5, 9, 9},        // a cold target after one item: dropped
                               {9, 9},           // emptied
                               {1, 2, 9, 3}},    // target not cold
                              10);
  std::vector<uint8_t> cold(10, 0);
  cold[9] = 1;
  const ColdItems c = WithholdColdItems(cold, &d);
  EXPECT_EQ(c.items, 1u);
  EXPECT_EQ(c.cold_target_users, 1u);
  EXPECT_EQ(c.emptied_users, 1u);
  EXPECT_EQ(c.withheld, 7u);
  EXPECT_EQ(d.num_users(), 5u);
  EXPECT_EQ(d.num_items(), 10u);
  const auto seq = [&](uint32_t u) {
    const auto s = d.Sequence(u);
    return std::vector<uint32_t>(s.begin(), s.end());
  };
  using V = std::vector<uint32_t>;
  EXPECT_EQ(seq(0), (V{1, 2, 3, 9}));
  EXPECT_EQ(seq(1), (V{4}));
  EXPECT_EQ(seq(2), V{5});
  EXPECT_EQ(seq(3), V{});
  EXPECT_EQ(seq(4), (V{1, 2, 3}));
  EXPECT_EQ(d.items.size(), d.timestamps.size());
  EXPECT_EQ(d.items.size(), d.ratings.size());
  // Timestamps travel with their items.
  EXPECT_EQ(d.timestamps[d.offsets[0] + 3], 5);
}

TEST(ColdItems, NoColdItemOutsideTestTargetsAndTheTargetsAreKept) {
  Dataset original = RandomDataset(3000, 200, 3);
  Dataset d = original;
  auto c = ApplyColdItems(0.25, 11, &d);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->enabled());
  EXPECT_EQ(c->items, 50u);
  EXPECT_EQ(c->withheld, original.num_interactions() - d.num_interactions());
  const LeaveOneOutSplit split(d), before(original);
  uint64_t cold_targets = 0;
  for (uint32_t u = 0; u < d.num_users(); ++u) {
    for (uint32_t i : split.Train(u)) ASSERT_EQ(c->is_cold[i], 0) << "user " << u;
    if (!split.IsEvaluable(u)) continue;
    ASSERT_EQ(c->is_cold[split.Target(u, SplitPart::kValidation)], 0);
    for (SplitPart part : {SplitPart::kValidation, SplitPart::kTest}) {
      for (uint32_t i : split.Input(u, part)) ASSERT_EQ(c->is_cold[i], 0);
    }
    // The test target is the original last item, cold or not.
    const auto orig = original.Sequence(u);
    ASSERT_EQ(split.Target(u, SplitPart::kTest), orig.back());
    cold_targets += c->is_cold[orig.back()];
  }
  EXPECT_EQ(cold_targets, c->cold_target_users);
  EXPECT_GT(c->cold_target_users, 100u);  // about a quarter of the evaluable users
  // The non-cold interactions are all kept, in order.
  for (uint32_t u = 0; u < d.num_users(); ++u) {
    std::vector<uint32_t> warm;
    for (uint32_t i : original.Sequence(u)) {
      if (c->is_cold[i] == 0) warm.push_back(i);
    }
    auto s = d.Sequence(u);
    std::vector<uint32_t> got(s.begin(), s.end());
    if (!got.empty() && c->is_cold[got.back()] != 0) got.pop_back();
    ASSERT_EQ(got, warm) << "user " << u;
  }
  // Deterministic.
  Dataset again = original;
  ASSERT_TRUE(ApplyColdItems(0.25, 11, &again).ok());
  EXPECT_EQ(again.items, d.items);
  EXPECT_EQ(again.offsets, d.offsets);
}

TEST(ColdItems, ZeroFractionLeavesTheDataAlone) {
  Dataset original = RandomDataset(50, 20, 1);
  Dataset d = original;
  auto c = ApplyColdItems(0.0, 1, &d);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->enabled());
  EXPECT_EQ(d.items, original.items);
  EXPECT_EQ(d.offsets, original.offsets);
}

}  // namespace
}  // namespace fedrec
