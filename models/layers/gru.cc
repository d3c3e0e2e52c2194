#include "models/layers/gru.h"

#include <Eigen/Core>
#include <algorithm>

namespace fedrec {
namespace {

template <typename S>
using RowMat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <typename S>
using RowVec = Eigen::Matrix<S, 1, Eigen::Dynamic>;

// Grows `v` to at least n elements (never shrinks, so it reallocates only
// when a longer sequence than ever before arrives).
template <typename S>
S* Grow(layers::AlignedVector<S>* v, size_t n) {
  if (v->size() < n) v->resize(n);
  return v->data();
}

template <typename S>
S StableSigmoid(S x) {
  if (x >= 0) return S(1) / (S(1) + std::exp(-x));
  const S e = std::exp(x);
  return e / (S(1) + e);
}

}  // namespace

template <typename Scalar>
void GruLayer<Scalar>::Forward(const GruWeights<Scalar>& w, const Scalar* x, int steps,
                               const Scalar* h0, const Scalar* input_mask, Scalar* out) {
  using Map = Eigen::Map<RowMat<Scalar>>;
  using CMap = Eigen::Map<const RowMat<Scalar>>;
  w_ = w;
  steps_ = steps;
  masked_ = input_mask != nullptr;
  const int d = w.input_dim, h = w.hidden_dim, t_len = steps;
  const size_t td = static_cast<size_t>(t_len) * d;

  Scalar* xm = Grow(&xm_, td);
  if (masked_) {
    Scalar* m = Grow(&mask_, td);
    for (size_t i = 0; i < td; ++i) {
      m[i] = input_mask[i];
      xm[i] = x[i] * input_mask[i];
    }
  } else {
    std::copy(x, x + td, xm);
  }
  Scalar* hs = Grow(&hs_, static_cast<size_t>(t_len + 1) * h);
  if (h0 != nullptr) {
    std::copy(h0, h0 + h, hs);
  } else {
    std::fill(hs, hs + h, Scalar(0));
  }
  if (t_len == 0) return;

  // Input projection of every step at once: G = Xm W_ih^T + b_ih.
  Map gates(Grow(&gates_, static_cast<size_t>(t_len) * 3 * h), t_len, 3 * h);
  CMap w_ih(w.w_ih, 3 * h, d);
  CMap w_hh(w.w_hh, 3 * h, h);
  Eigen::Map<const RowVec<Scalar>> b_ih(w.b_ih, 3 * h);
  Eigen::Map<const Vec<Scalar>> b_hh(w.b_hh, 3 * h);
  // The bias rows first (copies: Eigen's rowwise() stores one scalar at a
  // time), the product added onto them: the same values as product + bias
  // while the depth is one block.
  for (int t = 0; t < t_len; ++t) gates.row(t) = b_ih;
  gates.noalias() += CMap(xm, t_len, d) * w_ih.transpose();

  Scalar* ghn = Grow(&ghn_, static_cast<size_t>(t_len) * h);
  Eigen::Map<Vec<Scalar>> gh(Grow(&gh_, static_cast<size_t>(3 * h)), 3 * h);
  for (int t = 0; t < t_len; ++t) {
    const Scalar* hp = hs + static_cast<size_t>(t) * h;
    Scalar* hn = hs + static_cast<size_t>(t + 1) * h;
    gh.noalias() = w_hh * Eigen::Map<const Vec<Scalar>>(hp, h);
    gh += b_hh;
    Scalar* g = gates.row(t).data();
    Scalar* gn = ghn + static_cast<size_t>(t) * h;
    for (int j = 0; j < h; ++j) {
      const Scalar r = StableSigmoid(g[j] + gh[j]);
      const Scalar z = StableSigmoid(g[h + j] + gh[h + j]);
      gn[j] = gh[2 * h + j];
      const Scalar n = std::tanh(g[2 * h + j] + r * gn[j]);
      g[j] = r;
      g[h + j] = z;
      g[2 * h + j] = n;
      hn[j] = (Scalar(1) - z) * n + z * hp[j];
    }
  }
  std::copy(hs + h, hs + static_cast<size_t>(t_len + 1) * h, out);
}

template <typename Scalar>
void GruLayer<Scalar>::Backward(const Scalar* dout, GruGradients<Scalar>* grads, Scalar* dx,
                                Scalar* dh0) {
  using Map = Eigen::Map<RowMat<Scalar>>;
  using CMap = Eigen::Map<const RowMat<Scalar>>;
  const int d = w_.input_dim, h = w_.hidden_dim, t_len = steps_;
  Eigen::Map<Vec<Scalar>> dh(Grow(&dh_, static_cast<size_t>(h)), h);
  dh.setZero();
  if (t_len == 0) {
    if (dh0 != nullptr) std::fill(dh0, dh0 + h, Scalar(0));
    return;
  }
  Map dgi(Grow(&dgi_, static_cast<size_t>(t_len) * 3 * h), t_len, 3 * h);
  Map dgh(Grow(&dgh_, static_cast<size_t>(t_len) * 3 * h), t_len, 3 * h);
  CMap w_hh(w_.w_hh, 3 * h, h);
  const Scalar* hs = hs_.data();
  const Scalar* gates = gates_.data();
  const Scalar* ghn = ghn_.data();

  for (int t = t_len - 1; t >= 0; --t) {
    const Scalar* hp = hs + static_cast<size_t>(t) * h;
    const Scalar* g = gates + static_cast<size_t>(t) * 3 * h;
    const Scalar* gn = ghn + static_cast<size_t>(t) * h;
    const Scalar* dcur = dout + static_cast<size_t>(t) * h;
    Scalar* di = dgi.row(t).data();
    Scalar* dr_h = dgh.row(t).data();
    for (int j = 0; j < h; ++j) {
      const Scalar r = g[j], z = g[h + j], n = g[2 * h + j];
      const Scalar dht = dh[j] + dcur[j];
      const Scalar dn = dht * (Scalar(1) - z);
      const Scalar dz = dht * (hp[j] - n);
      const Scalar dan = dn * (Scalar(1) - n * n);
      const Scalar dar = dan * gn[j] * r * (Scalar(1) - r);
      const Scalar daz = dz * z * (Scalar(1) - z);
      di[j] = dar;
      di[h + j] = daz;
      di[2 * h + j] = dan;
      dr_h[j] = dar;
      dr_h[h + j] = daz;
      dr_h[2 * h + j] = dan * r;
      dh[j] = dht * z;  // direct path h_{t-1} -> h_t
    }
    dh.noalias() += w_hh.transpose() * Eigen::Map<const Vec<Scalar>>(dr_h, 3 * h);
  }
  if (dh0 != nullptr) std::copy(dh.data(), dh.data() + h, dh0);

  CMap xm(xm_.data(), t_len, d);
  CMap hprev(hs, t_len, h);
  Map(grads->w_ih, 3 * h, d).noalias() += dgi.transpose() * xm;
  Map(grads->w_hh, 3 * h, h).noalias() += dgh.transpose() * hprev;
  Eigen::Map<RowVec<Scalar>>(grads->b_ih, 3 * h) += dgi.colwise().sum();
  Eigen::Map<RowVec<Scalar>>(grads->b_hh, 3 * h) += dgh.colwise().sum();
  if (dx != nullptr) {
    Map dxm(dx, t_len, d);
    dxm.noalias() = dgi * CMap(w_.w_ih, 3 * h, d);
    if (masked_) dxm.array() *= CMap(mask_.data(), t_len, d).array();
  }
}

template class GruLayer<float>;
template class GruLayer<double>;

}  // namespace fedrec
