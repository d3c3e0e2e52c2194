// Pins the leave-one-out rule of data/split.h (DESIGN.md "Evaluation protocol").
#include "data/split.h"

#include <gtest/gtest.h>

#include "tests/testing/fixtures.h"

namespace fedrec {
namespace {

using ::fedrec::testing::SequenceDataset;

TEST(LeaveOneOutSplit, LastIsTestSecondToLastIsValidation) {
  const Dataset d = SequenceDataset({{1, 2, 3, 4, 5}});
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
  const Dataset d = SequenceDataset({{7}, {7, 8}, {7, 8, 9}});
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
