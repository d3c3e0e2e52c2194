#include "models/losses.h"

#include <gtest/gtest.h>

#include <vector>

namespace fedrec {
namespace {

constexpr double kH = 1e-6;

TEST(Losses, BceGradientAndStability) {
  for (double logit : {-30.0, -2.0, -0.1, 0.0, 0.7, 5.0, 40.0}) {
    for (double y : {0.0, 1.0}) {
      double d;
      const double loss = BceWithLogits(logit, y, &d);
      double dp, dm;
      const double numeric =
          (BceWithLogits(logit + kH, y, &dp) - BceWithLogits(logit - kH, y, &dm)) / (2 * kH);
      EXPECT_NEAR(d, numeric, 1e-6) << logit << " " << y;
      EXPECT_TRUE(std::isfinite(loss));
      EXPECT_GE(loss, 0.0);
    }
  }
  double d;
  EXPECT_NEAR(BceWithLogits(0.0, 1.0, &d), std::log(2.0), 1e-12);
  float df;
  EXPECT_NEAR(BceWithLogits(-100.0f, 1.0f, &df), 100.0f, 1e-3f);
  EXPECT_NEAR(df, -1.0f, 1e-6f);
}

TEST(Losses, BprGradient) {
  for (double pos : {-3.0, 0.0, 2.5}) {
    for (double neg : {-1.0, 0.5, 4.0}) {
      double dpos, dneg, a, b;
      BprLoss(pos, neg, &dpos, &dneg);
      EXPECT_NEAR(
          dpos, (BprLoss(pos + kH, neg, &a, &b) - BprLoss(pos - kH, neg, &a, &b)) / (2 * kH), 1e-6);
      EXPECT_NEAR(
          dneg, (BprLoss(pos, neg + kH, &a, &b) - BprLoss(pos, neg - kH, &a, &b)) / (2 * kH), 1e-6);
    }
  }
}

TEST(Losses, SoftmaxCrossEntropyGradient) {
  std::vector<double> logits = {0.3, -1.2, 2.0, 0.0, 800.0 - 799.0};
  std::vector<double> grad(logits.size()), scratch(logits.size());
  const uint32_t target = 2;
  SoftmaxCrossEntropy<double>(logits, target, grad);
  for (size_t j = 0; j < logits.size(); ++j) {
    auto plus = logits, minus = logits;
    plus[j] += kH;
    minus[j] -= kH;
    const double numeric = (SoftmaxCrossEntropy<double>(plus, target, scratch) -
                            SoftmaxCrossEntropy<double>(minus, target, scratch)) /
                           (2 * kH);
    EXPECT_NEAR(grad[j], numeric, 1e-6);
  }
  // Large logits do not overflow.
  std::vector<double> big = {1000.0, 999.0};
  EXPECT_NEAR(SoftmaxCrossEntropy<double>(big, 0, scratch), std::log1p(std::exp(-1.0)), 1e-12);
}

}  // namespace
}  // namespace fedrec
