// Adapter: maps frozen item content features (f scalars per item) into a
// model's item space (d scalars per item), applied row-wise to a batch of
// feature rows x [m x f]:
//
//   linear: y = x W + b                          W [f x d], b [1 x d]
//   mlp:    y = relu(LN(x W1 + b1)) W2 + b2      W1 [f x h], b1 [1 x h],
//                                                LN gamma, beta [1 x h],
//                                                W2 [h x d], b2 [1 x d]
//
// Parameters are passed as pointers in the order above (AdapterShape::names
// gives the tensor names a model registers, in that order). The features are
// inputs, never trained: Backward produces parameter gradients only.
// Conventions as every layer here (models/layers/eigen_types.h): caller-owned
// buffers, gradients accumulated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/layers/eigen_types.h"
#include "models/layers/layer_norm.h"
#include "models/layers/linear.h"

namespace fedrec::layers {

enum class AdapterKind { kLinear, kMlp };

struct AdapterShape {
  AdapterKind kind = AdapterKind::kLinear;
  uint32_t in = 0;      // f
  uint32_t hidden = 0;  // h (mlp only)
  uint32_t out = 0;     // d

  size_t num_tensors() const { return kind == AdapterKind::kLinear ? 2 : 6; }
  // (name suffix, rows, cols) of tensor k, in parameter order.
  struct Tensor {
    std::string name;
    uint32_t rows, cols;
  };
  std::vector<Tensor> tensors() const {
    if (kind == AdapterKind::kLinear) return {{"w", in, out}, {"b", 1, out}};
    return {{"w1", in, hidden},     {"b1", 1, hidden},   {"ln.gamma", 1, hidden},
            {"ln.beta", 1, hidden}, {"w2", hidden, out}, {"b2", 1, out}};
  }
};

// Activations Forward keeps for Backward (mlp only; unused for linear):
// every map m x h, rstd m scalars.
template <typename S>
struct AdapterCache {
  MatrixMap<S> xhat;  // LayerNorm's normalised input
  S* rstd;
  MatrixMap<S> act;      // relu(LN(x W1 + b1))
  MatrixMap<S> scratch;  // pre-activation in Forward; a gradient in Backward
  MatrixMap<S> scratch2;
};

// y[m x d] = Adapter(x[m x f]).
template <typename S>
void AdapterForward(const AdapterShape& s, const S* const* p, ConstMatrixMap<S> x,
                    AdapterCache<S> c, MatrixMap<S> y) {
  const Eigen::Index f = s.in, d = s.out;
  if (s.kind == AdapterKind::kLinear) {
    LinearForward<S>(x, ConstMatrixMap<S>(p[0], f, d), ConstRowVectorMap<S>(p[1], d), y);
    return;
  }
  const Eigen::Index h = s.hidden;
  LinearForward<S>(x, ConstMatrixMap<S>(p[0], f, h), ConstRowVectorMap<S>(p[1], h), c.scratch);
  LayerNormForward<S>(AsConst(c.scratch), ConstRowVectorMap<S>(p[2], h),
                      ConstRowVectorMap<S>(p[3], h), {c.xhat, c.rstd}, c.act);
  c.act = c.act.cwiseMax(S(0));
  LinearForward<S>(AsConst(c.act), ConstMatrixMap<S>(p[4], h, d), ConstRowVectorMap<S>(p[5], d), y);
}

// g[k] += d(loss)/d(p[k]) given dy = d(loss)/dy [m x d] and the cache of the
// Forward call on the same x.
template <typename S>
void AdapterBackward(const AdapterShape& s, const S* const* p, ConstMatrixMap<S> x,
                     AdapterCache<S> c, ConstMatrixMap<S> dy, S* const* g) {
  const Eigen::Index f = s.in, d = s.out;
  if (s.kind == AdapterKind::kLinear) {
    LinearBackward<S>(x, ConstMatrixMap<S>(p[0], f, d), dy, MatrixMap<S>(g[0], f, d),
                      RowVectorMap<S>(g[1], d), nullptr);
    return;
  }
  const Eigen::Index h = s.hidden;
  // dact = dy W2^T, masked by the relu: the gradient w.r.t. LN's output.
  MatrixMap<S> dn = c.scratch;
  dn.setZero();
  LinearBackward<S>(AsConst(c.act), ConstMatrixMap<S>(p[4], h, d), dy, MatrixMap<S>(g[4], h, d),
                    RowVectorMap<S>(g[5], d), &dn);
  ReluBackwardInPlace<S>(c.act.data(), nullptr, dn.data(), static_cast<size_t>(dn.size()));
  MatrixMap<S> dz = c.scratch2;
  dz.setZero();
  LayerNormBackward<S>({c.xhat, c.rstd}, ConstRowVectorMap<S>(p[2], h), AsConst(dn),
                       RowVectorMap<S>(g[2], h), RowVectorMap<S>(g[3], h), dz);
  LinearBackward<S>(x, ConstMatrixMap<S>(p[0], f, h), AsConst(dz), MatrixMap<S>(g[0], f, h),
                    RowVectorMap<S>(g[1], h), nullptr);
}

}  // namespace fedrec::layers
