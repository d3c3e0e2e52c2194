// Affine layer y = x W + b, applied row-wise (a point-wise dense layer or
// TF's 1x1 conv1d).
#pragma once

#include <algorithm>

#include "models/layers/eigen_types.h"

namespace fedrec::layers {

// y[n x out] = x[n x in] * w[in x out] + b[1 x out].
template <typename S>
void LinearForward(ConstMatrixMap<S> x, ConstMatrixMap<S> w, ConstRowVectorMap<S> b,
                   MatrixMap<S> y) {
  // The bias first, the product added onto it: one pass less than the
  // product then the bias (Eigen zeroes a product's destination first). The
  // values are the same while Eigen forms the whole depth's sum before adding
  // it (one depth block: the models' hidden widths); a deeper product may
  // round differently, deterministically.
  // Row by row as copies: Eigen's rowwise() assignment stores one scalar at
  // a time (5% of a central ML-100K SASRec run).
  const auto out = static_cast<size_t>(y.cols());
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    std::copy_n(b.data(), out, y.data() + i * y.cols());
  }
  y.noalias() += x * w;
}

// dw[in x out] += x^T dy; db[1 x out] += colsum(dy); dx[n x in] += dy w^T
// (skipped when dx == nullptr, e.g. for an input that needs no gradient).
template <typename S>
void LinearBackward(ConstMatrixMap<S> x, ConstMatrixMap<S> w, ConstMatrixMap<S> dy, MatrixMap<S> dw,
                    RowVectorMap<S> db, MatrixMap<S>* dx) {
  dw.noalias() += x.transpose() * dy;
  db += dy.colwise().sum();
  if (dx != nullptr) dx->noalias() += dy * w.transpose();
}

}  // namespace fedrec::layers
