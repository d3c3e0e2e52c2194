// Pins the leave-one-out rule of data/split.h (DESIGN.md "Evaluation protocol").
#include "data/split.h"

#include <gtest/gtest.h>

namespace fedrec {
namespace {

Dataset Sequences(const std::vector<std::vector<uint32_t>>& seqs) {
  Dataset d;
  d.offsets.push_back(0);
  uint32_t max_item = 0;
  for (size_t u = 0; u < seqs.size(); ++u) {
    d.user_ids.push_back(u);
    for (uint32_t i : seqs[u]) {
      d.items.push_back(i);
      d.timestamps.push_back(static_cast<int64_t>(d.items.size()));
      d.ratings.push_back(1.0f);
      max_item = std::max(max_item, i);
    }
    d.offsets.push_back(d.items.size());
  }
  for (uint32_t i = 0; i <= max_item; ++i) d.item_ids.push_back(i);
  return d;
}

TEST(LeaveOneOutSplit, LastIsTestSecondToLastIsValidation) {
  const Dataset d = Sequences({{1, 2, 3, 4, 5}});
  const LeaveOneOutSplit split(d);
  ASSERT_TRUE(split.IsEvaluable(0));
  EXPECT_EQ(std::vector<uint32_t>(split.Train(0).begin(), split.Train(0).end()),
            (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(split.Target(0, SplitPart::kValidation), 4u);
  EXPECT_EQ(split.Target(0, SplitPart::kTest), 5u);
  const auto valid_in = split.Input(0, SplitPart::kValidation);
  const auto test_in = split.Input(0, SplitPart::kTest);
  EXPECT_EQ(std::vector<uint32_t>(valid_in.begin(), valid_in.end()),
            (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(std::vector<uint32_t>(test_in.begin(), test_in.end()),
            (std::vector<uint32_t>{1, 2, 3, 4}));
}

TEST(LeaveOneOutSplit, UsersWithFewerThanThreeInteractionsOnlyTrain) {
  const Dataset d = Sequences({{7}, {7, 8}, {7, 8, 9}});
  const LeaveOneOutSplit split(d);
  EXPECT_FALSE(split.IsEvaluable(0));
  EXPECT_FALSE(split.IsEvaluable(1));
  EXPECT_TRUE(split.IsEvaluable(2));
  EXPECT_EQ(split.Train(0).size(), 1u);
  EXPECT_EQ(split.Train(1).size(), 2u);
  // Three interactions: one training item, one validation, one test.
  ASSERT_EQ(split.Train(2).size(), 1u);
  EXPECT_EQ(split.Train(2)[0], 7u);
  EXPECT_EQ(split.Target(2, SplitPart::kValidation), 8u);
  EXPECT_EQ(split.Target(2, SplitPart::kTest), 9u);
}

}  // namespace
}  // namespace fedrec
