// What a resumed run may change in its configuration: only the keys that
// never change what a round computes, the privacy budget only upward, and
// neither the budget nor the rounds when they decided the noise.
#include "coordinator/resume.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace fedrec {
namespace {

using ::testing::HasSubstr;

Config Private(double sigma, const std::string& mode = "central") {
  Config c;
  c.privacy.mode = mode;
  c.privacy.noise_multiplier = sigma;
  c.privacy.target_epsilon = 2.0;
  return c;
}

std::string Refusal(const Config& ran, const Config& now) {
  auto r = CheckResumeConfig(ran, now, "ckpt-00000004.ckpt");
  return r.ok() ? std::string() : std::string(r.status().message());
}

TEST(ResumeConfig, SafeKeysMayChangeAndAreReported) {
  Config ran, now;
  now.federation.rounds = 500;
  now.train.epochs = 40;
  now.eval.every = 3;
  now.checkpoint.every = 1;
  now.checkpoint.keep = 0;
  now.backend.threads = 2;
  now.federation.workers = 4;
  auto changes = CheckResumeConfig(ran, now, "x");
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->size(), 7u);
  EXPECT_EQ((*changes)[0].key, "train.epochs");
  EXPECT_EQ((*changes)[0].after, "40");
  // The digest ignores them: one run, one digest.
  EXPECT_EQ(TrainingConfigDigest(ran), TrainingConfigDigest(now));
}

TEST(ResumeConfig, OtherKeysAreRefusedNamingTheKeyAndBothValues) {
  Config ran, now;
  now.train.local_lr = 0.5;
  const std::string why = Refusal(ran, now);
  EXPECT_THAT(why, HasSubstr("train.local_lr = 0.5 differs from the run's 0.05"));
  EXPECT_THAT(why, HasSubstr("(ckpt-00000004.ckpt)"));
  EXPECT_THAT(why, HasSubstr("federation.rounds"));  // the allow-list is named
  EXPECT_NE(TrainingConfigDigest(ran), TrainingConfigDigest(now));
}

TEST(ResumeConfig, TargetEpsilonOnlyRisesWithAPinnedNoiseMultiplier) {
  const Config ran = Private(1.1);
  Config up = ran, down = ran, removed = ran;
  up.privacy.target_epsilon = 4.0;
  down.privacy.target_epsilon = 1.0;
  removed.privacy.target_epsilon.reset();
  EXPECT_EQ(Refusal(ran, up), "");
  EXPECT_THAT(Refusal(ran, down), HasSubstr("may only be raised"));
  EXPECT_THAT(Refusal(ran, removed), HasSubstr("may only be raised"));
  Config longer = ran;
  longer.federation.rounds = 1000;
  EXPECT_EQ(Refusal(ran, longer), "");
}

TEST(ResumeConfig, BudgetAndRoundsStayWhenTheyDecidedTheNoise) {
  // Calibrated sigma, and distributed DP choosing its noise shares.
  for (const Config& ran : {Private(0.0), Private(1.1, "distributed")}) {
    Config up = ran, longer = ran;
    up.privacy.target_epsilon = 4.0;
    longer.federation.rounds = 1000;
    EXPECT_THAT(Refusal(ran, up), HasSubstr("would change the noise mid-run"));
    EXPECT_THAT(Refusal(ran, longer), HasSubstr("would change the noise mid-run"));
  }
  Config pinned_shares = Private(1.1, "distributed");
  pinned_shares.privacy.min_clients = 5;
  Config up = pinned_shares;
  up.privacy.target_epsilon = 4.0;
  EXPECT_EQ(Refusal(pinned_shares, up), "");
}

}  // namespace
}  // namespace fedrec
