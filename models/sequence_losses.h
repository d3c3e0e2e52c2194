// Losses of a sequence model's hidden states against the item table, with
// negatives SHARED by every position of one sequence, so that scoring them is
// one (L x d) x (d x N) GEMM and their gradients two more GEMMs, instead of
// L * N scattered dot products. Templated on the scalar: the models run
// float, the gradient checks double. Internal to models/; not an API.
//
// Invariant that makes sharing exact: the negatives of a sequence are drawn
// from items NOT in the user's training sequence (every input and target),
// so a shared negative can never be the target of any position and needs no
// per-position mask. When the user has touched every eligible item, no
// negatives are drawn at all (the sampled losses then see only the target).
//
// Logits, for a hidden state h and an item row e:
//   plain:      s = <h, e> / tau
//   normalised: s = <h / |h|, e / |e|> / tau   (|x| floored at kNormEps)
// tau = 1 leaves the plain logits bitwise as before (no scaling is done).
// With popularity negatives, each negative's logit is corrected by
// - log(N * q(item)), q the probability the sampler drew it with (logQ
// correction, Yi et al. 2019; the target's logit is not corrected).
//
// Loss per position t, target logit s+, negative logits s_k (k < N):
//   sampled softmax: log(exp(s+) + sum_k exp(s_k)) - s+
//   gBCE (Petrov & Macdonald, RecSys 2023):
//                    -beta * log sigmoid(s+) - sum_k log(1 - sigmoid(s_k))
//                    = beta * softplus(-s+) + sum_k softplus(s_k)
//   full softmax:    CE over every item of the catalogue (no negatives).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "core/random.h"
#include "core/status.h"
#include "models/gradients.h"
#include "models/layers/eigen_types.h"
#include "models/losses.h"
#include "models/negatives.h"

namespace fedrec::seqloss {

using layers::ConstMatrixMap;
using layers::MatrixMap;

// Grow-only buffer: Get(n) returns at least n scalars, reallocating only
// when a larger request than ever before arrives.
template <typename S>
class Buffer {
 public:
  S* Get(size_t n) {
    if (data_.size() < n) data_.resize(n);
    return data_.data();
  }

 private:
  layers::AlignedVector<S> data_;
};

// Floor of |x| in normalisation (as torch.nn.functional.normalize): a zero
// vector stays zero instead of dividing by zero.
inline constexpr double kNormEps = 1e-12;

enum class HeadLoss { kSampledSoftmax, kGbce, kFullSoftmax };

struct HeadOptions {
  HeadLoss loss = HeadLoss::kSampledSoftmax;
  bool normalize = false;    // cosine logits
  double temperature = 1.0;  // tau > 0; 1 = no scaling
  double gbce_beta = 1.0;    // kGbce only
  // kFullSoftmax: items left out of the softmax (logit -inf, gradient 0);
  // null = none. The sampled heads never see them (DrawSharedNegatives).
  const ExcludedItems* excluded = nullptr;
  // Sampled heads: negatives drawn per position (PerPositionNegativesLoss)
  // instead of shared by the sequence.
  bool per_position = false;
};

// gSASRec's beta for k negatives out of num_items - 1 candidates and
// calibration t in [0, 1]: alpha = k / (num_items - 1),
// beta = alpha * (t * (1 - 1/alpha) + 1/alpha) = 1 - t * (1 - alpha).
// t = 0 gives beta = 1 (plain BCE); t = 1 gives beta = alpha (the fully
// calibrated limit).
inline double GbceBeta(uint32_t negatives, uint32_t num_items, double t) {
  const double alpha = static_cast<double>(negatives) / (static_cast<double>(num_items) - 1.0);
  return alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha);
}

// The head options of a sequence model: gBCE (beta from `negatives`, the
// catalogue and calibration gbce_t), else sampled softmax over `negatives`,
// or the full softmax when there are none.
HeadOptions MakeHeadOptions(bool gbce, uint32_t negatives, uint32_t num_items, double gbce_t,
                            bool normalize, double temperature, bool per_position,
                            const ExcludedItems* excluded);

// Walker's alias table over item counts: Draw() returns item i with
// probability counts[i] / sum(counts) in O(1) (two words of the stream).
// Built once per model; read-only afterwards, so threads share it.
class PopularityTable {
 public:
  PopularityTable() = default;
  explicit PopularityTable(std::span<const uint64_t> counts);

  uint32_t size() const { return static_cast<uint32_t>(counts_.size()); }
  uint64_t count(uint32_t item) const { return counts_[item]; }
  uint64_t total() const { return total_; }
  uint32_t Draw(RandomStream& stream) const {
    const uint32_t j = stream.NextBelow(size());
    return stream.NextDouble() < accept_[j] ? j : alias_[j];
  }

 private:
  std::vector<uint64_t> counts_;
  std::vector<double> accept_;
  std::vector<uint32_t> alias_;
  uint64_t total_ = 0;
};

// The popularity table of Model::SetItemPopularity from one training count
// per item: InvalidArgument "<model>: item popularity: ..." for the wrong
// number of counts or all of them zero.
absl::StatusOr<PopularityTable> MakePopularityTable(const char* model,
                                                    std::span<const uint64_t> counts,
                                                    uint32_t num_items);

// Draws `n` negatives shared by one sequence into *out, none of them in
// `items` (the user's whole training sequence) or `excluded`, from `stream`:
// uniformly by rejection, or by popularity (`table` not null) by rejection.
// `seen` is a num_items-sized zeroed bitmap, left zeroed. With popularity,
// *logq gets log(n * q(item)) per negative, q the probability of drawing
// that item given the rejection, count / (total - count of the rejected
// items); when the rejected items hold all the popularity mass, the others
// are drawn uniformly (q = 1 / available). Draws nothing when no item is
// available.
void DrawSharedNegatives(RandomStream& stream, std::span<const uint32_t> items, uint32_t num_items,
                         const PopularityTable* table, uint32_t n, const ExcludedItems& excluded,
                         std::vector<uint8_t>& seen, std::vector<uint32_t>* out,
                         std::vector<double>* logq);

template <typename S>
struct HeadScratch {
  Buffer<S> hs, hinv, ts, tinv, gs, ginv, pos, dpos, nl, dhs, dts, dgs, cat, catinv, dcat;
};

// Row-normalises x (rows x d) into xs, inverse norms into inv.
template <typename S>
void NormalizeRows(ConstMatrixMap<S> x, MatrixMap<S> xs, S* inv) {
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const S norm = std::max(x.row(r).norm(), S(kNormEps));
    inv[r] = S(1) / norm;
    xs.row(r) = x.row(r) * inv[r];
  }
}

// d/dx of x / max(|x|, eps) applied to dxs, in place: the component along
// xs is removed (the normalisation is scale-invariant), then scaled by 1/|x|.
// Below the floor the map is linear (x / eps): no projection.
template <typename S>
void NormalizeBackward(ConstMatrixMap<S> xs, const S* inv, MatrixMap<S> dxs) {
  for (Eigen::Index r = 0; r < xs.rows(); ++r) {
    if (inv[r] < S(1 / kNormEps)) dxs.row(r) -= dxs.row(r).dot(xs.row(r)) * xs.row(r);
    dxs.row(r) *= inv[r];
  }
}

// The loss of hidden states h (L x d) against `targets` (L) and the shared
// `negatives` (N; logq: N corrections or null), for kSampledSoftmax and kGbce.
// When dh is not null, adds d loss / dh into *dh and the item rows' gradients
// into demb (num_items x d, rows marked in tracker at index `emb_index`).
template <typename S>
S SharedNegativesLoss(const HeadOptions& o, ConstMatrixMap<S> h, ConstMatrixMap<S> emb,
                      std::span<const uint32_t> targets, std::span<const uint32_t> negatives,
                      const double* logq, MatrixMap<S>* dh, MatrixMap<S>* demb, Gradients* tracker,
                      size_t emb_index, HeadScratch<S>& ws) {
  const Eigen::Index len = h.rows(), d = h.cols();
  const Eigen::Index n = static_cast<Eigen::Index>(negatives.size());
  const bool norm = o.normalize;
  const S c = S(1) / S(o.temperature);
  // Scaled-or-not views of h, the targets' rows and the negatives' rows.
  S* hs_p = ws.hs.Get(len * d);
  S* ts_p = ws.ts.Get(len * d);
  S* gs_p = ws.gs.Get(std::max<Eigen::Index>(n, 1) * d);
  MatrixMap<S> ts(ts_p, len, d), gs(gs_p, n, d);
  for (Eigen::Index t = 0; t < len; ++t) ts.row(t) = emb.row(targets[t]);
  for (Eigen::Index k = 0; k < n; ++k) gs.row(k) = emb.row(negatives[k]);
  S* hinv = ws.hinv.Get(len);
  S* tinv = ws.tinv.Get(len);
  S* ginv = ws.ginv.Get(std::max<Eigen::Index>(n, 1));
  if (norm) {
    NormalizeRows<S>(h, MatrixMap<S>(hs_p, len, d), hinv);
    NormalizeRows<S>(ConstMatrixMap<S>(ts_p, len, d), ts, tinv);
    NormalizeRows<S>(ConstMatrixMap<S>(gs_p, n, d), gs, ginv);
  } else {
    MatrixMap<S>(hs_p, len, d) = h;
  }
  ConstMatrixMap<S> hs(hs_p, len, d);

  // Logits: the target's per position, the negatives' as one GEMM.
  S* pos = ws.pos.Get(len);
  S* dpos = ws.dpos.Get(len);
  MatrixMap<S> nl(ws.nl.Get(std::max<Eigen::Index>(len * n, 1)), len, n);
  for (Eigen::Index t = 0; t < len; ++t) pos[t] = hs.row(t).dot(ts.row(t));
  if (n > 0) nl.noalias() = hs * gs.transpose();
  if (c != S(1)) {
    for (Eigen::Index t = 0; t < len; ++t) pos[t] *= c;
    nl *= c;
  }
  if (logq != nullptr) {
    for (Eigen::Index k = 0; k < n; ++k) nl.col(k).array() -= S(logq[k]);
  }

  // Per-position losses; nl is overwritten by d loss / d logit. The
  // element-wise work runs on whole rows (or the whole matrix) with Eigen's
  // vectorised exp / log1p, and sums with AddressFreeSum so that the result
  // does not depend on where the buffer lies.
  S loss = 0;
  if (o.loss == HeadLoss::kSampledSoftmax) {
    for (Eigen::Index t = 0; t < len; ++t) {
      const S max = n > 0 ? std::max(pos[t], nl.row(t).maxCoeff()) : pos[t];
      const S ep = std::exp(pos[t] - max);
      S sum = ep;
      if (n > 0) {
        nl.row(t) = (nl.row(t).array() - max).exp().matrix();
        sum += layers::AddressFreeSum(nl.row(t));
      }
      const S inv = S(1) / sum;
      loss += std::log(sum) + max - pos[t];
      dpos[t] = ep * inv - S(1);
      if (n > 0) nl.row(t) *= inv;
    }
  } else {
    const S beta = S(o.gbce_beta);
    for (Eigen::Index t = 0; t < len; ++t) {
      loss += beta * Softplus(-pos[t]);
      dpos[t] = -beta * Sigmoid(-pos[t]);
    }
    if (n > 0) {
      // softplus(s) = max(s, 0) + log1p(e^-|s|) as in losses.h; sigmoid as
      // 1 / (1 + e^-s), which cannot overflow to NaN (Eigen's exp clamps its
      // argument, and 1 / (1 + huge) is the right limit, 0).
      auto s = nl.array();
      loss += layers::AddressFreeSum(s.max(S(0)) + (-s.abs()).exp().log1p());
      s = (S(1) + (-s).exp()).inverse();
    }
  }
  if (dh == nullptr) return loss;

  // Back through the scale: d/d(raw dot) = c * d/d(logit).
  if (c != S(1)) {
    for (Eigen::Index t = 0; t < len; ++t) dpos[t] *= c;
    nl *= c;
  }
  MatrixMap<S> dhs(ws.dhs.Get(len * d), len, d);
  MatrixMap<S> dts(ws.dts.Get(len * d), len, d);
  MatrixMap<S> dgs(ws.dgs.Get(std::max<Eigen::Index>(n, 1) * d), n, d);
  for (Eigen::Index t = 0; t < len; ++t) {
    dhs.row(t) = dpos[t] * ts.row(t);
    dts.row(t) = dpos[t] * hs.row(t);
  }
  if (n > 0) {
    dhs.noalias() += nl * gs;
    dgs.noalias() = nl.transpose() * hs;
  }
  if (norm) {
    NormalizeBackward<S>(hs, hinv, dhs);
    NormalizeBackward<S>(ConstMatrixMap<S>(ts_p, len, d), tinv, dts);
    NormalizeBackward<S>(ConstMatrixMap<S>(gs_p, n, d), ginv, dgs);
  }
  *dh += dhs;
  for (Eigen::Index t = 0; t < len; ++t) {
    if (tracker != nullptr) tracker->MarkRow(emb_index, targets[t]);
    demb->row(targets[t]) += dts.row(t);
  }
  for (Eigen::Index k = 0; k < n; ++k) {
    if (tracker != nullptr) tracker->MarkRow(emb_index, negatives[k]);
    demb->row(negatives[k]) += dgs.row(k);
  }
  return loss;
}

// The sampled losses with negatives drawn PER POSITION (gSASRec's setting):
// `negatives` holds len x k items, position t's in [t k, (t + 1) k), and
// `logq` as many corrections (or null); an empty `negatives` means none were
// available. Position t's loss is SharedNegativesLoss of h.row(t) against
// its own k negatives, so the gradients are those already checked; the cost
// is L x k gathered rows instead of one GEMM.
template <typename S>
S PerPositionNegativesLoss(const HeadOptions& o, ConstMatrixMap<S> h, ConstMatrixMap<S> emb,
                           std::span<const uint32_t> targets, std::span<const uint32_t> negatives,
                           const double* logq, MatrixMap<S>* dh, MatrixMap<S>* demb,
                           Gradients* tracker, size_t emb_index, HeadScratch<S>& ws) {
  const Eigen::Index len = h.rows(), d = h.cols();
  const size_t k = len > 0 ? negatives.size() / static_cast<size_t>(len) : 0;
  S loss = 0;
  for (Eigen::Index t = 0; t < len; ++t) {
    const size_t first = static_cast<size_t>(t) * k;
    ConstMatrixMap<S> ht(h.data() + t * d, 1, d);
    MatrixMap<S> dht(dh != nullptr ? dh->data() + t * d : nullptr, 1, d);
    loss += SharedNegativesLoss<S>(o, ht, emb, targets.subspan(t, 1), negatives.subspan(first, k),
                                   logq != nullptr ? logq + first : nullptr,
                                   dh != nullptr ? &dht : nullptr, demb, tracker, emb_index, ws);
  }
  return loss;
}

// Draws `per_position` sets of n negatives (DrawSharedNegatives, one after
// the other from `stream`) into *out and *logq, position t's at [t n,
// (t + 1) n); nothing when no item is available.
void DrawPerPositionNegatives(RandomStream& stream, std::span<const uint32_t> items,
                              uint32_t num_items, const PopularityTable* table, uint32_t n,
                              size_t per_position, const ExcludedItems& excluded,
                              std::vector<uint8_t>& seen, std::vector<uint32_t>* out,
                              std::vector<double>* logq);

// The loss of the head `o` chooses: FullSoftmaxLoss, PerPositionNegativesLoss
// or SharedNegativesLoss (arguments as theirs; `negatives` and `logq`
// unused by the full softmax).
template <typename S>
S FullSoftmaxLoss(const HeadOptions& o, ConstMatrixMap<S> h, ConstMatrixMap<S> emb,
                  std::span<const uint32_t> targets, MatrixMap<S>* dh, MatrixMap<S>* demb,
                  Gradients* tracker, size_t emb_index, HeadScratch<S>& ws);
template <typename S>
S HeadLossOf(const HeadOptions& o, ConstMatrixMap<S> h, ConstMatrixMap<S> emb,
             std::span<const uint32_t> targets, std::span<const uint32_t> negatives,
             const double* logq, MatrixMap<S>* dh, MatrixMap<S>* demb, Gradients* tracker,
             size_t emb_index, HeadScratch<S>& ws) {
  if (o.loss == HeadLoss::kFullSoftmax) {
    return FullSoftmaxLoss<S>(o, h, emb, targets, dh, demb, tracker, emb_index, ws);
  }
  if (o.per_position) {
    return PerPositionNegativesLoss<S>(o, h, emb, targets, negatives, logq, dh, demb, tracker,
                                       emb_index, ws);
  }
  return SharedNegativesLoss<S>(o, h, emb, targets, negatives, logq, dh, demb, tracker, emb_index,
                                ws);
}

// Full softmax over the catalogue, in chunks of positions to bound memory.
// Without normalisation and at tau = 1 these are the former full-CE GEMMs;
// the softmax uses Eigen's vectorised exp (not bitwise the former scalar one).
template <typename S>
S FullSoftmaxLoss(const HeadOptions& o, ConstMatrixMap<S> h, ConstMatrixMap<S> emb,
                  std::span<const uint32_t> targets, MatrixMap<S>* dh, MatrixMap<S>* demb,
                  Gradients* tracker, size_t emb_index, HeadScratch<S>& ws) {
  // Positions per chunk: as many as keep the chunk's logits within
  // kMaxChunkLogits scalars (16 MiB of float), at least 32. Each GEMM packs
  // the whole catalogue once per chunk, so fewer, taller chunks pay less
  // packing per position; one sequence of up to 167 positions over a
  // 25k-item catalogue is a single chunk.
  constexpr Eigen::Index kMaxChunkLogits = Eigen::Index{1} << 22;
  const Eigen::Index len = h.rows(), d = h.cols(), m = emb.rows();
  const Eigen::Index kChunk =
      std::max<Eigen::Index>(32, kMaxChunkLogits / std::max<Eigen::Index>(m, 1));
  const bool norm = o.normalize;
  const S c = S(1) / S(o.temperature);
  S* hinv = ws.hinv.Get(len);
  S* catinv = ws.catinv.Get(m);
  if (norm) {
    NormalizeRows<S>(h, MatrixMap<S>(ws.hs.Get(len * d), len, d), hinv);
    NormalizeRows<S>(emb, MatrixMap<S>(ws.cat.Get(m * d), m, d), catinv);
  }
  ConstMatrixMap<S> hs = norm ? ConstMatrixMap<S>(ws.hs.Get(len * d), len, d) : h;
  ConstMatrixMap<S> es = norm ? ConstMatrixMap<S>(ws.cat.Get(m * d), m, d) : emb;
  // Gradients w.r.t. the (normalised or raw) rows: scratch when normalising,
  // else straight into dh / demb. Unused (and unallocated) without dh.
  const bool grad = dh != nullptr;
  MatrixMap<S> dhs(norm || !grad ? ws.dhs.Get(grad ? len * d : 0) : dh->data(), len, d);
  MatrixMap<S> des(norm || !grad ? ws.dcat.Get(grad ? m * d : 0) : demb->data(), m, d);
  if (grad && norm) {
    dhs.setZero();
    des.setZero();
  }
  if (dh != nullptr && tracker != nullptr) {
    for (Eigen::Index i = 0; i < m; ++i) tracker->MarkRow(emb_index, static_cast<uint32_t>(i));
  }
  S loss = 0;
  for (Eigen::Index t0 = 0; t0 < len; t0 += kChunk) {
    const Eigen::Index rows = std::min(kChunk, len - t0);
    // The logits, overwritten row by row by d loss / d logit.
    MatrixMap<S> lg(ws.nl.Get(rows * m), rows, m);
    MatrixMap<S>& dl = lg;
    lg.noalias() = hs.middleRows(t0, rows) * es.transpose();
    if (c != S(1)) lg *= c;
    std::span<const uint32_t> excluded;
    if (o.excluded != nullptr) excluded = o.excluded->items();
    for (uint32_t e : excluded) lg.col(e).setConstant(-std::numeric_limits<S>::infinity());
    // Row-wise softmax with Eigen's vectorised exp: over a large catalogue
    // the exps, not the GEMMs, would otherwise dominate (scalar std::exp).
    for (Eigen::Index r = 0; r < rows; ++r) {
      const S max = lg.row(r).maxCoeff();
      const S target_logit = lg(r, targets[t0 + r]);
      dl.row(r) = (lg.row(r).array() - max).exp().matrix();
      // Eigen's exp clamps its argument: an excluded item's share is set to
      // exactly 0 so that its row gets no gradient at all.
      for (uint32_t e : excluded) dl(r, e) = S(0);
      const S sum = layers::AddressFreeSum(dl.row(r));
      dl.row(r) *= S(1) / sum;
      dl(r, targets[t0 + r]) -= S(1);
      loss += std::log(sum) + max - target_logit;
    }
    if (dh != nullptr) {
      if (c != S(1)) dl *= c;
      dhs.middleRows(t0, rows).noalias() += dl * es;
      des.noalias() += dl.transpose() * hs.middleRows(t0, rows);
    }
  }
  if (dh != nullptr && norm) {
    NormalizeBackward<S>(hs, hinv, dhs);
    NormalizeBackward<S>(es, catinv, des);
    *dh += dhs;
    *demb += des;
  }
  return loss;
}

}  // namespace fedrec::seqloss
