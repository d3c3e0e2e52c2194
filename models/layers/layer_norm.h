// Layer normalisation over the last dimension, as the official SASRec code
// (modules.normalize): y = gamma * (x - mean) / sqrt(var + eps) + beta with
// the biased variance and eps = 1e-8.
#pragma once

#include <cmath>

#include "models/layers/eigen_types.h"

namespace fedrec::layers {

inline constexpr double kLayerNormEps = 1e-8;

// What Backward needs: the normalised input and 1/sqrt(var + eps) per row.
template <typename S>
struct LayerNormCache {
  MatrixMap<S> xhat;  // n x d
  S* rstd;            // n
};

// y[n x d] = LN(x[n x d]) with gamma, beta [1 x d]. y may alias x.
template <typename S>
void LayerNormForward(ConstMatrixMap<S> x, ConstRowVectorMap<S> gamma, ConstRowVectorMap<S> beta,
                      LayerNormCache<S> cache, MatrixMap<S> y) {
  const Eigen::Index d = x.cols();
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const S mean = AddressFreeSum(x.row(i)) / S(d);
    cache.xhat.row(i) = x.row(i).array() - mean;
    const S var = cache.xhat.row(i).squaredNorm() / S(d);
    const S rstd = S(1) / std::sqrt(var + S(kLayerNormEps));
    cache.rstd[i] = rstd;
    cache.xhat.row(i) *= rstd;
    y.row(i) = cache.xhat.row(i).cwiseProduct(gamma) + beta;
  }
}

// dgamma += sum_i dy_i * xhat_i; dbeta += sum_i dy_i;
// dx_i += rstd_i * (g_i - mean(g_i) - xhat_i * mean(g_i * xhat_i)), g_i = dy_i * gamma.
template <typename S>
void LayerNormBackward(LayerNormCache<S> cache, ConstRowVectorMap<S> gamma, ConstMatrixMap<S> dy,
                       RowVectorMap<S> dgamma, RowVectorMap<S> dbeta, MatrixMap<S> dx) {
  const Eigen::Index d = dy.cols();
  const S inv_d = S(1) / S(d);
  for (Eigen::Index i = 0; i < dy.rows(); ++i) {
    auto xhat = cache.xhat.row(i);
    auto g = dy.row(i).cwiseProduct(gamma);
    dgamma += dy.row(i).cwiseProduct(xhat);
    dbeta += dy.row(i);
    const S mean_g = g.sum() * inv_d;
    const S mean_gx = g.dot(xhat) * inv_d;
    dx.row(i).array() += cache.rstd[i] * (g.array() - mean_g - xhat.array() * mean_gx);
  }
}

}  // namespace fedrec::layers
