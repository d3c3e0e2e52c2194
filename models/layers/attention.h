// Causal multi-head self-attention WITHOUT an output projection, exactly as
// the SASRec paper and its official code (modules.multihead_attention):
//
//   Q = queries Wq + bq,  K = keys Wk + bk,  V = keys Wv + bv     (L x d each)
//   for head h (columns [h*dh, (h+1)*dh), dh = d / heads):
//     P_h   = softmax_row(Q_h K_h^T / sqrt(dh))  with P_h[i][j] = 0 for j > i
//     Pd_h  = dropout(P_h)                        (inverted dropout on weights)
//     out_h = Pd_h V_h
//   out = [out_1 ... out_heads]                                   (L x d)
//
// The residual (the official code adds the normalised queries) is added by
// the caller. Only valid (non-padded) positions are ever passed in: with the
// official key masking a padded key gets weight exp(-2^32) = 0, and with
// right-aligned sequences padded queries come first and are never read by
// valid positions, so computing on the valid suffix alone is exact.
#pragma once

#include <algorithm>
#include <cmath>

#include "core/random.h"
#include "models/layers/dropout.h"
#include "models/layers/eigen_types.h"
#include "models/layers/linear.h"

namespace fedrec::layers {

// Rows per block of the causal GEMMs.
inline constexpr Eigen::Index kAttentionRowBlock = 32;

template <typename S>
struct AttentionParams {
  ConstMatrixMap<S> wq, wk, wv;     // d x d
  ConstRowVectorMap<S> bq, bk, bv;  // 1 x d
};

template <typename S>
struct AttentionGrads {
  MatrixMap<S> wq, wk, wv;
  RowVectorMap<S> bq, bk, bv;
};

// Caller-owned buffers written by Forward and read by Backward.
template <typename S>
struct AttentionCache {
  MatrixMap<S> q, k, v;  // L x d projections
  // heads x L x L: P_h. Row i holds its weights in columns [0, i], zeros up
  // to the end of its row block (kAttentionRowBlock) and, past that,
  // whatever the buffer held: nothing reads those entries.
  S* probs;
  S* dropped;  // heads x L x L: Pd_h, laid out as probs (may equal probs without dropout)
  S* mask;     // heads x L x L dropout mask; unused without dropout
};

// Scratch for Backward (contents irrelevant on entry).
template <typename S>
struct AttentionScratch {
  MatrixMap<S> dq, dk, dv;  // L x d
  S* dp;                    // L x L
};

// out[L x d] = attention(queries[L x d], keys[L x d]) as above. Dropout on
// the weights when `dropout_stream` is not null and rate > 0 (then
// cache.dropped and cache.mask must be distinct buffers from cache.probs).
template <typename S>
void CausalAttentionForward(ConstMatrixMap<S> queries, ConstMatrixMap<S> keys,
                            const AttentionParams<S>& p, int heads, RandomStream* dropout_stream,
                            double rate, AttentionCache<S> cache, MatrixMap<S> out) {
  const Eigen::Index len = queries.rows();
  const Eigen::Index d = queries.cols();
  const Eigen::Index dh = d / heads;
  const S scale = S(1) / std::sqrt(S(dh));
  const bool drop = dropout_stream != nullptr && rate > 0;
  LinearForward<S>(queries, p.wq, p.bq, cache.q);
  LinearForward<S>(keys, p.wk, p.bk, cache.k);
  LinearForward<S>(keys, p.wv, p.bv, cache.v);
  for (int h = 0; h < heads; ++h) {
    MatrixMap<S> prob(cache.probs + h * len * len, len, len);
    MatrixMap<S> dropped(drop ? cache.dropped + h * len * len : cache.probs + h * len * len, len,
                         len);
    auto qh = cache.q.middleCols(h * dh, dh);
    auto kh = cache.k.middleCols(h * dh, dh);
    auto vh = cache.v.middleCols(h * dh, dh);
    auto outh = out.middleCols(h * dh, dh);
    S* head_mask = drop ? cache.mask + h * len * len : nullptr;
    // The head's masks, row i's first i + 1 entries (nothing else draws from
    // the stream while the head is computed).
    if (drop) {
      FillDropoutMaskTriangle(*dropout_stream, rate, head_mask, static_cast<size_t>(len),
                              static_cast<size_t>(len));
    }
    // Row blocks [r0, r1) only need key columns [0, r1): the causal mask
    // makes the rest zero, so the GEMMs skip most of the upper triangle.
    for (Eigen::Index r0 = 0; r0 < len; r0 += kAttentionRowBlock) {
      const Eigen::Index r1 = std::min(len, r0 + kAttentionRowBlock), rb = r1 - r0;
      prob.block(r0, 0, rb, r1).noalias() = qh.middleRows(r0, rb) * kh.topRows(r1).transpose();
      for (Eigen::Index i = r0; i < r1; ++i) {
        auto row = prob.row(i).head(i + 1).array();
        const S mx = row.maxCoeff();
        row = ((row - mx) * scale).exp();
        row /= AddressFreeSum(row);
        // Only the block's own columns right of the diagonal feed the GEMM
        // below; columns from r1 on are never read.
        prob.row(i).segment(i + 1, r1 - i - 1).setZero();
        if (drop) {
          const S* mask = head_mask + i * len;
          dropped.row(i).head(i + 1) =
              prob.row(i).head(i + 1).cwiseProduct(ConstRowVectorMap<S>(mask, i + 1));
          dropped.row(i).segment(i + 1, r1 - i - 1).setZero();
        }
      }
      outh.middleRows(r0, rb).noalias() = dropped.block(r0, 0, rb, r1) * vh.topRows(r1);
    }
  }
}

// Given dout[L x d]: accumulates parameter gradients into `g`, and
// dqueries += dL/dqueries, dkeys += dL/dkeys (they may be the same buffer
// when queries and keys are the same tensor). `dropped_used` tells whether
// Forward applied dropout.
template <typename S>
void CausalAttentionBackward(ConstMatrixMap<S> queries, ConstMatrixMap<S> keys,
                             const AttentionParams<S>& p, int heads, bool dropped_used,
                             const AttentionCache<S>& cache, ConstMatrixMap<S> dout,
                             AttentionGrads<S> g, AttentionScratch<S> s, MatrixMap<S> dqueries,
                             MatrixMap<S> dkeys) {
  const Eigen::Index len = queries.rows();
  const Eigen::Index d = queries.cols();
  const Eigen::Index dh = d / heads;
  const S scale = S(1) / std::sqrt(S(dh));
  MatrixMap<S> dp(s.dp, len, len);
  for (int h = 0; h < heads; ++h) {
    ConstMatrixMap<S> prob(cache.probs + h * len * len, len, len);
    ConstMatrixMap<S> dropped(
        dropped_used ? cache.dropped + h * len * len : cache.probs + h * len * len, len, len);
    auto dout_h = dout.middleCols(h * dh, dh);
    auto qh = cache.q.middleCols(h * dh, dh);
    auto kh = cache.k.middleCols(h * dh, dh);
    auto vh = cache.v.middleCols(h * dh, dh);
    auto dqh = s.dq.middleCols(h * dh, dh);
    auto dkh = s.dk.middleCols(h * dh, dh);
    auto dvh = s.dv.middleCols(h * dh, dh);
    dkh.setZero();
    dvh.setZero();
    for (Eigen::Index r0 = 0; r0 < len; r0 += kAttentionRowBlock) {
      const Eigen::Index r1 = std::min(len, r0 + kAttentionRowBlock), rb = r1 - r0;
      dvh.topRows(r1).noalias() +=
          dropped.block(r0, 0, rb, r1).transpose() * dout_h.middleRows(r0, rb);
      dp.block(r0, 0, rb, r1).noalias() = dout_h.middleRows(r0, rb) * vh.topRows(r1).transpose();
      // dS = P o (dP - rowsum(dP o P)), with dP = dPd o mask; times the scale.
      for (Eigen::Index i = r0; i < r1; ++i) {
        auto dprow = dp.row(i).head(i + 1).array();
        if (dropped_used) {
          dprow *= Eigen::Map<const Eigen::Array<S, 1, Eigen::Dynamic>>(
              cache.mask + h * len * len + i * len, i + 1);
        }
        auto prow = prob.row(i).head(i + 1).array();
        const S c = (dprow * prow).sum();
        dprow = prow * (dprow - c) * scale;
        dp.row(i).segment(i + 1, r1 - i - 1).setZero();
      }
      dqh.middleRows(r0, rb).noalias() = dp.block(r0, 0, rb, r1) * kh.topRows(r1);
      dkh.topRows(r1).noalias() += dp.block(r0, 0, rb, r1).transpose() * qh.middleRows(r0, rb);
    }
  }
  ConstMatrixMap<S> dq(s.dq.data(), len, d), dk(s.dk.data(), len, d), dv(s.dv.data(), len, d);
  LinearBackward<S>(queries, p.wq, dq, g.wq, g.bq, &dqueries);
  LinearBackward<S>(keys, p.wk, dk, g.wk, g.bk, &dkeys);
  LinearBackward<S>(keys, p.wv, dv, g.wv, g.bv, &dkeys);
}

}  // namespace fedrec::layers
