// Layer normalisation over the last dimension, as the official SASRec code
// (modules.normalize): y = gamma * (x - mean) / sqrt(var + eps) + beta with
// the biased variance and eps = 1e-8.
#pragma once

#include <cmath>
#include <cstring>

#include "models/layers/eigen_types.h"

namespace fedrec::layers {

inline constexpr double kLayerNormEps = 1e-8;

// What Backward needs: the normalised input and 1/sqrt(var + eps) per row.
template <typename S>
struct LayerNormCache {
  MatrixMap<S> xhat;  // n x d
  S* rstd;            // n
};

// Row kernels. Each sum runs in eight interleaved lanes (lane l takes the
// entries j = l mod 8, in order) that are then combined in a fixed tree,
// and the tail past the last multiple of 8 is added last. The order is
// written out, so it does not depend on how the compiler vectorises (only a
// build with FMA may fuse a multiply-add, as everywhere in a build); and one
// fused pass per row replaces five Eigen expressions, whose set-up cost as
// much as the arithmetic at d = 50.
namespace layer_norm_internal {

inline constexpr size_t kLanes = 8;

// Eight lanes as one GCC/Clang vector: one AVX register, or two SSE ones in
// a baseline build, in the same order either way.
template <typename S>
struct LaneVector;
template <>
struct LaneVector<float> {
  typedef float type __attribute__((vector_size(kLanes * sizeof(float))));
};
template <>
struct LaneVector<double> {
  typedef double type __attribute__((vector_size(kLanes * sizeof(double))));
};
template <typename S>
using Lanes = typename LaneVector<S>::type;

// Vectors pass by reference: by value, a 32- or 64-byte vector would take a
// different calling convention in builds without AVX or AVX-512.
template <typename S>
void LoadLanes(const S* p, Lanes<S>& v) {
  std::memcpy(&v, p, sizeof(v));
}

template <typename S>
void StoreLanes(S* p, const Lanes<S>& v) {
  std::memcpy(p, &v, sizeof(v));
}

template <typename S>
S CombineLanes(const Lanes<S>& lane, S tail) {
  return (((lane[0] + lane[4]) + (lane[2] + lane[6])) +
          ((lane[1] + lane[5]) + (lane[3] + lane[7]))) +
         tail;
}

template <typename S>
void ForwardRow(const S* x, const S* __restrict gamma, const S* __restrict beta, size_t d,
                S* __restrict xhat, S* rstd_out, S* y) {
  const size_t body = d - d % kLanes;
  Lanes<S> sum = {}, v;
  for (size_t j = 0; j < body; j += kLanes) {
    LoadLanes(x + j, v);
    sum += v;
  }
  S tail = 0;
  for (size_t j = body; j < d; ++j) tail += x[j];
  const S mean = CombineLanes(sum, tail) / S(d);
  Lanes<S> sq = {};
  for (size_t j = 0; j < body; j += kLanes) {
    LoadLanes(x + j, v);
    const Lanes<S> c = v - mean;
    StoreLanes(xhat + j, c);
    sq += c * c;
  }
  S sq_tail = 0;
  for (size_t j = body; j < d; ++j) {
    const S c = x[j] - mean;
    xhat[j] = c;
    sq_tail += c * c;
  }
  const S var = CombineLanes(sq, sq_tail) / S(d);
  const S rstd = S(1) / std::sqrt(var + S(kLayerNormEps));
  *rstd_out = rstd;
  // y may alias x, which is not read again.
  for (size_t j = 0; j < d; ++j) {
    const S h = xhat[j] * rstd;
    xhat[j] = h;
    y[j] = h * gamma[j] + beta[j];
  }
}

template <typename S>
void BackwardRow(const S* __restrict xhat, S rstd, const S* __restrict gamma,
                 const S* __restrict dy, size_t d, S* __restrict dgamma, S* __restrict dbeta,
                 S* __restrict dx) {
  const size_t body = d - d % kLanes;
  Lanes<S> sum_g = {}, sum_gx = {}, vdy, vgamma, vxhat;
  for (size_t j = 0; j < body; j += kLanes) {
    LoadLanes(dy + j, vdy);
    LoadLanes(gamma + j, vgamma);
    LoadLanes(xhat + j, vxhat);
    const Lanes<S> g = vdy * vgamma;
    sum_g += g;
    sum_gx += g * vxhat;
  }
  S g_tail = 0, gx_tail = 0;
  for (size_t j = body; j < d; ++j) {
    const S g = dy[j] * gamma[j];
    g_tail += g;
    gx_tail += g * xhat[j];
  }
  const S mean_g = CombineLanes(sum_g, g_tail) / S(d);
  const S mean_gx = CombineLanes(sum_gx, gx_tail) / S(d);
  for (size_t j = 0; j < d; ++j) {
    dgamma[j] += dy[j] * xhat[j];
    dbeta[j] += dy[j];
    dx[j] += rstd * (dy[j] * gamma[j] - mean_g - xhat[j] * mean_gx);
  }
}

}  // namespace layer_norm_internal

// y[n x d] = LN(x[n x d]) with gamma, beta [1 x d]. y may alias x.
template <typename S>
void LayerNormForward(ConstMatrixMap<S> x, ConstRowVectorMap<S> gamma, ConstRowVectorMap<S> beta,
                      LayerNormCache<S> cache, MatrixMap<S> y) {
  const auto d = static_cast<size_t>(x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    layer_norm_internal::ForwardRow(x.data() + i * x.cols(), gamma.data(), beta.data(), d,
                                    cache.xhat.data() + i * x.cols(), cache.rstd + i,
                                    y.data() + i * x.cols());
  }
}

// dgamma += sum_i dy_i * xhat_i; dbeta += sum_i dy_i;
// dx_i += rstd_i * (g_i - mean(g_i) - xhat_i * mean(g_i * xhat_i)), g_i = dy_i * gamma.
// dx must not alias dy.
template <typename S>
void LayerNormBackward(LayerNormCache<S> cache, ConstRowVectorMap<S> gamma, ConstMatrixMap<S> dy,
                       RowVectorMap<S> dgamma, RowVectorMap<S> dbeta, MatrixMap<S> dx) {
  const auto d = static_cast<size_t>(dy.cols());
  for (Eigen::Index i = 0; i < dy.rows(); ++i) {
    layer_norm_internal::BackwardRow(cache.xhat.data() + i * dy.cols(), cache.rstd[i], gamma.data(),
                                     dy.data() + i * dy.cols(), d, dgamma.data(), dbeta.data(),
                                     dx.data() + i * dy.cols());
  }
}

}  // namespace fedrec::layers
