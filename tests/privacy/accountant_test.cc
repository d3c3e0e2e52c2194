// RdpAccountant state, validation and noise calibration.
#include "privacy/accountant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace fedrec::privacy {
namespace {

using ::testing::HasSubstr;

TEST(Accountant, ValidationMessages) {
  RdpAccountant acc;
  auto msg = [](const absl::Status& s) { return std::string(s.message()); };
  absl::Status s = acc.Compose(1.5, 1.0, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(msg(s), HasSubstr("privacy: q: must be in [0, 1]"));
  EXPECT_THAT(msg(acc.Compose(0.1, -1.0, 1)), HasSubstr("privacy: sigma: must be"));
  EXPECT_THAT(msg(acc.Compose(0.1, 1.0, -1)), HasSubstr("privacy: steps: must be >= 0"));
  EXPECT_THAT(msg(acc.Compose(std::nan(""), 1.0, 1)), HasSubstr("privacy: q:"));
  EXPECT_THAT(msg(acc.Epsilon(0).status()), HasSubstr("privacy: delta: must be in (0, 1)"));
  EXPECT_THAT(msg(acc.Epsilon(1).status()), HasSubstr("privacy: delta: must be in (0, 1)"));
  EXPECT_THAT(msg(CalibrateNoiseMultiplier(0.1, 10, 1e-5, 0).status()),
              HasSubstr("privacy: epsilon: must be finite and > 0"));
  EXPECT_FALSE(RdpAccountant::WithOrders({1.0, 2.0}).ok());
  EXPECT_FALSE(RdpAccountant::WithOrders({}).ok());
}

TEST(Accountant, ComposeIsAdditiveAndStateRoundTrips) {
  RdpAccountant a;
  ASSERT_TRUE(a.Compose(0.01, 1.2, 300).ok());
  ASSERT_TRUE(a.Compose(0.01, 1.2, 700).ok());
  RdpAccountant b;
  ASSERT_TRUE(b.Compose(0.01, 1.2, 1000).ok());
  for (size_t k = 0; k < a.rdp().size(); ++k) {
    EXPECT_NEAR(a.rdp()[k], b.rdp()[k], 1e-12 * b.rdp()[k]);
  }
  // Resume from the persisted state and keep composing: same as never stopping.
  auto resumed = RdpAccountant::FromState(a.state());
  ASSERT_TRUE(resumed.ok());
  ASSERT_TRUE(resumed->Compose(0.02, 0.9, 50).ok());
  ASSERT_TRUE(a.Compose(0.02, 0.9, 50).ok());
  EXPECT_EQ(resumed->rdp(), a.rdp());
  EXPECT_EQ(resumed->Epsilon(1e-5)->epsilon, a.Epsilon(1e-5)->epsilon);
  RdpState bad = a.state();
  bad.rdp.pop_back();
  EXPECT_FALSE(RdpAccountant::FromState(bad).ok());
  bad = a.state();
  bad.rdp[0] = -1;
  EXPECT_FALSE(RdpAccountant::FromState(bad).ok());
}

TEST(Accountant, StateJsonRoundTripsExactly) {
  RdpAccountant acc;
  ASSERT_TRUE(acc.Compose(256.0 / 60000, 1.1, 14063).ok());
  const std::string text = RdpStateToJson(acc.state()).dump();
  auto state = RdpStateFromJson(nlohmann::json::parse(text));
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->orders, acc.orders());
  EXPECT_EQ(state->rdp, acc.rdp());
  EXPECT_EQ(state->adjacency, Adjacency::kAddRemoveOne);

  // +inf (a release without noise) survives as "inf"; the adjacency is kept.
  RdpAccountant open(Adjacency::kReplaceOne);
  ASSERT_TRUE(open.Compose(0.1, 0.0, 1, SamplingScheme::kFixedSize).ok());
  auto inf_state = RdpStateFromJson(nlohmann::json::parse(RdpStateToJson(open.state()).dump()));
  ASSERT_TRUE(inf_state.ok()) << inf_state.status();
  EXPECT_EQ(inf_state->rdp, open.rdp());
  EXPECT_EQ(inf_state->adjacency, Adjacency::kReplaceOne);

  nlohmann::json bad = RdpStateToJson(acc.state());
  bad["rdp"].erase(0);
  EXPECT_FALSE(RdpStateFromJson(bad).ok());
  bad = RdpStateToJson(acc.state());
  bad["adjacency"] = "swap";
  EXPECT_FALSE(RdpStateFromJson(bad).ok());
  EXPECT_FALSE(RdpStateFromJson(nlohmann::json::array()).ok());
}

TEST(AccountantCalibration, RoundTrip) {
  struct Case {
    double q;
    int64_t steps;
    double delta;
    double epsilon;
  };
  for (const Case& c :
       {Case{256.0 / 60000, 14063, 1e-5, 2.596655529521983}, Case{0.01, 1000, 1e-6, 1.0},
        Case{0.1, 100, 1e-5, 8.0}, Case{1.0, 10, 1e-5, 4.0}, Case{0.001, 10000, 1e-5, 0.5}}) {
    auto sigma = CalibrateNoiseMultiplier(c.q, c.steps, c.delta, c.epsilon);
    ASSERT_TRUE(sigma.ok()) << sigma.status();
    auto e = PoissonGaussianEpsilon(c.q, *sigma, c.steps, c.delta);
    ASSERT_TRUE(e.ok());
    EXPECT_LE(e->epsilon, c.epsilon) << "sigma " << *sigma;
    EXPECT_GT(e->epsilon, 0.99 * c.epsilon) << "sigma " << *sigma;
    // Smallest to tolerance: a slightly smaller sigma overspends.
    auto e_less = PoissonGaussianEpsilon(c.q, *sigma * (1 - 1e-4), c.steps, c.delta);
    EXPECT_GT(e_less->epsilon, c.epsilon);
  }
  // The MNIST point comes back to sigma = 1.1.
  auto mnist = CalibrateNoiseMultiplier(256.0 / 60000, 14063, 1e-5, 2.596655529521983);
  EXPECT_NEAR(*mnist, 1.1, 1e-3);
  // Fixed-size cohorts (replace-one) calibrate the same way.
  CalibrationOptions fixed;
  fixed.scheme = SamplingScheme::kFixedSize;
  auto wor = CalibrateNoiseMultiplier(0.01, 100, 1e-5, 1.482525669114427, fixed);
  ASSERT_TRUE(wor.ok()) << wor.status();
  EXPECT_NEAR(*wor, 1.0, 1e-3);  // the dp_accounting point of rdp_test.cc
  auto e_wor = SubsampledGaussianEpsilon(SamplingScheme::kFixedSize, 0.01, *wor, 100, 1e-5);
  EXPECT_LE(e_wor->epsilon, 1.482525669114427);
  // Nothing released: no noise needed.
  EXPECT_EQ(*CalibrateNoiseMultiplier(0.0, 100, 1e-5, 1.0), 0.0);
  EXPECT_EQ(*CalibrateNoiseMultiplier(0.5, 0, 1e-5, 1.0), 0.0);
}

}  // namespace
}  // namespace fedrec::privacy
