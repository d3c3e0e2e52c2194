// SASRec's inference forward: the final hidden state of the last position
// alone (what scoring dots with the item table), without dropout.
//
// Every block but the last runs in full (the last block's keys and values
// need every position). In the last block only the last query is computed:
// its attention over all keys (causality lets the last position see every
// one), then its residuals, layer norms and feed-forward, then the final
// norm, each on one row. Per sequence that skips the last block's query
// projection, L - 1 rows of attention, both layer norms and the
// feed-forward for L - 1 rows.
//
// The products run at other shapes than in Forward (1 x d instead of L x d),
// so the state equals Forward's last row up to float rounding, not bitwise
// (tested to a tolerance); every scoring path (ScoreAll, ScoreCandidates,
// blocked full ranking, recommend) goes through this one function, so they
// still agree with each other bitwise. Thread-safe given a per-thread
// workspace.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>

#include "models/sasrec_impl.h"

namespace fedrec::sasrec_internal {

// out (1 x d) = block b's output at the last of `len` positions, given the
// block's input in ws.blocks[b].x_in. Buffers reused from the block cache.
template <typename S>
void LastRowOfBlock(const SasRecOptions& o, const S* const* params, size_t b, Eigen::Index len,
                    SeqWorkspace<S>& ws, S* out) {
  const Eigen::Index d = o.dim;
  const Eigen::Index nd = len * d;
  const Eigen::Index heads = static_cast<Eigen::Index>(o.heads);
  const Eigen::Index dh = d / heads;
  BlockCache<S>& c = ws.blocks[b];
  auto P = [&](BlockTensor t) { return params[BlockTensorIndex(b, t)]; };
  const S* xin = c.x_in.Get(nd);
  const S* x_last = xin + (len - 1) * d;
  // Keys: LN(x) for every position (pre-LN) or x itself (post-LN); the
  // query is LN(x) of the last position in both.
  const S* keys = xin;
  const S* z_last;
  if (o.pre_ln) {
    layers::LayerNormForward<S>(
        CMat(xin, len, d), CVec(P(kAttnLnGamma), d), CVec(P(kAttnLnBeta), d),
        {Mat(c.ln1_xhat.Get(nd), len, d), c.ln1_rstd.Get(len)}, Mat(c.ln1_out.Get(nd), len, d));
    keys = c.ln1_out.Get(nd);
    z_last = keys + (len - 1) * d;
  } else {
    layers::LayerNormForward<S>(
        CMat(x_last, 1, d), CVec(P(kAttnLnGamma), d), CVec(P(kAttnLnBeta), d),
        {Mat(c.ln1_xhat.Get(d), 1, d), c.ln1_rstd.Get(1)}, Mat(c.ln1_out.Get(d), 1, d));
    z_last = c.ln1_out.Get(d);
  }
  MatrixMap<S> k = Mat(c.k.Get(nd), len, d);
  MatrixMap<S> v = Mat(c.v.Get(nd), len, d);
  MatrixMap<S> q = Mat(c.q.Get(d), 1, d);
  layers::LinearForward<S>(CMat(keys, len, d), CMat(P(kWk), d, d), CVec(P(kBk), d), k);
  layers::LinearForward<S>(CMat(keys, len, d), CMat(P(kWv), d, d), CVec(P(kBv), d), v);
  layers::LinearForward<S>(CMat(z_last, 1, d), CMat(P(kWq), d, d), CVec(P(kBq), d), q);
  // The attention row of the last query, per head as in
  // CausalAttentionForward: softmax((q k^T - max) / sqrt(dh)) v.
  const S scale = S(1) / std::sqrt(S(dh));
  MatrixMap<S> prob = Mat(c.probs.Get(static_cast<size_t>(len)), 1, len);
  MatrixMap<S> attn = Mat(c.attn_out.Get(d), 1, d);
  for (Eigen::Index h = 0; h < heads; ++h) {
    prob.noalias() = q.middleCols(h * dh, dh) * k.middleCols(h * dh, dh).transpose();
    auto row = prob.array();
    const S mx = row.maxCoeff();
    row = ((row - mx) * scale).exp();
    row /= layers::AddressFreeSum(row);
    attn.middleCols(h * dh, dh).noalias() = prob * v.middleCols(h * dh, dh);
  }
  // Residual: post-LN adds the normalised query; pre-LN x.
  MatrixMap<S> mid = Mat(c.mid.Get(d), 1, d);
  mid = attn + CMat(o.pre_ln ? x_last : z_last, 1, d);
  MatrixMap<S> f_in = Mat(c.ln2_out.Get(d), 1, d);
  layers::LayerNormForward<S>(CMat(mid.data(), 1, d), CVec(P(kFfnLnGamma), d),
                              CVec(P(kFfnLnBeta), d),
                              {Mat(c.ln2_xhat.Get(d), 1, d), c.ln2_rstd.Get(1)}, f_in);
  layers::FeedForwardParams<S> fp{CMat(P(kW1), d, d), CVec(P(kB1), d), CMat(P(kW2), d, d),
                                  CVec(P(kB2), d)};
  MatrixMap<S> hidden = Mat(c.hidden.Get(d), 1, d);
  layers::FeedForwardCache<S> fc{hidden, hidden, hidden};
  MatrixMap<S> ffn = Mat(c.ffn_out.Get(d), 1, d);
  layers::FeedForwardForward<S>(CMat(f_in.data(), 1, d), fp, nullptr, 0.0, fc, ffn);
  Mat(out, 1, d) = ffn + (o.pre_ln ? mid : f_in);
}

// out (d) = the final hidden state of the last position of `history` (its
// last max_len items); zeros for an empty history.
template <typename S>
void LastHidden(const SasRecOptions& o, const S* const* params, std::span<const uint32_t> history,
                SeqWorkspace<S>& ws, S* out) {
  if (history.empty()) {
    std::fill(out, out + o.dim, S(0));
    return;
  }
  const size_t len = std::min<size_t>(history.size(), o.max_len);
  const Eigen::Index d = o.dim;
  const auto n = static_cast<Eigen::Index>(len);
  EmbedInputs<S>(o, params, history.subspan(history.size() - len), nullptr, ws);
  const S* last_in;
  if (o.blocks == 0) {
    last_in = ws.final_in.Get(len * o.dim) + (len - 1) * o.dim;
  } else {
    for (size_t b = 0; b + 1 < o.blocks; ++b) ForwardBlock<S>(o, params, b, n, nullptr, ws);
    S* row = ws.final_in.Get(o.dim);
    LastRowOfBlock<S>(o, params, o.blocks - 1, n, ws, row);
    last_in = row;
  }
  const size_t fg = FinalGamma(o.blocks);
  layers::LayerNormForward<S>(CMat(last_in, 1, d), CVec(params[fg], d), CVec(params[fg + 1], d),
                              {Mat(ws.final_xhat.Get(o.dim), 1, d), ws.final_rstd.Get(1)},
                              Mat(out, 1, d));
}

}  // namespace fedrec::sasrec_internal
