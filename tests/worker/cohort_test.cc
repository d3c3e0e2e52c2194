#include "worker/cohort.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

namespace fedrec {
namespace {

std::vector<uint32_t> Range(uint32_t n) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(Cohort, PoissonSizeIsBinomial) {
  const CohortPlan plan{.seed = 7, .sampling_rate = 0.05};
  const auto pop = Range(4000);
  double sum = 0, sum2 = 0;
  const int rounds = 400;
  for (int r = 1; r <= rounds; ++r) {
    const double m = static_cast<double>(SampleCohort(plan, r, pop, pop).size());
    sum += m;
    sum2 += m * m;
  }
  const double mean = sum / rounds, var = sum2 / rounds - mean * mean;
  const double expect_mean = 4000 * 0.05, expect_var = 4000 * 0.05 * 0.95;
  EXPECT_NEAR(mean, expect_mean, 5 * std::sqrt(expect_var / rounds));
  EXPECT_NEAR(var, expect_var, 0.25 * expect_var);
}

TEST(Cohort, WorkersTogetherDrawTheWholeCohort) {
  const auto pop = Range(1000);
  for (const CohortPlan plan : {CohortPlan{.seed = 3, .sampling_rate = 0.1},
                                CohortPlan{.seed = 3, .clients_per_round = 37}}) {
    const auto whole = SampleCohort(plan, 5, pop, pop);
    std::vector<uint32_t> even, odd, merged;
    for (uint32_t u : pop) (u % 2 ? odd : even).push_back(u);
    for (const auto* part : {&even, &odd}) {
      for (uint32_t u : SampleCohort(plan, 5, pop, *part)) merged.push_back(u);
    }
    std::sort(merged.begin(), merged.end());
    EXPECT_EQ(merged, whole);
  }
}

TEST(Cohort, FixedSizeIsExactAndUniform) {
  const CohortPlan plan{.seed = 11, .clients_per_round = 10};
  const uint32_t n = 50;
  const auto pop = Range(n);
  std::vector<int> hits(n, 0);
  const int rounds = 5000;
  for (int r = 1; r <= rounds; ++r) {
    const auto c = SampleCohort(plan, r, pop, pop);
    ASSERT_EQ(c.size(), 10u);
    ASSERT_TRUE(std::adjacent_find(c.begin(), c.end()) == c.end());
    for (uint32_t u : c) ++hits[u];
  }
  // Chi-square over 50 cells, 49 degrees of freedom: the 0.999 quantile is 85.4.
  const double expect = rounds * 10.0 / n;
  double chi2 = 0;
  for (int h : hits) chi2 += (h - expect) * (h - expect) / expect;
  EXPECT_LT(chi2, 85.4);
}

TEST(Cohort, DropoutRateAndIndependenceFromSampling) {
  const CohortPlan plan{.seed = 2, .sampling_rate = 1.0, .dropout_rate = 0.3};
  int dropped = 0;
  const int n = 20000;
  for (int u = 0; u < n; ++u) dropped += DropsOut(plan, 1, u) ? 1 : 0;
  EXPECT_NEAR(dropped / static_cast<double>(n), 0.3, 5 * std::sqrt(0.21 / n));
  EXPECT_FALSE(DropsOut({.seed = 2}, 1, 5));
}

}  // namespace
}  // namespace fedrec
