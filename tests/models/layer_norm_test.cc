// Layer normalisation: finite-difference gradients (double) at widths that
// exercise the eight-lane body, the tail and both, and the float kernel
// against a plain double reference, in place included.
#include "models/layers/layer_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "tests/models/sasrec_double.h"

namespace fedrec {
namespace {

using layers::ConstMatrixMap;
using layers::ConstRowVectorMap;
using layers::MatrixMap;
using layers::RowVectorMap;
using testing::CheckGradient;
using testing::Random;
using testing::Vec;

TEST(LayerNorm, GradientsAtEveryWidthShape) {
  for (const int d : {3, 8, 19, 50}) {
    SCOPED_TRACE(d);
    const int n = 4;
    Vec x = Random(n * d, 5, 2.0), g = Random(d, 6), b = Random(d, 7), r = Random(n * d, 8);
    Vec y(n * d), xhat(n * d), rstd(n);
    auto f = [&] {
      layers::LayerNormForward<double>(
          ConstMatrixMap<double>(x.data(), n, d), ConstRowVectorMap<double>(g.data(), d),
          ConstRowVectorMap<double>(b.data(), d),
          {MatrixMap<double>(xhat.data(), n, d), rstd.data()}, MatrixMap<double>(y.data(), n, d));
      return std::inner_product(y.begin(), y.end(), r.begin(), 0.0);
    };
    f();
    // Non-zero starting gradients: Backward accumulates.
    Vec dx(n * d, 0.5), dg(d, -0.25), dbeta(d, 1.0);
    layers::LayerNormBackward<double>(
        {MatrixMap<double>(xhat.data(), n, d), rstd.data()}, ConstRowVectorMap<double>(g.data(), d),
        ConstMatrixMap<double>(r.data(), n, d), RowVectorMap<double>(dg.data(), d),
        RowVectorMap<double>(dbeta.data(), d), MatrixMap<double>(dx.data(), n, d));
    for (double& v : dx) v -= 0.5;
    for (double& v : dg) v += 0.25;
    for (double& v : dbeta) v -= 1.0;
    CheckGradient("x", x, dx, f);
    CheckGradient("gamma", g, dg, f);
    CheckGradient("beta", b, dbeta, f);
  }
}

TEST(LayerNorm, FloatMatchesTheDefinitionAndMayRunInPlace) {
  const int n = 7, d = 50;
  const Vec xd = Random(n * d, 11, 3.0), gd = Random(d, 12), bd = Random(d, 13);
  std::vector<float> x(xd.begin(), xd.end()), g(gd.begin(), gd.end()), b(bd.begin(), bd.end());
  std::vector<float> y(n * d), xhat(n * d), rstd(n), inplace = x, xhat2(n * d), rstd2(n);
  layers::LayerNormForward<float>(
      ConstMatrixMap<float>(x.data(), n, d), ConstRowVectorMap<float>(g.data(), d),
      ConstRowVectorMap<float>(b.data(), d), {MatrixMap<float>(xhat.data(), n, d), rstd.data()},
      MatrixMap<float>(y.data(), n, d));
  layers::LayerNormForward<float>(
      ConstMatrixMap<float>(inplace.data(), n, d), ConstRowVectorMap<float>(g.data(), d),
      ConstRowVectorMap<float>(b.data(), d), {MatrixMap<float>(xhat2.data(), n, d), rstd2.data()},
      MatrixMap<float>(inplace.data(), n, d));
  EXPECT_EQ(inplace, y);
  EXPECT_EQ(xhat2, xhat);
  for (int i = 0; i < n; ++i) {
    double mean = 0, var = 0;
    for (int j = 0; j < d; ++j) mean += x[i * d + j];
    mean /= d;
    for (int j = 0; j < d; ++j) var += (x[i * d + j] - mean) * (x[i * d + j] - mean);
    var /= d;
    const double want_rstd = 1 / std::sqrt(var + layers::kLayerNormEps);
    EXPECT_NEAR(rstd[i], want_rstd, 1e-5 * want_rstd);
    for (int j = 0; j < d; ++j) {
      const double want = (x[i * d + j] - mean) * want_rstd * g[j] + b[j];
      EXPECT_NEAR(y[i * d + j], want, 2e-5) << i << "," << j;
    }
  }
}

}  // namespace
}  // namespace fedrec
