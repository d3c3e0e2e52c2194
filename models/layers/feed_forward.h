// Point-wise feed-forward of SASRec (modules.feedforward without its
// residual, which the caller adds):
//   y = dropout2( dropout1( relu(x W1 + b1) ) W2 + b2 )
// x, y: L x d; W1: d x f, W2: f x d (the official code uses f = d).
#pragma once

#include "core/random.h"
#include "models/layers/dropout.h"
#include "models/layers/eigen_types.h"
#include "models/layers/linear.h"

namespace fedrec::layers {

template <typename S>
struct FeedForwardParams {
  ConstMatrixMap<S> w1;  // d x f
  ConstRowVectorMap<S> b1;
  ConstMatrixMap<S> w2;  // f x d
  ConstRowVectorMap<S> b2;
};

template <typename S>
struct FeedForwardGrads {
  MatrixMap<S> w1;
  RowVectorMap<S> b1;
  MatrixMap<S> w2;
  RowVectorMap<S> b2;
};

template <typename S>
struct FeedForwardCache {
  MatrixMap<S> hidden;  // L x f: dropout1(relu(x W1 + b1)) (the input of W2)
  MatrixMap<S> mask1;   // L x f dropout masks (only with dropout)
  MatrixMap<S> mask2;   // L x d
};

// Dropout when `dropout_stream` is not null and rate > 0: mask1 is drawn
// before mask2.
template <typename S>
void FeedForwardForward(ConstMatrixMap<S> x, const FeedForwardParams<S>& p,
                        RandomStream* dropout_stream, double rate, FeedForwardCache<S> cache,
                        MatrixMap<S> y) {
  const bool drop = dropout_stream != nullptr && rate > 0;
  LinearForward<S>(x, p.w1, p.b1, cache.hidden);
  if (drop) {
    FillDropoutMask(*dropout_stream, rate, cache.mask1.data(), cache.mask1.size());
    cache.hidden = cache.hidden.cwiseMax(S(0)).cwiseProduct(cache.mask1);
  } else {
    cache.hidden = cache.hidden.cwiseMax(S(0));
  }
  LinearForward<S>(AsConst(cache.hidden), p.w2, p.b2, y);
  if (drop) {
    FillDropoutMask(*dropout_stream, rate, cache.mask2.data(), cache.mask2.size());
    y = y.cwiseProduct(cache.mask2);
  }
}

// dx += dL/dx; parameter gradients accumulate into g. `dhidden` is L x f
// scratch; `dy2` is L x d scratch (used only with dropout).
template <typename S>
void FeedForwardBackward(ConstMatrixMap<S> x, const FeedForwardParams<S>& p, bool dropped_used,
                         const FeedForwardCache<S>& cache, ConstMatrixMap<S> dy,
                         FeedForwardGrads<S> g, MatrixMap<S> dhidden, MatrixMap<S> dy2,
                         MatrixMap<S> dx) {
  ConstMatrixMap<S> hidden(cache.hidden.data(), cache.hidden.rows(), cache.hidden.cols());
  const S* dyp = dy.data();
  if (dropped_used) {
    dy2 = dy.cwiseProduct(cache.mask2);
    dyp = dy2.data();
  }
  ConstMatrixMap<S> dlin2(dyp, dy.rows(), dy.cols());
  dhidden.setZero();
  LinearBackward<S>(hidden, p.w2, dlin2, g.w2, g.b2, &dhidden);
  // hidden > 0 exactly where relu was active and the entry was kept.
  ReluBackwardInPlace<S>(hidden.data(), dropped_used ? cache.mask1.data() : nullptr, dhidden.data(),
                         static_cast<size_t>(dhidden.size()));
  ConstMatrixMap<S> dlin1(dhidden.data(), dhidden.rows(), dhidden.cols());
  LinearBackward<S>(x, p.w1, dlin1, g.w1, g.b1, &dx);
}

}  // namespace fedrec::layers
