// Tests of the RDP accountant against public reference values.
//
// Expected values: Google dp_accounting 0.6.0 (PyPI dp-accounting==0.6.0),
// RdpAccountant with its default orders and improved conversion, for
// PoissonSampledDpEvent(q, GaussianDpEvent(sigma)) composed `steps` times
// (add/remove-one adjacency). kGrid was produced by
// tests/privacy/make_rdp_reference.py; kReferencePoints are the rows of
// docs/dp_reference_points.csv (shared project notes, same tool and version).
#include "privacy/rdp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <vector>

#include "privacy/accountant.h"

namespace fedrec::privacy {
namespace {

struct Point {
  double q;
  double sigma;
  int64_t steps;
  double delta;
  double epsilon;
  double order;  // dp_accounting's optimal order (0: not recorded)
};

// docs/dp_reference_points.csv, column eps_rdp (dp_accounting 0.6.0).
const Point kReferencePoints[] = {
    {0.02, 1.3, 500, 1e-05, 1.897759, 0},       {0.005, 0.9, 2000, 1e-06, 2.230822, 0},
    {0.0032, 1.0, 3000, 1e-05, 1.177406, 0},    {0.03, 2.5, 300, 1e-05, 0.912352, 0},
    {0.2, 3.0, 50, 1e-06, 2.556573, 0},         {0.0105, 0.7, 200, 1e-05, 3.646060, 0},
    {0.5, 5.0, 20, 1e-05, 2.020675, 0},         {1.0, 20.0, 100, 1e-05, 2.165716, 0},
    {0.00042, 1.05, 50000, 1e-07, 0.931372, 0}, {0.07, 1.6, 1200, 1e-06, 9.843876, 0},
};

// Grid of dp_accounting 0.6.0 values (make_rdp_reference.py):
// q x sigma x steps x delta = {1e-3, 0.01, 0.1, 1} x {0.5, 1, 2, 4} x
// {1, 100, 10000} x {1e-5, 1e-6}.
const Point kGrid[] = {
    {0.001, 0.5, 1, 1e-05, 2.835610361146461, 4.4},
    {0.001, 0.5, 1, 1e-06, 3.5128412708505925, 4.4},
    {0.001, 0.5, 100, 1e-05, 3.5981250152851576, 3.8},
    {0.001, 0.5, 100, 1e-06, 4.420476834211603, 3.8},
    {0.001, 0.5, 10000, 1e-05, 6.4183673231347385, 3.0},
    {0.001, 0.5, 10000, 1e-06, 7.569659869631762, 3.0},
    {0.001, 1.0, 1, 1e-05, 0.6087728217833737, 14.0},
    {0.001, 1.0, 1, 1e-06, 0.7858947520136849, 14.0},
    {0.001, 1.0, 100, 1e-05, 0.6360525446218313, 14.0},
    {0.001, 1.0, 100, 1e-06, 0.8131744748521424, 14.0},
    {0.001, 1.0, 10000, 1e-05, 0.7876595344277387, 13.0},
    {0.001, 1.0, 10000, 1e-06, 0.9795416255105758, 13.0},
    {0.001, 2.0, 1, 1e-05, 0.12065465936864729, 55.0},
    {0.001, 2.0, 1, 1e-06, 0.16284028234888537, 56.0},
    {0.001, 2.0, 100, 1e-05, 0.12177815216363132, 55.0},
    {0.001, 2.0, 100, 1e-06, 0.16441861684870623, 55.0},
    {0.001, 2.0, 10000, 1e-05, 0.20127230462931398, 54.0},
    {0.001, 2.0, 10000, 1e-06, 0.24471730638391861, 54.0},
    {0.001, 4.0, 1, 1e-05, 0.04460897851051843, 128.0},
    {0.001, 4.0, 1, 1e-06, 0.0627395697939361, 128.0},
    {0.001, 4.0, 100, 1e-05, 0.04502104249647306, 128.0},
    {0.001, 4.0, 100, 1e-06, 0.06315163377989075, 128.0},
    {0.001, 4.0, 10000, 1e-05, 0.08622744109193696, 128.0},
    {0.001, 4.0, 10000, 1e-06, 0.10435803237535465, 128.0},
    {0.01, 0.5, 1, 1e-05, 4.3951835489313265, 3.4},
    {0.01, 0.5, 1, 1e-06, 5.336663953147827, 3.5},
    {0.01, 0.5, 100, 1e-05, 8.034119713902147, 2.5},
    {0.01, 0.5, 100, 1e-06, 9.501578972667883, 2.6},
    {0.01, 0.5, 10000, 1e-05, 49.43426631343529, 1.6},
    {0.01, 0.5, 10000, 1e-06, 53.27190813509203, 1.6},
    {0.01, 1.0, 1, 1e-05, 0.9555491480288791, 9.9},
    {0.01, 1.0, 1, 1e-06, 1.21212384378937, 10.0},
    {0.01, 1.0, 100, 1e-05, 1.2141452944480204, 8.8},
    {0.01, 1.0, 100, 1e-06, 1.5073894923617364, 8.9},
    {0.01, 1.0, 10000, 1e-05, 6.712756664482653, 4.1},
    {0.01, 1.0, 10000, 1e-06, 7.414100872868476, 4.4},
    {0.01, 2.0, 1, 1e-05, 0.19357815314381346, 37.0},
    {0.01, 2.0, 1, 1e-06, 0.25753885017142586, 37.0},
    {0.01, 2.0, 100, 1e-05, 0.2571292377435293, 36.0},
    {0.01, 2.0, 100, 1e-06, 0.3229173832576449, 36.0},
    {0.01, 2.0, 10000, 1e-05, 2.352913128781947, 8.9},
    {0.01, 2.0, 10000, 1e-06, 2.629141898585195, 9.8},
    {0.01, 4.0, 1, 1e-05, 0.04505582570500917, 128.0},
    {0.01, 4.0, 1, 1e-06, 0.06318641698842686, 128.0},
    {0.01, 4.0, 100, 1e-05, 0.08970576194554777, 128.0},
    {0.01, 4.0, 100, 1e-06, 0.10783635322896545, 128.0},
    {0.01, 4.0, 10000, 1e-05, 1.0354900660362436, 17.0},
    {0.01, 4.0, 10000, 1e-06, 1.1694689236889932, 19.0},
    {0.1, 0.5, 1, 1e-05, 7.35527276006338, 3.0},
    {0.1, 0.5, 1, 1e-06, 8.424473777573617, 3.3},
    {0.1, 0.5, 100, 1e-05, 36.96666522047155, 1.7},
    {0.1, 0.5, 100, 1e-06, 40.256072496177325, 1.7},
    {0.1, 0.5, 10000, 1e-05, 2231.298932385247, 1.7},
    {0.1, 0.5, 10000, 1e-06, 2234.588339660953, 1.7},
    {0.1, 1.0, 1, 1e-05, 2.1330059954307927, 6.0},
    {0.1, 1.0, 1, 1e-06, 2.582589050238978, 6.2},
    {0.1, 1.0, 100, 1e-05, 7.903850223578231, 3.2},
    {0.1, 1.0, 100, 1e-06, 8.921391652814453, 3.3},
    {0.1, 1.0, 10000, 1e-05, 170.10858354738596, 1.6},
    {0.1, 1.0, 10000, 1e-06, 173.9462253690427, 1.6},
    {0.1, 2.0, 1, 1e-05, 0.5259327241842917, 18.0},
    {0.1, 2.0, 1, 1e-06, 0.661378906125118, 18.0},
    {0.1, 2.0, 100, 1e-05, 2.5805709505045913, 7.6},
    {0.1, 2.0, 100, 1e-06, 2.9141737620582155, 8.2},
    {0.1, 2.0, 10000, 1e-05, 38.488913766486974, 2.0},
    {0.1, 2.0, 10000, 1e-06, 40.79149885948102, 2.0},
    {0.1, 4.0, 1, 1e-05, 0.1394758845478205, 63.0},
    {0.1, 4.0, 1, 1e-06, 0.17661435378965995, 63.0},
    {0.1, 4.0, 100, 1e-05, 1.0817024008570084, 16.0},
    {0.1, 4.0, 100, 1e-06, 1.2282987301348025, 18.0},
    {0.1, 4.0, 10000, 1e-05, 14.510300271081888, 2.9},
    {0.1, 4.0, 10000, 1e-06, 15.681416845908515, 3.0},
    {1.0, 0.5, 1, 1e-05, 10.725509696418232, 3.3},
    {1.0, 0.5, 1, 1e-06, 11.68862679916635, 3.5},
    {1.0, 0.5, 100, 1e-05, 294.8612600716533, 1.2},
    {1.0, 0.5, 100, 1e-06, 303.7108172428625, 1.3},
    {1.0, 0.5, 10000, 1e-05, 22111.77825757886, 1.1},
    {1.0, 0.5, 10000, 1e-06, 22134.8041085088, 1.1},
    {1.0, 1.0, 1, 1e-05, 4.728507067217623, 5.4},
    {1.0, 1.0, 1, 1e-06, 5.2215396311544175, 5.9},
    {1.0, 1.0, 100, 1e-05, 96.11630842505602, 1.5},
    {1.0, 1.0, 100, 1e-06, 100.72147861104412, 1.5},
    {1.0, 1.0, 10000, 1e-05, 5611.778257578861, 1.1},
    {1.0, 1.0, 10000, 1e-06, 5634.804108508801, 1.1},
    {1.0, 2.0, 1, 1e-05, 2.165715659029443, 9.6},
    {1.0, 2.0, 1, 1e-06, 2.4191024886939205, 10.6},
    {1.0, 2.0, 100, 1e-05, 35.08175401905626, 1.9},
    {1.0, 2.0, 100, 1e-06, 37.429216196844386, 2.0},
    {1.0, 2.0, 10000, 1e-05, 1486.7782575788606, 1.1},
    {1.0, 2.0, 10000, 1e-06, 1509.804108508801, 1.1},
    {1.0, 4.0, 1, 1e-05, 1.0125506277526433, 18.0},
    {1.0, 4.0, 1, 1e-06, 1.1431687205814116, 20.0},
    {1.0, 4.0, 100, 1e-05, 14.132226163159334, 2.8},
    {1.0, 4.0, 100, 1e-06, 15.32798402653992, 3.0},
    {1.0, 4.0, 10000, 1e-05, 429.8612600716533, 1.2},
    {1.0, 4.0, 10000, 1e-06, 441.37418553662354, 1.2},
};

double RelErr(double got, double want) { return std::abs(got - want) / std::abs(want); }

TEST(RdpReference, SharedReferencePoints) {
  for (const Point& p : kReferencePoints) {
    auto e = PoissonGaussianEpsilon(p.q, p.sigma, p.steps, p.delta);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_LT(RelErr(e->epsilon, p.epsilon), 1e-3)
        << "q=" << p.q << " sigma=" << p.sigma << " steps=" << p.steps << " delta=" << p.delta
        << ": got " << e->epsilon << ", want " << p.epsilon;
  }
}

TEST(RdpReference, Grid) {
  double worst = 0;
  for (const Point& p : kGrid) {
    auto e = PoissonGaussianEpsilon(p.q, p.sigma, p.steps, p.delta);
    ASSERT_TRUE(e.ok()) << e.status();
    worst = std::max(worst, RelErr(e->epsilon, p.epsilon));
    EXPECT_LT(RelErr(e->epsilon, p.epsilon), 1e-3)
        << "q=" << p.q << " sigma=" << p.sigma << " steps=" << p.steps << " delta=" << p.delta
        << ": got " << e->epsilon << " at order " << e->order << ", want " << p.epsilon
        << " at order " << p.order;
  }
  std::cout << "largest relative difference to dp_accounting 0.6.0 over the grid: " << worst
            << "\n";
}

// Extremes: tiny q, 1e9 steps, q near 1, large and small sigma (where the
// fractional series and the epsilon = 0 guard matter). dp_accounting 0.6.0.
const Point kExtremes[] = {
    {1e-06, 0.3, 1000, 1e-05, 4.951549008119774, 3.0},
    {1e-08, 1.0, 1000000000, 1e-05, 0.1983868033307406, 36.0},
    {0.9999, 0.5, 10, 1e-05, 48.79941184478081, 1.7},
    {0.5, 50.0, 1000, 1e-06, 1.4728981073511582, 16.0},
    {0.01, 0.2, 10, 1e-05, 45.209590283729014, 1.3},
    {0.3, 0.1, 1, 1e-05, 92.47446528724204, 1.4},
    {0.05, 0.4, 1000000, 1e-06, 210978.6478318547, 1.6},
};

TEST(RdpReference, Extremes) {
  for (const Point& p : kExtremes) {
    auto e = PoissonGaussianEpsilon(p.q, p.sigma, p.steps, p.delta);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_LT(RelErr(e->epsilon, p.epsilon), 1e-3)
        << "q=" << p.q << " sigma=" << p.sigma << " steps=" << p.steps << ": got " << e->epsilon;
    EXPECT_DOUBLE_EQ(e->order, p.order);
  }
  // Epsilon 0 when delta >= sqrt(1 - exp(-rdp)) (dp_accounting's guard).
  auto zero = PoissonGaussianEpsilon(1e-4, 10.0, 1, 1e-5);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->epsilon, 0);
}

// DP-SGD on MNIST, TF Privacy tutorial: q = 256/60000, sigma = 1.1, 60 epochs
// = 14063 steps, delta = 1e-5. dp_accounting 0.6.0: 2.5967 (order 8.1) with
// the improved conversion and default orders; classic conversion [M17] over
// the tutorial's orders: 3.0084 (order 8.8), the tutorial's published 3.01.
TEST(RdpReference, MnistDpSgd) {
  const double q = 256.0 / 60000;
  auto improved = PoissonGaussianEpsilon(q, 1.1, 14063, 1e-5);
  ASSERT_TRUE(improved.ok()) << improved.status();
  EXPECT_NEAR(improved->epsilon, 2.596655529521983, 1e-3 * 2.5967);
  EXPECT_DOUBLE_EQ(improved->order, 8.1);

  auto acc = RdpAccountant::WithOrders(TfPrivacyTutorialOrders());
  ASSERT_TRUE(acc.ok());
  ASSERT_TRUE(acc->Compose(q, 1.1, 14063).ok());
  auto classic = acc->EpsilonClassic(1e-5);
  ASSERT_TRUE(classic.ok());
  EXPECT_NEAR(classic->epsilon, 3.0083810534063087, 1e-3 * 3.0084);
  EXPECT_DOUBLE_EQ(classic->order, 8.8);
}

TEST(Rdp, DefaultOrders) {
  const std::vector<double> orders = DefaultRdpOrders();
  ASSERT_EQ(orders.size(), 99u + 53u + 4u);
  EXPECT_DOUBLE_EQ(orders.front(), 1.1);
  EXPECT_DOUBLE_EQ(orders[98], 10.9);
  EXPECT_DOUBLE_EQ(orders[99], 11);
  EXPECT_DOUBLE_EQ(orders.back(), 1024);
  EXPECT_EQ(TfPrivacyTutorialOrders().size(), 99u + 52u);
}

TEST(Rdp, SpecialCases) {
  const double inf = std::numeric_limits<double>::infinity();
  for (double alpha : {1.5, 2.0, 32.0, 1024.0}) {
    // q = 1: the Gaussian mechanism, alpha / (2 sigma^2) [M17, Prop. 7].
    EXPECT_DOUBLE_EQ(PoissonSubsampledGaussianRdp(1.0, 2.0, alpha), alpha / 8);
    EXPECT_EQ(PoissonSubsampledGaussianRdp(0.0, 1.0, alpha), 0);
    EXPECT_EQ(PoissonSubsampledGaussianRdp(0.1, 0.0, alpha), inf);
  }
  // q = 1 closed form composed: T alpha / (2 sigma^2).
  RdpAccountant acc;
  ASSERT_TRUE(acc.Compose(1.0, 3.0, 7).ok());
  for (size_t k = 0; k < acc.orders().size(); ++k) {
    EXPECT_NEAR(acc.rdp()[k], 7 * acc.orders()[k] / 18, 1e-12 * acc.rdp()[k]);
  }
  // No steps or q = 0: epsilon 0.
  RdpAccountant empty;
  ASSERT_TRUE(empty.Compose(0.0, 0.0, 100).ok());
  ASSERT_TRUE(empty.Compose(0.5, 0.0, 0).ok());
  EXPECT_EQ(empty.Epsilon(1e-5)->epsilon, 0);
  // sigma = 0: no privacy.
  RdpAccountant none;
  ASSERT_TRUE(none.Compose(0.5, 0.0, 1).ok());
  EXPECT_EQ(none.Epsilon(1e-5)->epsilon, inf);
}

TEST(Rdp, SmallQMatchesIntegerSeriesAtIntegerOrders) {
  // The fractional-order series at an order just off an integer agrees with the
  // integer binomial expansion nearby (continuity of RDP in alpha).
  for (double q : {0.001, 0.01, 0.1}) {
    for (double sigma : {0.8, 1.5, 4.0}) {
      const double at3 = PoissonSubsampledGaussianRdp(q, sigma, 3.0);
      const double near3 = PoissonSubsampledGaussianRdp(q, sigma, 3.0 + 1e-7);
      EXPECT_NEAR(near3, at3, 1e-4 * at3 + 1e-12) << q << " " << sigma;
    }
  }
}

TEST(Rdp, MonotoneInStepsAndSigma) {
  for (double q : {0.001, 0.01, 0.2}) {
    double last = 0;
    for (int64_t steps : {1, 10, 100, 1000, 10000}) {
      auto e = PoissonGaussianEpsilon(q, 1.0, steps, 1e-5);
      ASSERT_TRUE(e.ok());
      EXPECT_GT(e->epsilon, last) << q << " " << steps;
      last = e->epsilon;
    }
    last = std::numeric_limits<double>::infinity();
    for (double sigma : {0.6, 0.8, 1.0, 1.5, 2.0, 4.0, 8.0}) {
      auto e = PoissonGaussianEpsilon(q, sigma, 1000, 1e-5);
      ASSERT_TRUE(e.ok());
      EXPECT_LT(e->epsilon, last) << q << " " << sigma;
      last = e->epsilon;
    }
  }
}

TEST(Rdp, ClassicIsLooserThanImproved) {
  RdpAccountant acc;
  ASSERT_TRUE(acc.Compose(0.01, 1.0, 1000).ok());
  EXPECT_GT(acc.EpsilonClassic(1e-5)->epsilon, acc.Epsilon(1e-5)->epsilon);
}

TEST(Rdp, DeltaInvertsEpsilon) {
  RdpAccountant acc;
  ASSERT_TRUE(acc.Compose(0.01, 1.1, 5000).ok());
  auto e = acc.Epsilon(1e-6);
  ASSERT_TRUE(e.ok());
  auto d = acc.Delta(e->epsilon);
  ASSERT_TRUE(d.ok());
  EXPECT_LE(d->delta, 1e-6 * (1 + 1e-9));
  EXPECT_GT(d->delta, 1e-7);
  EXPECT_GT(acc.Delta(e->epsilon * 0.8)->delta, 1e-6);
}

// Fixed-size cohorts (m of n without replacement), replace-one adjacency:
// dp_accounting 0.6.0 RdpAccountant(neighboring_relation=REPLACE_ONE) with
// SampledWithoutReplacementDpEvent(n, m, GaussianDpEvent(sigma)), default
// orders (make_rdp_reference.py). q = m / n.
const Point kWithoutReplacement[] = {
    {0.004266666666666667, 1.1, 1000, 1e-05, 1.2786376511282933, 12.0},
    {0.01, 1.0, 100, 1e-05, 1.482525669114427, 8.0},
    {0.1, 2.0, 500, 1e-06, 14.768030162437931, 3.0},
    {0.5, 4.0, 10, 1e-05, 3.102015603045509, 13.0},
    {0.001, 0.8, 10000, 1e-06, 1.9792215858908986, 8.0},
};

TEST(RdpReference, FixedSizeWithoutReplacement) {
  for (const Point& p : kWithoutReplacement) {
    RdpAccountant acc(Adjacency::kReplaceOne);
    ASSERT_TRUE(acc.Compose(p.q, p.sigma, p.steps, SamplingScheme::kFixedSize).ok());
    auto e = acc.Epsilon(p.delta);
    ASSERT_TRUE(e.ok());
    EXPECT_LT(RelErr(e->epsilon, p.epsilon), 1e-3)
        << "q=" << p.q << " sigma=" << p.sigma << " steps=" << p.steps << ": got " << e->epsilon
        << " at order " << e->order << ", want " << p.epsilon;
  }
}

TEST(Rdp, SchemeAndAdjacencyMustMatch) {
  RdpAccountant add_remove;
  absl::Status s = add_remove.Compose(0.01, 1.0, 10, SamplingScheme::kFixedSize);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(add_remove.Epsilon(1e-5)->epsilon, 0);  // nothing composed
  RdpAccountant replace_one(Adjacency::kReplaceOne);
  EXPECT_EQ(replace_one.Compose(0.01, 1.0, 10).code(), absl::StatusCode::kFailedPrecondition);
  // Without replacement at q = 1 is the plain Gaussian mechanism.
  EXPECT_DOUBLE_EQ(WithoutReplacementGaussianRdp(1.0, 2.0, 5.0), 5.0 / 8);
}

}  // namespace
}  // namespace fedrec::privacy
