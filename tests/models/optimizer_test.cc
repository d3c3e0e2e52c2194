#include "models/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fedrec {
namespace {

ParameterStore Params() {
  ParameterStore p;
  EXPECT_TRUE(p.Add("emb", 4, 2).ok());
  EXPECT_TRUE(p.Add("w", 1, 3).ok());
  p.Finalize();
  for (size_t i = 0; i < p.size(); ++i) p.Flat()[i] = 0.1f * static_cast<float>(i);
  return p;
}

// Gradient with emb row 2 and all of w set.
Gradients Grad(const ParameterStore& p, float scale) {
  Gradients g(p, {true, false});
  g.MarkRow(0, 2);
  g.View(0).Row(2)[0] = 1.0f * scale;
  g.View(0).Row(2)[1] = -2.0f * scale;
  for (int j = 0; j < 3; ++j) g.View(1).data[j] = 0.5f * scale * (j + 1);
  return g;
}

TEST(Optimizer, SgdMatchesTheFormulaAndTouchesOnlyGradientRows) {
  ParameterStore p = Params();
  const ParameterStore before = p;
  auto opt = Optimizer::Create({.kind = "sgd", .lr = 0.1}, p);
  ASSERT_TRUE(opt.ok());
  (*opt)->Step(Grad(p, 1.0f), &p);
  EXPECT_FLOAT_EQ(p.ViewAt(0).Row(2)[0], before.ViewAt(0).Row(2)[0] - 0.1f);
  EXPECT_FLOAT_EQ(p.ViewAt(0).Row(2)[1], before.ViewAt(0).Row(2)[1] + 0.2f);
  EXPECT_EQ(p.ViewAt(0).Row(1)[0], before.ViewAt(0).Row(1)[0]);
  EXPECT_FLOAT_EQ(p.ViewAt(1).data[2], before.ViewAt(1).data[2] - 0.15f);
}

TEST(Optimizer, AdamMatchesAReferenceInDouble) {
  ParameterStore p = Params();
  auto opt = Optimizer::Create({.kind = "adam", .lr = 0.01, .beta1 = 0.9, .beta2 = 0.98}, p);
  ASSERT_TRUE(opt.ok());
  double x = p.ViewAt(1).data[1], m = 0, v = 0;
  for (int t = 1; t <= 5; ++t) {
    const float scale = 1.0f + 0.3f * t;
    (*opt)->Step(Grad(p, scale), &p);
    const double g = 0.5 * scale * 2;
    m = 0.9 * m + 0.1 * g;
    v = 0.98 * v + 0.02 * g * g;
    x -= 0.01 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.98, t))) + 1e-8);
  }
  EXPECT_NEAR(p.ViewAt(1).data[1], x, 1e-5);
  EXPECT_EQ((*opt)->steps(), 5u);
}

TEST(Optimizer, DenseAdamMovesRowsWithOldMomentumLazyAdamDoesNot) {
  ParameterStore dense_p = Params(), lazy_p = Params();
  auto dense = Optimizer::Create({.kind = "adam", .lr = 0.01}, dense_p);
  auto lazy = Optimizer::Create({.kind = "adam", .lr = 0.01, .lazy_sparse = true}, lazy_p);
  ASSERT_TRUE(dense.ok() && lazy.ok());
  (*dense)->Step(Grad(dense_p, 1.0f), &dense_p);
  (*lazy)->Step(Grad(lazy_p, 1.0f), &lazy_p);
  EXPECT_EQ(dense_p, lazy_p);  // first step: only row 2 has momentum
  // Second step with no gradient on row 2: dense Adam still moves it.
  Gradients empty(dense_p, {true, false});
  const float before = dense_p.ViewAt(0).Row(2)[0];
  (*dense)->Step(empty, &dense_p);
  (*lazy)->Step(empty, &lazy_p);
  EXPECT_NE(dense_p.ViewAt(0).Row(2)[0], before);
  EXPECT_EQ(lazy_p.ViewAt(0).Row(2)[0], before);
}

TEST(Optimizer, StateRoundTripContinuesBitwise) {
  ParameterStore a = Params();
  auto opt_a = Optimizer::Create({.kind = "adam", .lr = 0.01}, a);
  ASSERT_TRUE(opt_a.ok());
  (*opt_a)->Step(Grad(a, 1.0f), &a);
  proto::OptimizerState state;
  (*opt_a)->SaveState(&state);
  ParameterStore b = a;
  auto opt_b = Optimizer::Create({.kind = "adam", .lr = 0.01}, b);
  ASSERT_TRUE((*opt_b)->LoadState(state).ok());
  (*opt_a)->Step(Grad(a, 2.0f), &a);
  (*opt_b)->Step(Grad(b, 2.0f), &b);
  EXPECT_EQ(a, b);
  auto sgd = Optimizer::Create({.kind = "sgd", .lr = 0.01}, a);
  EXPECT_EQ((*sgd)->LoadState(state).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Optimizer, BadOptionsAreRefused) {
  const ParameterStore p = Params();
  EXPECT_FALSE(Optimizer::Create({.kind = "rmsprop"}, p).ok());
  EXPECT_FALSE(Optimizer::Create({.kind = "adam", .lr = -1}, p).ok());
  EXPECT_FALSE(Optimizer::Create({.kind = "adam", .beta2 = 1.0}, p).ok());
}

}  // namespace
}  // namespace fedrec
