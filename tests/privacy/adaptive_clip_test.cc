// Adaptive clipping (privacy/adaptive_clip.h): convergence to the target
// quantile on a fixed synthetic norm distribution (with and without count
// noise), the noise split, validation, and the checkpoint state.
#include "privacy/adaptive_clip.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/random.h"
#include "privacy/rdp.h"

namespace fedrec::privacy {
namespace {

using ::testing::HasSubstr;

// Update norms of a round: log-normal, median 1 (log-sd 1), so the true
// gamma-quantile is exp(Phi^-1(gamma)).
std::vector<double> RoundNorms(uint32_t round, int m) {
  RandomStream s(StreamKey{31, "clip_norms", round});
  std::vector<double> norms(m);
  for (double& v : norms) v = std::exp(s.NextNormal());
  return norms;
}

int64_t Unclipped(const std::vector<double>& norms, double clip) {
  return std::count_if(norms.begin(), norms.end(), [clip](double n) { return n <= clip; });
}

struct ClipRun {
  double mean_log_clip = 0;       // over the last half of the rounds
  double mean_true_fraction = 0;  // fraction of clients unclipped, same rounds
};

ClipRun Simulate(AdaptiveClip& clip, int rounds, int m, GaussianNoise* noise) {
  ClipRun r;
  int counted = 0;
  for (int t = 0; t < rounds; ++t) {
    const std::vector<double> norms = RoundNorms(t, m);
    const int64_t unclipped = Unclipped(norms, clip.clip());
    if (t >= rounds / 2) {
      r.mean_log_clip += std::log(clip.clip());
      r.mean_true_fraction += double(unclipped) / m;
      ++counted;
    }
    const absl::Status s =
        noise ? clip.Update(unclipped, m, *noise, t) : clip.UpdateWithNoise(unclipped, m, 0.0);
    EXPECT_TRUE(s.ok()) << s;
  }
  r.mean_log_clip /= counted;
  r.mean_true_fraction /= counted;
  return r;
}

TEST(AdaptiveClip, ConvergesToTheTargetQuantileWithoutNoise) {
  // Quantiles of the log-normal: gamma = 0.5 -> 1, gamma = 0.9 -> exp(1.2816).
  for (const auto& [gamma, log_quantile] : {std::pair{0.5, 0.0}, std::pair{0.9, 1.2815516}}) {
    auto clip = AdaptiveClip::Create({.initial_clip = 0.1,
                                      .target_quantile = gamma,
                                      .learning_rate = 0.2,
                                      .count_stddev = 0,
                                      .expected_clients = 1000});
    ASSERT_TRUE(clip.ok());
    const ClipRun r = Simulate(*clip, 400, 1000, nullptr);
    // From C_0 = 0.1 (2.3 log-units below the median) the geometric step
    // reaches the quantile in ~50 rounds and then oscillates around it by
    // the sampling error of the fraction (sd ~ 0.016 at m = 1000).
    EXPECT_NEAR(r.mean_true_fraction, gamma, 0.01) << gamma;
    EXPECT_NEAR(r.mean_log_clip, log_quantile, 0.05) << gamma;
    EXPECT_EQ(clip->rounds(), 400);
  }
}

TEST(AdaptiveClip, ConvergesWithTheRecommendedCountNoise) {
  // sigma_b = m / 20 (ATMR21's recommendation): the noisy fraction has sd 0.05
  // per round; the geometric update averages it out.
  auto noise = GaussianNoise::Create(2021);
  ASSERT_TRUE(noise.ok());
  auto clip = AdaptiveClip::Create({.initial_clip = 0.1,
                                    .target_quantile = 0.5,
                                    .learning_rate = 0.2,
                                    .count_stddev = 1000.0 / 20,
                                    .expected_clients = 1000});
  ASSERT_TRUE(clip.ok());
  const ClipRun r = Simulate(*clip, 1000, 1000, &*noise);
  EXPECT_NEAR(r.mean_true_fraction, 0.5, 0.02);
  EXPECT_NEAR(r.mean_log_clip, 0.0, 0.06);
  // The noise did enter: the last released fraction is not an exact k/1000.
  EXPECT_NE(std::round(clip->last_fraction() * 1000), clip->last_fraction() * 1000);
}

TEST(AdaptiveClip, UsesTheFixedDenominatorAndTheShiftedCount) {
  auto clip = AdaptiveClip::Create({.initial_clip = 2.0,
                                    .target_quantile = 0.5,
                                    .learning_rate = 0.5,
                                    .count_stddev = 1.0,
                                    .expected_clients = 100});
  ASSERT_TRUE(clip.ok());
  // 30 of 80 participants unclipped, noise +3: B = 30 - 40 + 3 = -7,
  // b_bar = -7/100 + 0.5 = 0.43, C = 2 exp(-0.5 (0.43 - 0.5)).
  ASSERT_TRUE(clip->UpdateWithNoise(30, 80, 3.0).ok());
  EXPECT_DOUBLE_EQ(clip->last_fraction(), 0.43);
  EXPECT_DOUBLE_EQ(clip->clip(), 2.0 * std::exp(-0.5 * (0.43 - 0.5)));
  EXPECT_FALSE(clip->UpdateWithNoise(81, 80, 0.0).ok());
  EXPECT_FALSE(clip->UpdateWithNoise(-1, 80, 0.0).ok());
  EXPECT_FALSE(clip->UpdateWithNoise(1, 80, NAN).ok());
}

TEST(AdaptiveClip, NoiseSplitFormula) {
  // z = 1, sigma_b = 5: z_Delta = (1 - 1/100)^(-1/2).
  auto z_delta = UpdateNoiseMultiplier(1.0, 5.0);
  ASSERT_TRUE(z_delta.ok());
  EXPECT_DOUBLE_EQ(*z_delta, 1 / std::sqrt(0.99));
  // The pair (update with z_Delta, count with sensitivity 1/2 and noise
  // sigma_b, i.e. multiplier 2 sigma_b) has exactly the RDP of one Gaussian
  // mechanism with multiplier z (RDP of Gaussians adds as alpha / (2 z^2)).
  for (double z : {0.5, 1.1, 3.0}) {
    const double sigma_b = 4.0;
    const double zd = *UpdateNoiseMultiplier(z, sigma_b);
    for (double alpha : {2.0, 8.0, 64.0}) {
      EXPECT_NEAR(PoissonSubsampledGaussianRdp(1.0, zd, alpha) +
                      PoissonSubsampledGaussianRdp(1.0, 2 * sigma_b, alpha),
                  PoissonSubsampledGaussianRdp(1.0, z, alpha), 1e-12);
    }
  }
  auto msg = [](const absl::StatusOr<double>& s) { return std::string(s.status().message()); };
  EXPECT_THAT(msg(UpdateNoiseMultiplier(10.0, 5.0)), HasSubstr("must be < 2 * count_stddev"));
  EXPECT_THAT(msg(UpdateNoiseMultiplier(1.0, 0.0)), HasSubstr("count_stddev"));
  EXPECT_FALSE(UpdateNoiseMultiplier(0.0, 5.0).ok());
  EXPECT_FALSE(UpdateNoiseMultiplier(NAN, 5.0).ok());
}

TEST(AdaptiveClip, InvalidConfigsRefused) {
  const AdaptiveClipConfig good{.initial_clip = 0.1,
                                .target_quantile = 0.5,
                                .learning_rate = 0.2,
                                .count_stddev = 5,
                                .expected_clients = 100};
  EXPECT_TRUE(AdaptiveClip::Create(good).ok());
  auto with = [&](auto mutate) {
    AdaptiveClipConfig c = good;
    mutate(c);
    return std::string(AdaptiveClip::Create(c).status().message());
  };
  EXPECT_THAT(with([](auto& c) { c.initial_clip = 0; }), HasSubstr("initial_clip"));
  EXPECT_THAT(with([](auto& c) { c.initial_clip = INFINITY; }), HasSubstr("initial_clip"));
  EXPECT_THAT(with([](auto& c) { c.target_quantile = 1.5; }), HasSubstr("target_quantile"));
  EXPECT_THAT(with([](auto& c) { c.target_quantile = NAN; }), HasSubstr("target_quantile"));
  EXPECT_THAT(with([](auto& c) { c.learning_rate = -0.1; }), HasSubstr("learning_rate"));
  EXPECT_THAT(with([](auto& c) { c.count_stddev = -1; }), HasSubstr("count_stddev"));
  EXPECT_THAT(with([](auto& c) { c.expected_clients = 0; }), HasSubstr("expected_clients"));
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(AdaptiveClip, StateRoundTripsExactlyAndResumes) {
  auto noise_a = GaussianNoise::Create(7);
  auto noise_b = GaussianNoise::Create(7);
  ASSERT_TRUE(noise_a.ok() && noise_b.ok());
  const AdaptiveClipConfig config{.initial_clip = 0.1 + 1e-17,
                                  .target_quantile = 1.0 / 3,
                                  .learning_rate = 0.2,
                                  .count_stddev = 100.0 / 7,
                                  .expected_clients = 333.3};
  auto a = AdaptiveClip::Create(config);
  ASSERT_TRUE(a.ok());
  const nlohmann::json fresh = a->ToJson();
  EXPECT_TRUE(fresh["last_fraction"].is_null());
  EXPECT_TRUE(AdaptiveClip::FromJson(fresh).ok());
  for (int t = 0; t < 10; ++t) {
    const auto norms = RoundNorms(t, 300);
    ASSERT_TRUE(a->Update(Unclipped(norms, a->clip()), 300, *noise_a, t).ok());
  }
  // Through text, as in the checkpoint.
  const std::string text = a->ToJson().dump();
  auto b = AdaptiveClip::FromJson(nlohmann::json::parse(text));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(SameBits(b->clip(), a->clip()));
  EXPECT_TRUE(SameBits(b->last_fraction(), a->last_fraction()));
  EXPECT_TRUE(SameBits(b->config().count_stddev, config.count_stddev));
  EXPECT_TRUE(SameBits(b->config().initial_clip, config.initial_clip));
  EXPECT_EQ(b->rounds(), 10);
  EXPECT_EQ(b->ToJson(), a->ToJson());
  // Resumed and uninterrupted runs continue identically (pinned noise).
  for (int t = 10; t < 20; ++t) {
    const auto norms = RoundNorms(t, 300);
    ASSERT_TRUE(a->Update(Unclipped(norms, a->clip()), 300, *noise_a, t).ok());
    ASSERT_TRUE(b->Update(Unclipped(norms, b->clip()), 300, *noise_b, t).ok());
  }
  EXPECT_TRUE(SameBits(a->clip(), b->clip()));
  // Malformed states.
  nlohmann::json bad = a->ToJson();
  bad.erase("clip");
  EXPECT_THAT(std::string(AdaptiveClip::FromJson(bad).status().message()),
              HasSubstr("privacy: adaptive_clip: state: clip"));
  bad = a->ToJson();
  bad["target_quantile"] = 2.0;
  EXPECT_FALSE(AdaptiveClip::FromJson(bad).ok());
  bad = a->ToJson();
  bad["rounds"] = -1;
  EXPECT_FALSE(AdaptiveClip::FromJson(bad).ok());
  EXPECT_FALSE(AdaptiveClip::FromJson(nlohmann::json::array()).ok());
}

}  // namespace
}  // namespace fedrec::privacy
