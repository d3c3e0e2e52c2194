// The SASRec computation on one sequence, templated on the scalar so that the
// model runs it in float and the gradient checks in double. Internal to
// models/sasrec.cc and tests; not an API.
//
// Parameters are addressed by tensor index in the layout SasRecModel builds
// (TensorIndex below); `params[k]` / `grads[k]` point at tensor k's
// row-major data.
//
// Only the valid (non-padded) suffix of a sequence is computed. That is
// exactly the official padded computation restricted to valid positions:
// sequences are right-aligned, so padding sits before every valid position;
// key masking gives padded keys weight exp(-2^32 + 1 - max) = 0 in float, so
// they never reach a valid position, and padded rows are zeroed after every
// block (the official `seq *= mask`), so no loss term reads them. Position
// indices stay absolute: a suffix of length L occupies slots
// max_len - L .. max_len - 1 of the window.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "core/random.h"
#include "models/gradients.h"
#include "models/item_table.h"
#include "models/layers/attention.h"
#include "models/layers/dropout.h"
#include "models/layers/embedding.h"
#include "models/layers/feed_forward.h"
#include "models/layers/layer_norm.h"
#include "models/losses.h"
#include "models/model.h"
#include "models/sasrec_options.h"
#include "models/sequence_losses.h"

namespace fedrec::sasrec_internal {

using layers::ConstMatrixMap;
using layers::ConstRowVectorMap;
using layers::MatrixMap;
using layers::RowVectorMap;

// Tensor order of the ParameterStore (part of the checkpoint format).
inline constexpr size_t kItemEmb = 0;
inline constexpr size_t kPosEmb = 1;
inline constexpr size_t kBlockBase = 2;
inline constexpr size_t kPerBlock = 14;
enum BlockTensor : size_t {
  kAttnLnGamma = 0,
  kAttnLnBeta,
  kWq,
  kBq,
  kWk,
  kBk,
  kWv,
  kBv,
  kFfnLnGamma,
  kFfnLnBeta,
  kW1,
  kB1,
  kW2,
  kB2,
};
inline size_t BlockTensorIndex(size_t block, BlockTensor t) {
  return kBlockBase + block * kPerBlock + t;
}
inline size_t FinalGamma(size_t blocks) { return kBlockBase + blocks * kPerBlock; }
inline size_t FinalBeta(size_t blocks) { return FinalGamma(blocks) + 1; }
// "out_emb", after the final LayerNorm (separate_output only), and the
// table the hidden states are scored against.
inline size_t OutEmbIndex(const SasRecOptions& o) { return FinalBeta(o.blocks) + 1; }
inline size_t ScoredTable(const SasRecOptions& o) {
  return o.separate_output ? OutEmbIndex(o) : kItemEmb;
}
// The loss is the softmax over the whole catalogue (ce without negatives).
inline bool IsFullSoftmax(const SasRecOptions& o) {
  return o.loss == SasRecLoss::kCe && o.ce_negatives == 0;
}

using seqloss::Buffer;

template <typename S>
struct BlockCache {
  Buffer<S> x_in, ln1_xhat, ln1_rstd, ln1_out, q, k, v, probs, dropped, attn_mask, attn_out, mid,
      ln2_xhat, ln2_rstd, ln2_out, hidden, mask1, mask2, ffn_out;
};

// Scratch of one thread: forward caches for backward, backward scratch, and
// the negative-sampling bitmap.
template <typename S>
struct SeqWorkspace {
  std::vector<BlockCache<S>> blocks;
  Buffer<S> emb_mask, final_in, final_xhat, final_rstd, hidden_out;
  Buffer<S> g0, g1, g2, g3, sdq, sdk, sdv, sdp, sdh, sdy2, logits, dlogits;
  std::vector<uint32_t> targets, negatives;
  std::vector<uint32_t> input_rows, target_rows, negative_rows;  // remapped ids
  std::vector<double> logq;
  std::vector<uint8_t> seen;
  seqloss::HeadScratch<S> head;
  // Feature-based items (FeatureBatchLoss): the batch's compact item rows,
  // each sequence's negatives, and the tensor pointers of the run on them.
  ItemRows<S> items;
  std::vector<std::vector<uint32_t>> batch_negatives;
  std::vector<std::vector<double>> batch_logq;
  std::vector<const S*> core_params;
  std::vector<S*> core_grads;
};

template <typename S>
MatrixMap<S> Mat(S* p, Eigen::Index r, Eigen::Index c) {
  return MatrixMap<S>(p, r, c);
}
template <typename S>
ConstMatrixMap<S> CMat(const S* p, Eigen::Index r, Eigen::Index c) {
  return ConstMatrixMap<S>(p, r, c);
}
template <typename S>
ConstRowVectorMap<S> CVec(const S* p, Eigen::Index n) {
  return ConstRowVectorMap<S>(p, n);
}
template <typename S>
RowVectorMap<S> Vec(S* p, Eigen::Index n) {
  return RowVectorMap<S>(p, n);
}

// Block b's attention buffers (probabilities, and with dropout the dropped
// weights and their mask, heads x L x L each) and its parameters.
template <typename S>
layers::AttentionCache<S> AttentionCacheOf(BlockCache<S>& c, Eigen::Index len, Eigen::Index d,
                                           int heads, bool dropped) {
  const size_t nd = static_cast<size_t>(len * d);
  const size_t nll = static_cast<size_t>(heads * len * len);
  return {Mat(c.q.Get(nd), len, d),
          Mat(c.k.Get(nd), len, d),
          Mat(c.v.Get(nd), len, d),
          c.probs.Get(nll),
          dropped ? c.dropped.Get(nll) : c.probs.Get(nll),
          dropped ? c.attn_mask.Get(nll) : nullptr};
}
template <typename S>
layers::AttentionParams<S> AttentionParamsOf(const SasRecOptions& o, const S* const* params,
                                             size_t b) {
  const Eigen::Index d = o.dim;
  auto P = [&](BlockTensor t) { return params[BlockTensorIndex(b, t)]; };
  return {CMat(P(kWq), d, d), CMat(P(kWk), d, d), CMat(P(kWv), d, d),
          CVec(P(kBq), d),    CVec(P(kBk), d),    CVec(P(kBv), d)};
}

// The embedding layer: E[item] * sqrt(d) + P[slot], then dropout, into the
// first block's input (or the final norm's without blocks).
template <typename S>
void EmbedInputs(const SasRecOptions& o, const S* const* params, std::span<const uint32_t> inputs,
                 RandomStream* dropout, SeqWorkspace<S>& ws) {
  const Eigen::Index len = static_cast<Eigen::Index>(inputs.size());
  const Eigen::Index d = o.dim;
  const Eigen::Index nd = len * d;
  const size_t p0 = o.max_len - inputs.size();
  if (ws.blocks.size() < o.blocks) ws.blocks.resize(o.blocks);
  S* x = o.blocks > 0 ? ws.blocks[0].x_in.Get(nd) : ws.final_in.Get(nd);
  MatrixMap<S> x0 = Mat(x, len, d);
  layers::EmbeddingForward<S>(CMat(params[kItemEmb], o.num_items, d), inputs, std::sqrt(S(d)), x0);
  x0 += CMat(params[kPosEmb] + p0 * d, len, d);
  if (dropout != nullptr && o.dropout > 0) {
    S* mask = ws.emb_mask.Get(nd);
    layers::FillDropoutMask(*dropout, o.dropout, mask, nd);
    x0 = x0.cwiseProduct(CMat(mask, len, d));
  }
}

// Block b on its input ws.blocks[b].x_in (len x d), into the next block's
// input (or the final norm's), caching what Backward reads.
template <typename S>
void ForwardBlock(const SasRecOptions& o, const S* const* params, size_t b, Eigen::Index len,
                  RandomStream* dropout, SeqWorkspace<S>& ws) {
  const Eigen::Index d = o.dim;
  const Eigen::Index nd = len * d;
  const int heads = static_cast<int>(o.heads);
  const bool drop = dropout != nullptr && o.dropout > 0;
  BlockCache<S>& c = ws.blocks[b];
  auto P = [&](BlockTensor t) { return params[BlockTensorIndex(b, t)]; };
  const S* xin = c.x_in.Get(nd);
  S* out = b + 1 < o.blocks ? ws.blocks[b + 1].x_in.Get(nd) : ws.final_in.Get(nd);
  // z = LN(x): the queries (post-LN) or queries and keys (pre-LN).
  layers::LayerNormForward<S>(CMat(xin, len, d), CVec(P(kAttnLnGamma), d), CVec(P(kAttnLnBeta), d),
                              {Mat(c.ln1_xhat.Get(nd), len, d), c.ln1_rstd.Get(len)},
                              Mat(c.ln1_out.Get(nd), len, d));
  const S* z = c.ln1_out.Get(nd);
  const S* keys = o.pre_ln ? z : xin;
  const layers::AttentionCache<S> ac = AttentionCacheOf(c, len, d, heads, drop);
  const layers::AttentionParams<S> ap = AttentionParamsOf(o, params, b);
  MatrixMap<S> attn = Mat(c.attn_out.Get(nd), len, d);
  layers::CausalAttentionForward<S>(CMat(z, len, d), CMat(keys, len, d), ap, heads, dropout,
                                    o.dropout, ac, attn);
  // Residual: post-LN adds the normalised queries (official code); pre-LN x.
  MatrixMap<S> mid = Mat(c.mid.Get(nd), len, d);
  mid = attn + CMat(o.pre_ln ? xin : z, len, d);
  MatrixMap<S> f_in = Mat(c.ln2_out.Get(nd), len, d);
  layers::LayerNormForward<S>(CMat(mid.data(), len, d), CVec(P(kFfnLnGamma), d),
                              CVec(P(kFfnLnBeta), d),
                              {Mat(c.ln2_xhat.Get(nd), len, d), c.ln2_rstd.Get(len)}, f_in);
  layers::FeedForwardParams<S> fp{CMat(P(kW1), d, d), CVec(P(kB1), d), CMat(P(kW2), d, d),
                                  CVec(P(kB2), d)};
  layers::FeedForwardCache<S> fc{Mat(c.hidden.Get(nd), len, d),
                                 Mat(drop ? c.mask1.Get(nd) : c.hidden.Get(nd), len, d),
                                 Mat(drop ? c.mask2.Get(nd) : c.hidden.Get(nd), len, d)};
  MatrixMap<S> ffn = Mat(c.ffn_out.Get(nd), len, d);
  layers::FeedForwardForward<S>(CMat(f_in.data(), len, d), fp, dropout, o.dropout, fc, ffn);
  // Residual: post-LN from the FFN's own normalised input; pre-LN from mid.
  Mat(out, len, d) = ffn + (o.pre_ln ? mid : f_in);
}

// Runs the network on `inputs` (L <= max_len items, time order, right-aligned
// at the end of the window). Dropout when `dropout` is not null and the rate
// is positive. The final hidden states (L x d) are in ws.hidden_out.
template <typename S>
void Forward(const SasRecOptions& o, const S* const* params, std::span<const uint32_t> inputs,
             RandomStream* dropout, SeqWorkspace<S>& ws) {
  const Eigen::Index len = static_cast<Eigen::Index>(inputs.size());
  const Eigen::Index d = o.dim;
  const Eigen::Index nd = len * d;
  EmbedInputs<S>(o, params, inputs, dropout, ws);
  for (size_t b = 0; b < o.blocks; ++b) ForwardBlock<S>(o, params, b, len, dropout, ws);
  const size_t fg = FinalGamma(o.blocks);
  layers::LayerNormForward<S>(CMat(ws.final_in.Get(nd), len, d), CVec(params[fg], d),
                              CVec(params[fg + 1], d),
                              {Mat(ws.final_xhat.Get(nd), len, d), ws.final_rstd.Get(len)},
                              Mat(ws.hidden_out.Get(nd), len, d));
}

// Backward of Forward given dH (L x d) in ws.g0; accumulates into grads.
template <typename S>
void Backward(const SasRecOptions& o, const S* const* params, S* const* grads, Gradients* tracker,
              std::span<const uint32_t> inputs, bool dropped_used, SeqWorkspace<S>& ws) {
  const Eigen::Index len = static_cast<Eigen::Index>(inputs.size());
  const Eigen::Index d = o.dim;
  const Eigen::Index nd = len * d;
  const int heads = static_cast<int>(o.heads);
  const size_t p0 = o.max_len - inputs.size();
  S* gx = ws.g1.Get(nd);  // gradient w.r.t. the current block output
  {
    MatrixMap<S> dx = Mat(gx, len, d);
    dx.setZero();
    const size_t fg = FinalGamma(o.blocks);
    layers::LayerNormBackward<S>({Mat(ws.final_xhat.Get(nd), len, d), ws.final_rstd.Get(len)},
                                 CVec(params[fg], d), CMat(ws.g0.Get(nd), len, d),
                                 Vec(grads[fg], d), Vec(grads[fg + 1], d), dx);
  }
  S* ga = ws.g0.Get(nd);
  S* gb = ws.g2.Get(nd);
  S* gc = ws.g3.Get(nd);
  for (size_t bb = o.blocks; bb-- > 0;) {
    BlockCache<S>& c = ws.blocks[bb];
    auto P = [&](BlockTensor t) { return params[BlockTensorIndex(bb, t)]; };
    auto G = [&](BlockTensor t) { return grads[BlockTensorIndex(bb, t)]; };
    const S* xin = c.x_in.Get(nd);
    const S* z = c.ln1_out.Get(nd);
    const S* f_in = c.ln2_out.Get(nd);
    // out = ffn(f_in) + residual, residual = f_in (post) or mid (pre).
    // d_fin: gradient w.r.t. the FFN input; d_mid: w.r.t. mid.
    MatrixMap<S> d_fin = Mat(ga, len, d);
    MatrixMap<S> d_mid = Mat(gb, len, d);
    ConstMatrixMap<S> dout = CMat(gx, len, d);
    if (o.pre_ln) {
      d_fin.setZero();
      d_mid = dout;
    } else {
      d_fin = dout;
      d_mid.setZero();
    }
    layers::FeedForwardParams<S> fp{CMat(P(kW1), d, d), CVec(P(kB1), d), CMat(P(kW2), d, d),
                                    CVec(P(kB2), d)};
    layers::FeedForwardCache<S> fc{Mat(c.hidden.Get(nd), len, d),
                                   Mat(dropped_used ? c.mask1.Get(nd) : c.hidden.Get(nd), len, d),
                                   Mat(dropped_used ? c.mask2.Get(nd) : c.hidden.Get(nd), len, d)};
    layers::FeedForwardGrads<S> fg{Mat(G(kW1), d, d), Vec(G(kB1), d), Mat(G(kW2), d, d),
                                   Vec(G(kB2), d)};
    layers::FeedForwardBackward<S>(CMat(f_in, len, d), fp, dropped_used, fc, dout, fg,
                                   Mat(ws.sdh.Get(nd), len, d), Mat(ws.sdy2.Get(nd), len, d),
                                   d_fin);
    layers::LayerNormBackward<S>({Mat(c.ln2_xhat.Get(nd), len, d), c.ln2_rstd.Get(len)},
                                 CVec(P(kFfnLnGamma), d), CMat(ga, len, d), Vec(G(kFfnLnGamma), d),
                                 Vec(G(kFfnLnBeta), d), d_mid);
    // mid = attn(z, keys) + residual, residual = z (post) or x (pre).
    // dz: gradient w.r.t. z; dx_in (into gx's replacement gc) w.r.t. x.
    MatrixMap<S> dz = Mat(ga, len, d);
    MatrixMap<S> dxin = Mat(gc, len, d);
    if (o.pre_ln) {
      dz.setZero();
      dxin = CMat(gb, len, d);
    } else {
      dz = CMat(gb, len, d);
      dxin.setZero();
    }
    const layers::AttentionCache<S> ac = AttentionCacheOf(c, len, d, heads, dropped_used);
    const layers::AttentionParams<S> ap = AttentionParamsOf(o, params, bb);
    layers::AttentionGrads<S> ag{Mat(G(kWq), d, d), Mat(G(kWk), d, d), Mat(G(kWv), d, d),
                                 Vec(G(kBq), d),    Vec(G(kBk), d),    Vec(G(kBv), d)};
    layers::AttentionScratch<S> as{Mat(ws.sdq.Get(nd), len, d), Mat(ws.sdk.Get(nd), len, d),
                                   Mat(ws.sdv.Get(nd), len, d),
                                   ws.sdp.Get(static_cast<size_t>(len * len))};
    const S* keys = o.pre_ln ? z : xin;
    layers::CausalAttentionBackward<S>(CMat(z, len, d), CMat(keys, len, d), ap, heads, dropped_used,
                                       ac, CMat(gb, len, d), ag, as, dz, o.pre_ln ? dz : dxin);
    layers::LayerNormBackward<S>({Mat(c.ln1_xhat.Get(nd), len, d), c.ln1_rstd.Get(len)},
                                 CVec(P(kAttnLnGamma), d), CMat(ga, len, d),
                                 Vec(G(kAttnLnGamma), d), Vec(G(kAttnLnBeta), d), dxin);
    std::swap(gx, gc);
  }
  // Embedding: x0 = dropout(E[item] * sqrt(d) + P[slot]).
  MatrixMap<S> dx0 = Mat(gx, len, d);
  if (dropped_used) dx0 = dx0.cwiseProduct(CMat(ws.emb_mask.Get(nd), len, d));
  Mat(grads[kPosEmb] + p0 * d, len, d) += dx0;
  layers::EmbeddingBackward<S>(inputs, std::sqrt(S(d)), CMat(gx, len, d),
                               Mat(grads[kItemEmb], o.num_items, d), tracker, kItemEmb);
}

// Draws one item uniformly from those neither in the sequence nor excluded
// (ws.seen must mark the sequence's items; `unavailable` = how many items
// are marked or excluded). When none is left, draws from all items.
inline uint32_t DrawNegative(RandomStream& stream, const std::vector<uint8_t>& seen,
                             const ExcludedItems& excluded, uint32_t num_items,
                             uint32_t unavailable) {
  if (unavailable >= num_items) return stream.NextBelow(num_items);
  uint32_t j;
  do {
    j = stream.NextBelow(num_items);
  } while (seen[j] || excluded.contains(j));
  return j;
}

inline const ExcludedItems& ExcludedOf(const SasRecOptions& o) {
  static const ExcludedItems kNone;
  return o.excluded != nullptr ? *o.excluded : kNone;
}

// The predicted window of a sequence s of length n >= 2: inputs
// s[first..first+len-1], targets one later, len = min(n - 1, max_len).
inline size_t WindowLength(const SasRecOptions& o, size_t n) {
  return std::min<size_t>(n - 1, o.max_len);
}

// Draws the training negatives of one sequence (items.size() >= 2) into
// ws.negatives (and ws.logq with popularity negatives) from (seed,
// "train_negatives", epoch, user, step), excluding every item of the user's
// sequence and o.excluded: bce draws one per position (the paper), the softmax-type losses
// one set shared by all positions; full softmax none.
template <typename S>
void DrawNegatives(const SasRecOptions& o, uint32_t user, std::span<const uint32_t> items,
                   const StepKey& key, SeqWorkspace<S>& ws,
                   const seqloss::PopularityTable* popularity) {
  const size_t len = WindowLength(o, items.size());
  const bool full_ce = IsFullSoftmax(o);
  const bool by_popularity = o.sampler == NegativeSampler::kPopularity && popularity != nullptr;
  ws.negatives.clear();
  if (full_ce) return;
  RandomStream neg_stream({key.seed, "train_negatives", key.epoch, user, key.step});
  const ExcludedItems& excluded = ExcludedOf(o);
  if (o.loss == SasRecLoss::kBce) {
    if (ws.seen.size() < o.num_items) ws.seen.assign(o.num_items, 0);
    uint32_t unavailable = excluded.count();
    for (uint32_t i : items) {
      unavailable += ws.seen[i] == 0 && !excluded.contains(i);
      ws.seen[i] = 1;
    }
    ws.negatives.resize(len);
    for (uint32_t& n : ws.negatives) {
      n = DrawNegative(neg_stream, ws.seen, excluded, o.num_items, unavailable);
    }
    for (uint32_t i : items) ws.seen[i] = 0;
  } else {
    const seqloss::PopularityTable* table = by_popularity ? popularity : nullptr;
    if (o.negatives_per_position) {
      seqloss::DrawPerPositionNegatives(neg_stream, items, o.num_items, table, o.ce_negatives, len,
                                        excluded, ws.seen, &ws.negatives, &ws.logq);
    } else {
      seqloss::DrawSharedNegatives(neg_stream, items, o.num_items, table, o.ce_negatives, excluded,
                                   ws.seen, &ws.negatives, &ws.logq);
    }
  }
}

// The training loss of one user's sequence (items.size() >= 2) and its
// gradient (added to `grads`; `grads` == nullptr: loss only), given the
// negatives DrawNegatives left in ws. Returns the summed loss; *examples +=
// number of predicted positions. `popularity`: the table of
// NegativeSampler::kPopularity (required then, ignored otherwise).
//
// Tensor 0 of params/grads is the item table the computation reads rows of:
// item_emb itself (`row_of` == nullptr: row = item id; row gradients marked
// in `tracker`), or a compact table of the step's items (`row_of[item]` =
// its row; `tracker` then null, the caller owns the rows' gradients). Only
// the rows read are touched, so the table need not have num_items rows,
// except under full softmax, which reads every row (row_of is null then).
template <typename S>
S SequenceLossGivenNegatives(const SasRecOptions& o, const S* const* params, S* const* grads,
                             Gradients* tracker, uint32_t user, std::span<const uint32_t> items,
                             const StepKey& key, bool dropout_on, SeqWorkspace<S>& ws,
                             uint64_t* examples, const seqloss::PopularityTable* popularity,
                             const uint32_t* row_of) {
  const size_t len = WindowLength(o, items.size());
  const size_t first = items.size() - 1 - len;
  std::span<const uint32_t> inputs = items.subspan(first, len);
  std::span<const uint32_t> targets = items.subspan(first + 1, len);
  std::span<const uint32_t> negatives = ws.negatives;
  inputs = MapToRows(inputs, row_of, ws.input_rows);
  targets = MapToRows(targets, row_of, ws.target_rows);
  negatives = MapToRows(negatives, row_of, ws.negative_rows);
  const Eigen::Index d = o.dim;
  const Eigen::Index nd = static_cast<Eigen::Index>(len) * d;
  const bool by_popularity = o.sampler == NegativeSampler::kPopularity && popularity != nullptr;

  const bool drop = dropout_on && o.dropout > 0;
  RandomStream drop_stream({key.seed, "dropout", key.epoch, user, key.step});
  Forward<S>(o, params, inputs, drop ? &drop_stream : nullptr, ws);

  ConstMatrixMap<S> h = CMat(ws.hidden_out.Get(nd), static_cast<Eigen::Index>(len), d);
  // emb / demb: the scored rows (targets, negatives); in_emb / din: the
  // input rows. The same table unless separate_output.
  const size_t scored = ScoredTable(o);
  ConstMatrixMap<S> emb = CMat(params[scored], o.num_items, d);
  ConstMatrixMap<S> in_emb = CMat(params[kItemEmb], o.num_items, d);
  MatrixMap<S> dh = Mat(ws.g0.Get(nd), static_cast<Eigen::Index>(len), d);
  dh.setZero();
  MatrixMap<S> demb = Mat(grads ? grads[scored] : nullptr, grads ? o.num_items : 0, d);
  MatrixMap<S> din = Mat(grads ? grads[kItemEmb] : nullptr, grads ? o.num_items : 0, d);
  auto touch = [&](uint32_t row, const auto& g) {
    if (tracker != nullptr) tracker->MarkRow(scored, row);
    demb.row(row) += g;
  };
  const S l2 = S(o.l2_emb);
  S loss = 0;
  // `uses` examples read the scored row.
  auto add_l2 = [&](uint32_t row, S uses = S(1)) {
    if (l2 == S(0)) return;
    loss += uses * S(0.5) * l2 * emb.row(row).squaredNorm();
    if (grads) touch(row, uses * l2 * emb.row(row));
  };
  // An input row's L2 (into the input table).
  auto add_l2_input = [&](uint32_t row) {
    if (l2 == S(0)) return;
    loss += S(0.5) * l2 * in_emb.row(row).squaredNorm();
    if (!grads) return;
    if (tracker != nullptr) tracker->MarkRow(kItemEmb, row);
    din.row(row) += l2 * in_emb.row(row);
  };

  if (o.loss == SasRecLoss::kBce) {
    for (size_t t = 0; t < len; ++t) {
      const uint32_t pos = targets[t], neg = negatives[t];
      S gp, gn;
      loss += BceWithLogits<S>(h.row(t).dot(emb.row(pos)), S(1), &gp);
      loss += BceWithLogits<S>(h.row(t).dot(emb.row(neg)), S(0), &gn);
      if (grads) {
        dh.row(t) += gp * emb.row(pos) + gn * emb.row(neg);
        touch(pos, gp * h.row(t));
        touch(neg, gn * h.row(t));
      }
      add_l2_input(inputs[t]);
      add_l2(pos);
      add_l2(neg);
    }
  } else {
    const seqloss::HeadOptions head = seqloss::MakeHeadOptions(
        o.loss == SasRecLoss::kGbce, o.ce_negatives, o.num_items, o.gbce_t, o.normalize,
        o.temperature, o.negatives_per_position, &ExcludedOf(o));
    loss += seqloss::HeadLossOf<S>(head, h, emb, targets, negatives,
                                   by_popularity ? ws.logq.data() : nullptr, grads ? &dh : nullptr,
                                   grads ? &demb : nullptr, tracker, scored, ws.head);
    for (size_t t = 0; t < len; ++t) {
      add_l2_input(inputs[t]);
      add_l2(targets[t]);
    }
    // Every position reads every shared negative; a per-position negative
    // is read once.
    const S reads = o.negatives_per_position ? S(1) : S(len);
    for (uint32_t n : negatives) add_l2(n, reads);
  }
  *examples += len;
  if (grads) Backward<S>(o, params, grads, tracker, inputs, drop, ws);
  return loss;
}

// DrawNegatives, then SequenceLossGivenNegatives on item_emb (tensor 0).
// A sequence of fewer than 2 items contributes nothing.
template <typename S>
S SequenceLoss(const SasRecOptions& o, const S* const* params, S* const* grads, Gradients* tracker,
               uint32_t user, std::span<const uint32_t> items, const StepKey& key, bool dropout_on,
               SeqWorkspace<S>& ws, uint64_t* examples,
               const seqloss::PopularityTable* popularity = nullptr) {
  if (items.size() < 2) return S(0);
  DrawNegatives<S>(o, user, items, key, ws, popularity);
  return SequenceLossGivenNegatives<S>(o, params, grads, tracker, user, items, key, dropout_on, ws,
                                       examples, popularity, nullptr);
}

// The summed loss of a batch for items represented through their features
// (item_repr text or id+text) and its gradient (added to `grads`; nullptr:
// loss only). The batch's touched items (every window item and negative, or
// the whole catalogue under full softmax) are adapted once into a compact
// table (ItemRows, models/item_table.h); every sequence runs
// SequenceLossGivenNegatives on that table, in batch order; the table's
// gradient then goes back through the adapter (and into the touched item_emb
// rows, marked in `tracker`) once. `params`/`grads`: the model's tensors in
// store order: the item tensors of `layout`, then pos_emb, the blocks and
// the final LayerNorm (tensors 1.. of the id layout).
template <typename S>
S FeatureBatchLoss(const SasRecOptions& o, const ItemLayout& layout, const ItemFeatures& features,
                   const S* const* params, S* const* grads, Gradients* tracker,
                   std::span<const UserSequence> batch, const StepKey& key, bool dropout_on,
                   SeqWorkspace<S>& ws, uint64_t* examples,
                   const seqloss::PopularityTable* popularity) {
  ItemRows<S>& rows = ws.items;
  rows.Begin(o.num_items);
  const bool full_ce = IsFullSoftmax(o);
  if (ws.batch_negatives.size() < batch.size()) {
    ws.batch_negatives.resize(batch.size());
    ws.batch_logq.resize(batch.size());
  }
  bool any = false;
  for (size_t b = 0; b < batch.size(); ++b) {
    std::span<const uint32_t> items = batch[b].items;
    if (items.size() < 2) continue;
    any = true;
    DrawNegatives<S>(o, batch[b].user, items, key, ws, popularity);
    ws.batch_negatives[b].swap(ws.negatives);
    ws.batch_logq[b].swap(ws.logq);
    if (!full_ce) {
      rows.Add(items.subspan(items.size() - 1 - WindowLength(o, items.size())));
      rows.Add(ws.batch_negatives[b]);
    }
  }
  if (!any) return S(0);
  if (full_ce) rows.AddAll();
  rows.Finish();
  rows.Forward(layout, features, params, o.dim);

  // The id layout's tensor k >= 1 is tensor k + shift of this store.
  const size_t shift = layout.num_tensors() - 1;
  const size_t core = FinalBeta(o.blocks) + 1;
  ws.core_params.assign(core, nullptr);
  ws.core_grads.assign(core, nullptr);
  ws.core_params[kItemEmb] = rows.table();
  if (grads) ws.core_grads[kItemEmb] = rows.dtable();
  for (size_t k = 1; k < core; ++k) {
    ws.core_params[k] = params[k + shift];
    if (grads) ws.core_grads[k] = grads[k + shift];
  }
  S loss = 0;
  for (size_t b = 0; b < batch.size(); ++b) {
    std::span<const uint32_t> items = batch[b].items;
    if (items.size() < 2) continue;
    ws.negatives.swap(ws.batch_negatives[b]);
    ws.logq.swap(ws.batch_logq[b]);
    loss += SequenceLossGivenNegatives<S>(
        o, ws.core_params.data(), grads ? ws.core_grads.data() : nullptr, nullptr, batch[b].user,
        items, key, dropout_on, ws, examples, popularity, rows.row_map());
  }
  if (grads) rows.Backward(layout, params, grads, tracker, o.dim);
  return loss;
}

}  // namespace fedrec::sasrec_internal
