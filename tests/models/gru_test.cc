#include "models/layers/gru.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/random.h"

namespace fedrec {
namespace {

std::vector<double> RandomVector(size_t n, uint32_t step, double scale) {
  RandomStream s({.seed = 7, .purpose = "gru_test", .step = step});
  std::vector<double> v(n);
  for (double& x : v) x = scale * (2 * s.NextDouble() - 1);
  return v;
}

struct Problem {
  int d = 3, h = 4, t = 5;
  std::vector<double> w_ih, w_hh, b_ih, b_hh, x, h0, mask, coef;
  bool use_mask = false;

  Problem(bool masked) : use_mask(masked) {
    w_ih = RandomVector(3 * h * d, 1, 0.8);
    w_hh = RandomVector(3 * h * h, 2, 0.8);
    b_ih = RandomVector(3 * h, 3, 0.5);
    b_hh = RandomVector(3 * h, 4, 0.5);
    x = RandomVector(t * d, 5, 1.0);
    h0 = RandomVector(h, 6, 0.7);
    coef = RandomVector(t * h, 7, 1.0);  // loss = sum(coef .* out)
    RandomStream s({.seed = 7, .purpose = "gru_mask"});
    mask.resize(t * d);
    for (double& m : mask) m = s.NextBernoulli(0.3) ? 0.0 : 1.0 / 0.7;
  }
  GruWeights<double> Weights() const {
    return {d, h, w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()};
  }
  double Loss() const {
    GruLayer<double> layer;
    std::vector<double> out(t * h);
    layer.Forward(Weights(), x.data(), t, h0.data(), use_mask ? mask.data() : nullptr, out.data());
    double l = 0;
    for (size_t i = 0; i < out.size(); ++i) l += coef[i] * out[i];
    return l;
  }
};

void CheckAll(bool masked) {
  Problem p(masked);
  GruLayer<double> layer;
  std::vector<double> out(p.t * p.h);
  layer.Forward(p.Weights(), p.x.data(), p.t, p.h0.data(), masked ? p.mask.data() : nullptr,
                out.data());
  std::vector<double> gw_ih(p.w_ih.size()), gw_hh(p.w_hh.size()), gb_ih(p.b_ih.size()),
      gb_hh(p.b_hh.size()), dx(p.x.size()), dh0(p.h0.size());
  GruGradients<double> g{gw_ih.data(), gw_hh.data(), gb_ih.data(), gb_hh.data()};
  layer.Backward(p.coef.data(), &g, dx.data(), dh0.data());

  struct Target {
    std::string name;
    std::vector<double>* param;
    const std::vector<double>* grad;
  };
  const std::vector<Target> targets = {{"w_ih", &p.w_ih, &gw_ih}, {"w_hh", &p.w_hh, &gw_hh},
                                       {"b_ih", &p.b_ih, &gb_ih}, {"b_hh", &p.b_hh, &gb_hh},
                                       {"x", &p.x, &dx},          {"h0", &p.h0, &dh0}};
  constexpr double kH = 1e-6;
  for (const Target& target : targets) {
    for (size_t i = 0; i < target.param->size(); ++i) {
      const double saved = (*target.param)[i];
      (*target.param)[i] = saved + kH;
      const double plus = p.Loss();
      (*target.param)[i] = saved - kH;
      const double minus = p.Loss();
      (*target.param)[i] = saved;
      const double numeric = (plus - minus) / (2 * kH);
      EXPECT_NEAR((*target.grad)[i], numeric, 1e-7 + 1e-6 * std::abs(numeric))
          << target.name << "[" << i << "] masked=" << masked;
    }
  }
  if (masked) {  // dropped inputs get exactly zero gradient
    for (size_t i = 0; i < dx.size(); ++i) {
      if (p.mask[i] == 0) {
        EXPECT_EQ(dx[i], 0.0);
      }
    }
  }
}

TEST(GruLayer, GradientCheckNoMask) { CheckAll(false); }
TEST(GruLayer, GradientCheckWithMask) { CheckAll(true); }

TEST(GruLayer, BackwardAccumulatesAndZeroStateDefault) {
  Problem p(false);
  GruLayer<double> layer;
  std::vector<double> out(p.t * p.h), out_zero(p.t * p.h);
  std::vector<double> zeros(p.h, 0.0);
  layer.Forward(p.Weights(), p.x.data(), p.t, nullptr, nullptr, out.data());
  layer.Forward(p.Weights(), p.x.data(), p.t, zeros.data(), nullptr, out_zero.data());
  EXPECT_EQ(out, out_zero);
  std::vector<double> a(p.b_hh.size()), b(p.b_hh.size());
  std::vector<double> w1(p.w_ih.size()), w2(p.w_hh.size()), bi(p.b_ih.size());
  GruGradients<double> g{w1.data(), w2.data(), bi.data(), a.data()};
  layer.Backward(p.coef.data(), &g, nullptr, nullptr);
  const std::vector<double> once = a;
  layer.Backward(p.coef.data(), &g, nullptr, nullptr);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i], 2 * once[i]);
}

TEST(GruLayer, MatchesHandComputedStep) {
  // One step, D = H = 1: h = (1 - z) n + z h0.
  const double w_ih[3] = {0.5, -0.3, 0.8}, w_hh[3] = {0.2, 0.4, -0.6};
  const double b_ih[3] = {0.1, 0.0, -0.1}, b_hh[3] = {0.0, 0.2, 0.3};
  const double x = 1.5, h0 = -0.4;
  const auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  const double r = sig(0.5 * x + 0.1 + 0.2 * h0 + 0.0);
  const double z = sig(-0.3 * x + 0.0 + 0.4 * h0 + 0.2);
  const double n = std::tanh(0.8 * x - 0.1 + r * (-0.6 * h0 + 0.3));
  GruLayer<double> layer;
  double out;
  layer.Forward({1, 1, w_ih, w_hh, b_ih, b_hh}, &x, 1, &h0, nullptr, &out);
  EXPECT_NEAR(out, (1 - z) * n + z * h0, 1e-15);
}

TEST(GruLayer, FloatMatchesDouble) {
  Problem p(true);
  auto f = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  const auto w_ih = f(p.w_ih), w_hh = f(p.w_hh), b_ih = f(p.b_ih), b_hh = f(p.b_hh), x = f(p.x),
             h0 = f(p.h0), mask = f(p.mask);
  GruLayer<float> lf;
  std::vector<float> outf(p.t * p.h);
  lf.Forward({p.d, p.h, w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()}, x.data(), p.t,
             h0.data(), mask.data(), outf.data());
  GruLayer<double> ld;
  std::vector<double> outd(p.t * p.h);
  ld.Forward(p.Weights(), p.x.data(), p.t, p.h0.data(), p.mask.data(), outd.data());
  for (size_t i = 0; i < outd.size(); ++i) EXPECT_NEAR(outf[i], outd[i], 1e-5);
}

}  // namespace
}  // namespace fedrec
