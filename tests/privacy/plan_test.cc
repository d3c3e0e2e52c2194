// PlanPrivacy: the privacy.* keys resolved for a federation, as every rank
// derives them before the first round.
#include "privacy/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "privacy/accountant.h"
#include "privacy/rdp.h"

namespace fedrec::privacy {
namespace {

using ::testing::HasSubstr;

Config Federation(const std::string& mode) {
  Config c;
  c.federation.mode = "federated";
  c.federation.rounds = 100;
  c.federation.sampling_rate = 0.01;
  c.aggregation.clip_norm = 1.0;
  c.privacy.mode = mode;
  return c;
}

TEST(PlanPrivacyTest, NoneHasNoLedgerNoNoiseAndNoClipRule) {
  auto plan = PlanPrivacy(Federation("none"), 10000, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->dp.has_value());
  EXPECT_FALSE(plan->ddg.has_value());
  EXPECT_FALSE(plan->adaptive_clip.has_value());
}

TEST(PlanPrivacyTest, CentralWithAGivenSigmaUsesItAndTheExpectedCohort) {
  Config c = Federation("central");
  c.privacy.noise_multiplier = 1.3;
  auto plan = PlanPrivacy(c, 10000, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->dp.has_value());
  EXPECT_DOUBLE_EQ(plan->dp->noise_multiplier, 1.3);
  EXPECT_DOUBLE_EQ(plan->dp->sampling_rate, 0.01);
  EXPECT_DOUBLE_EQ(plan->expected_cohort, 100.0);
  EXPECT_EQ(plan->dp->scheme, SamplingScheme::kPoisson);
  EXPECT_DOUBLE_EQ(plan->update_noise_multiplier, 1.3);
}

TEST(PlanPrivacyTest, CentralCalibratesTheSmallestSigmaWithinTheTarget) {
  Config c = Federation("central");
  c.privacy.target_epsilon = 2.0;
  auto plan = PlanPrivacy(c, 10000, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const double sigma = plan->dp->noise_multiplier;
  auto eps = [&](double s) { return PoissonGaussianEpsilon(0.01, s, 100, 1e-5)->epsilon; };
  EXPECT_LE(eps(sigma), 2.0);
  EXPECT_GT(eps(sigma * 0.98), 2.0);  // not needlessly noisy
}

TEST(PlanPrivacyTest, AFixedCohortIsTheDenominatorAndPldRefusesIt) {
  Config c = Federation("central");
  c.privacy.noise_multiplier = 1.0;
  c.federation.clients_per_round = 50;
  auto plan = PlanPrivacy(c, 10000, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(plan->expected_cohort, 50.0);
  EXPECT_EQ(MaxCohort(c, 10000), 50u);
  c.privacy.accountant = "pld";
  EXPECT_FALSE(PlanPrivacy(c, 10000, 5000).ok());
}

TEST(PlanPrivacyTest, DistributedSplitsTheNoiseIntoSharesThatAddUpToSigma) {
  Config c = Federation("distributed");
  c.privacy.noise_multiplier = 1.0;
  c.federation.sampling_rate = 0.05;
  auto plan = PlanPrivacy(c, 10000, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->ddg.has_value());
  const int64_t n = plan->min_noise_shares;
  EXPECT_GT(n, 300);  // far below the expected 500 only with tiny probability
  EXPECT_LT(n, 500);
  EXPECT_LE(plan->shortfall_probability, kDdgFailure);
  EXPECT_NEAR(plan->ddg->params().local_stddev * std::sqrt(static_cast<double>(n)), 1.0, 1e-12);
  EXPECT_EQ(plan->ddg->padded_dim(), 8192);
  EXPECT_LE(plan->WrapProbability(), 1e-9);
  EXPECT_FALSE(plan->dp->round_rdp.empty());
}

TEST(PlanPrivacyTest, DistributedNoiseUsesTheTableSamplerAndChargesItsEta) {
  Config c = Federation("distributed");
  c.privacy.noise_multiplier = 1.0;
  c.federation.sampling_rate = 0.05;
  auto plan = PlanPrivacy(c, 10000, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->ddg->fast_noise());
  EXPECT_TRUE(plan->noise_fallback.empty());
  EXPECT_GT(plan->noise_eta, 0);
  EXPECT_EQ(plan->noise_eta, plan->ddg->noise_eta());
  // rounds x population (Poisson: every client may upload) x padded dim.
  EXPECT_DOUBLE_EQ(plan->noise_draws, 100.0 * 10000 * 8192);
  const double eps = 5;
  EXPECT_DOUBLE_EQ(plan->DeltaSampler(eps),
                   (1 + std::exp(eps)) * plan->noise_draws * plan->noise_eta);
  EXPECT_LT(plan->DeltaSampler(eps), c.privacy.delta / 100);
  // The ledger carries the same slack into privacy.json.
  EXPECT_DOUBLE_EQ(plan->dp->noise_slack, plan->noise_draws * plan->noise_eta);
  auto ledger = PrivacyLedger::Create(*plan->dp);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  EXPECT_DOUBLE_EQ(ledger->ToJson(eps)["delta_sampler"].get<double>(), plan->DeltaSampler(eps));
}

TEST(PlanPrivacyTest, DistributedFallsBackToExactNoiseWhenTheChargeWouldNotFit) {
  // A tiny noise multiplier: epsilon is astronomical, e^epsilon swamps any
  // eta, so the table's charge cannot stay under delta / 100.
  Config c = Federation("distributed");
  c.privacy.noise_multiplier = 1e-3;
  c.federation.sampling_rate = 0.05;
  auto plan = PlanPrivacy(c, 10000, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->ddg->fast_noise());
  EXPECT_EQ(plan->noise_eta, 0);
  EXPECT_EQ(plan->DeltaSampler(1e9), 0);
  EXPECT_THAT(plan->noise_fallback, HasSubstr("privacy.delta"));
}

TEST(PlanPrivacyTest, DistributedRefusesAFederationThatCannotCountOnOneUpload) {
  Config c = Federation("distributed");
  c.privacy.noise_multiplier = 1.0;
  c.federation.sampling_rate = 0.001;
  auto plan = PlanPrivacy(c, 100, 5000);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("privacy.min_clients"));
}

TEST(PlanPrivacyTest, AdaptiveClipUnderCentralDpSplitsSigmaBetweenUpdateAndCount) {
  Config c = Federation("central");
  c.privacy.noise_multiplier = 1.0;
  c.privacy.adaptive_clip = true;
  auto plan = PlanPrivacy(c, 10000, 5000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->adaptive_clip.has_value());
  EXPECT_DOUBLE_EQ(plan->adaptive_clip->count_stddev, 100.0 / 20.0);
  // 1/sigma^2 = 1/z_delta^2 + 1/(2 sigma_b)^2 (ATMR21 Thm. 1).
  const double z = plan->update_noise_multiplier;
  EXPECT_GT(z, 1.0);
  EXPECT_NEAR(1.0 / (z * z) + 1.0 / (4 * 5.0 * 5.0), 1.0, 1e-9);
}

}  // namespace
}  // namespace fedrec::privacy
