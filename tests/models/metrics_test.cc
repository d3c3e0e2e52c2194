#include "models/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fedrec {
namespace {

TEST(ExpectedRankMetrics, NoTiesIsTheUsualDefinition) {
  const RankMetrics top = ExpectedRankMetrics(0, 0, 10);
  EXPECT_DOUBLE_EQ(top.hr, 1.0);
  EXPECT_DOUBLE_EQ(top.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(top.mrr, 1.0);

  const RankMetrics third = ExpectedRankMetrics(2, 0, 10);
  EXPECT_DOUBLE_EQ(third.hr, 1.0);
  EXPECT_DOUBLE_EQ(third.ndcg, 1.0 / std::log2(4.0));
  EXPECT_DOUBLE_EQ(third.mrr, 1.0 / 3.0);

  const RankMetrics outside = ExpectedRankMetrics(10, 0, 10);
  EXPECT_DOUBLE_EQ(outside.hr, 0.0);
  EXPECT_DOUBLE_EQ(outside.ndcg, 0.0);
  EXPECT_DOUBLE_EQ(outside.mrr, 1.0 / 11.0);
}

TEST(ExpectedRankMetrics, TiesAreAveragedNotOptimistic) {
  // Target tied with 3 others at the top: rank uniform on {0,1,2,3}.
  const RankMetrics m = ExpectedRankMetrics(0, 3, 2);
  EXPECT_DOUBLE_EQ(m.hr, 0.5);
  EXPECT_DOUBLE_EQ(m.ndcg, (1.0 + 1.0 / std::log2(3.0)) / 4.0);
  EXPECT_DOUBLE_EQ(m.mrr, (1.0 + 0.5 + 1.0 / 3 + 0.25) / 4.0);
}

TEST(ExpectedRankMetrics, ManyTiesUseTheHarmonicApproximation) {
  const uint64_t greater = 5, ties = 100000;
  double exact = 0;
  for (uint64_t r = greater; r <= greater + ties; ++r) exact += 1.0 / (r + 1.0);
  exact /= ties + 1.0;
  EXPECT_NEAR(ExpectedRankMetrics(greater, ties, 10).mrr, exact, 1e-12);
}

TEST(MetricSums, MergeIsOrderIndependentAndMeansAreRight) {
  MetricSums a, b, all;
  const RankMetrics x{1.0, 0.5, 0.25}, y{0.0, 0.0, 0.1};
  a.Add(x);
  b.Add(y);
  b.Add(y);
  MetricSums ab = a, ba = b;
  ab.Merge(b);
  ba.Merge(a);
  EXPECT_EQ(ab.hr, ba.hr);
  EXPECT_EQ(ab.ndcg, ba.ndcg);
  EXPECT_EQ(ab.mrr, ba.mrr);
  EXPECT_EQ(ab.users, 3u);
  EXPECT_NEAR(ab.Mean().hr, 1.0 / 3, 1e-9);
  EXPECT_NEAR(ab.Mean().mrr, 0.45 / 3, 1e-9);
  EXPECT_EQ(MetricSums{}.Mean().hr, 0.0);
}

}  // namespace
}  // namespace fedrec
