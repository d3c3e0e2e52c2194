// Harary graphs, automatic degree and threshold rules.
#include <gtest/gtest.h>

#include <set>

#include "aggregation/secagg_graph.h"

namespace fedrec::secagg {
namespace {

SecaggParams Harary(int64_t degree, double threshold = 0.5) {
  SecaggParams p;
  p.graph = "harary";
  p.degree = degree;
  p.threshold = threshold;
  return p;
}

// H(k, n) is k-regular and symmetric, for even k, and odd k with even n.
TEST(GraphTest, HararyIsRegularAndSymmetric) {
  for (size_t n : {5, 8, 13, 20, 64}) {
    for (int64_t k : {2, 3, 4, 5, 8}) {
      absl::StatusOr<GraphPlan> plan = PlanGraph(Harary(k), n);
      ASSERT_TRUE(plan.ok());
      size_t expect_k = static_cast<size_t>(k);
      if (expect_k % 2 == 1 && n % 2 == 1) ++expect_k;  // no odd-regular graph on odd n
      expect_k = std::min(expect_k, n - 1);
      EXPECT_EQ(plan->degree, expect_k) << "n=" << n << " k=" << k;
      for (size_t i = 0; i < n; ++i) {
        std::vector<size_t> hood = Neighbourhood(*plan, i);
        EXPECT_EQ(hood.size(), plan->degree + 1) << "n=" << n << " k=" << k << " i=" << i;
        EXPECT_TRUE(std::is_sorted(hood.begin(), hood.end()));
        for (size_t j = 0; j < n; ++j) {
          const bool in = std::binary_search(hood.begin(), hood.end(), j);
          EXPECT_EQ(in, AreNeighbours(*plan, i, j));
          EXPECT_EQ(AreNeighbours(*plan, i, j), AreNeighbours(*plan, j, i));
        }
      }
    }
  }
}

TEST(GraphTest, HararyNeighboursAreRingOffsets) {
  absl::StatusOr<GraphPlan> plan = PlanGraph(Harary(4), 10);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(Neighbourhood(*plan, 0), (std::vector<size_t>{0, 1, 2, 8, 9}));
  absl::StatusOr<GraphPlan> odd = PlanGraph(Harary(3), 10);
  EXPECT_EQ(Neighbourhood(*odd, 0), (std::vector<size_t>{0, 1, 5, 9}));
}

TEST(GraphTest, CompleteAndCappedDegree) {
  SecaggParams complete;
  absl::StatusOr<GraphPlan> plan = PlanGraph(complete, 10);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->complete);
  EXPECT_EQ(plan->neighbourhood, 10u);
  EXPECT_EQ(plan->threshold, 6u);  // strict majority of 10
  // Degree >= n - 1 is the complete graph.
  absl::StatusOr<GraphPlan> big = PlanGraph(Harary(50), 10);
  EXPECT_TRUE(big->complete);
  // One participant: t = 1.
  EXPECT_EQ(PlanGraph(complete, 1)->threshold, 1u);
  EXPECT_EQ(PlanGraph(complete, 2)->threshold, 2u);
}

// Auto degree: 2 * ceil(log2 n), inflated by 1 / (1 - dropout), even.
TEST(GraphTest, AutoDegree) {
  EXPECT_EQ(AutoDegree(1000, 0.0), 20u);
  EXPECT_EQ(AutoDegree(1024, 0.0), 20u);
  EXPECT_EQ(AutoDegree(1025, 0.0), 22u);
  EXPECT_EQ(AutoDegree(100, 0.0), 14u);
  EXPECT_EQ(AutoDegree(100, 0.3), 20u);  // 14 / 0.7 = 20
  EXPECT_EQ(AutoDegree(100, 0.5), 28u);
  EXPECT_EQ(PlanGraph(Harary(0), 1000)->degree, 20u);
  EXPECT_EQ(PlanGraph(Harary(0), 10)->degree, 8u);
  EXPECT_TRUE(PlanGraph(Harary(0), 6)->complete);  // 2*3 = 6 >= 5
}

// t > d / 2 always; threshold fractions above one half raise it.
TEST(GraphTest, ThresholdExceedsHalfTheNeighbourhood) {
  for (size_t n : {1, 2, 3, 4, 9, 10, 100}) {
    for (double f : {0.5, 0.51, 0.66, 0.75, 0.9, 1.0}) {
      SecaggParams p;
      p.threshold = f;
      absl::StatusOr<GraphPlan> plan = PlanGraph(p, n);
      ASSERT_TRUE(plan.ok());
      EXPECT_GT(2 * plan->threshold, plan->neighbourhood) << n << " " << f;
      EXPECT_LE(plan->threshold, plan->neighbourhood);
      EXPECT_GE(static_cast<double>(plan->threshold), f * static_cast<double>(n) - 1e-9);
    }
  }
  SecaggParams p;
  p.threshold = 0.7;
  EXPECT_EQ(PlanGraph(p, 10)->threshold, 7u);
  p.threshold = 1.0;
  EXPECT_EQ(PlanGraph(p, 10)->threshold, 10u);
}

TEST(GraphTest, RefusesBadParams) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  SecaggParams p;
  p.threshold = 0.4;  // not above half: unsafe against a lying server
  absl::Status s = ValidateSecaggParams(p);
  EXPECT_EQ(s.code(), kInvalid);
  EXPECT_NE(std::string(s.message()).find("secagg.threshold"), std::string::npos);
  p = SecaggParams{};
  p.threshold = 0.0;
  EXPECT_EQ(ValidateSecaggParams(p).code(), kInvalid);
  p.threshold = 1.5;
  EXPECT_EQ(ValidateSecaggParams(p).code(), kInvalid);
  p = SecaggParams{};
  p.bits = 16;
  EXPECT_EQ(ValidateSecaggParams(p).code(), kInvalid);
  p = SecaggParams{};
  p.graph = "ring";
  EXPECT_EQ(ValidateSecaggParams(p).code(), kInvalid);
  p = Harary(1);
  EXPECT_EQ(ValidateSecaggParams(p).code(), kInvalid);
  p = Harary(-2);
  EXPECT_EQ(ValidateSecaggParams(p).code(), kInvalid);
  p = SecaggParams{};
  p.expected_dropout = 1.0;
  EXPECT_EQ(ValidateSecaggParams(p).code(), kInvalid);
  EXPECT_EQ(PlanGraph(SecaggParams{}, 0).status().code(), kInvalid);
}

TEST(GraphTest, WarnsWhenDropoutMakesAbortsLikely) {
  SecaggParams p;
  p.threshold = 0.9;
  p.expected_dropout = 0.3;
  absl::StatusOr<GraphPlan> plan = PlanGraph(p, 20);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->warning.empty());
  p.threshold = 0.5;
  EXPECT_TRUE(PlanGraph(p, 20)->warning.empty());
}

}  // namespace
}  // namespace fedrec::secagg
