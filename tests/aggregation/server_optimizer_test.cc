#include "aggregation/server_optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace fedrec {
namespace {

ServerOptimizer Make(const std::string& kind, double lr = 0.5) {
  auto o = ServerOptimizer::Create(
      {.kind = kind, .lr = lr, .momentum = 0.8, .beta1 = 0.9, .beta2 = 0.99, .tau = 0.01}, 2);
  EXPECT_TRUE(o.ok()) << o.status();
  return std::move(*o);
}

TEST(ServerOptimizer, FedAvgAddsTheScaledDelta) {
  ServerOptimizer o = Make("fedavg");
  std::vector<float> x = {1.0f, -2.0f};
  o.Step(std::vector<double>{0.2, -0.4}, x);
  EXPECT_FLOAT_EQ(x[0], 1.1f);
  EXPECT_FLOAT_EQ(x[1], -2.2f);
}

TEST(ServerOptimizer, FedAvgMAccumulatesMomentum) {
  ServerOptimizer o = Make("fedavgm");
  std::vector<float> x = {0.0f, 0.0f};
  o.Step(std::vector<double>{1.0, 0.0}, x);  // m = 1
  o.Step(std::vector<double>{1.0, 0.0}, x);  // m = 1.8
  EXPECT_FLOAT_EQ(x[0], 0.5f * 1.0f + 0.5f * 1.8f);
}

// One step from zero state by hand: m = 0.1 d, v per kind, x += lr m / (sqrt(v) + tau).
TEST(ServerOptimizer, AdaptiveFirstStepsMatchTheFormulas) {
  const double d = 0.3, tau = 0.01, lr = 0.5;
  const double m = 0.1 * d;
  const double v_adam = 0.99 * tau * tau + 0.01 * d * d;
  const double v_yogi = tau * tau + 0.01 * d * d;  // v - d^2 < 0: sign -1
  const double v_adagrad = tau * tau + d * d;
  const std::pair<std::string, double> cases[] = {
      {"fedadam", v_adam}, {"fedyogi", v_yogi}, {"fedadagrad", v_adagrad}};
  for (const auto& [kind, v] : cases) {
    ServerOptimizer o = Make(kind, lr);
    std::vector<float> x = {0.0f, 0.0f};
    o.Step(std::vector<double>{d, 0.0}, x);
    EXPECT_NEAR(x[0], lr * m / (std::sqrt(v) + tau), 1e-6) << kind;
    EXPECT_EQ(x[1], 0.0f) << kind;
  }
}

TEST(ServerOptimizer, StateRoundTripContinuesIdentically) {
  for (const std::string kind : {"fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad"}) {
    ServerOptimizer a = Make(kind);
    std::vector<float> xa = {0.5f, -0.5f};
    a.Step(std::vector<double>{0.1, 0.7}, xa);
    proto::OptimizerState state;
    a.SaveState(&state);
    ServerOptimizer b = Make(kind);
    ASSERT_TRUE(b.LoadState(state).ok()) << kind;
    std::vector<float> xb = xa;
    a.Step(std::vector<double>{-0.3, 0.2}, xa);
    b.Step(std::vector<double>{-0.3, 0.2}, xb);
    EXPECT_EQ(xa, xb) << kind;
    EXPECT_EQ(a.steps(), b.steps());
  }
}

TEST(ServerOptimizer, RefusesForeignStateAndBadOptions) {
  ServerOptimizer adam = Make("fedadam");
  proto::OptimizerState state;
  adam.SaveState(&state);
  ServerOptimizer yogi = Make("fedyogi");
  EXPECT_FALSE(yogi.LoadState(state).ok());
  EXPECT_FALSE(ServerOptimizer::Create({.kind = "sgd"}, 2).ok());
  EXPECT_FALSE(ServerOptimizer::Create({.kind = "fedadam", .tau = 0}, 2).ok());
  EXPECT_FALSE(ServerOptimizer::Create({.kind = "fedavgm", .momentum = 1.0}, 2).ok());
}

}  // namespace
}  // namespace fedrec
