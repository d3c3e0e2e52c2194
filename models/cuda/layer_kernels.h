// Reference bodies of the SASRec layers that are not matrix products, for
// host AND device: each FEDREC_HOST_DEVICE function is the work of ONE GPU
// thread (one row, one column, one scatter slot), so models/cuda/
// layer_kernels.cu launches them unchanged and the CPU tests
// (tests/cuda/layer_kernels_reference_test.cc) run the very same code over
// every row and compare it with the CPU layers in models/layers/.
//
// Guarantees:
//   - Every reduction runs in a FIXED order written out here (no atomics, no
//     order chosen by a thread schedule), so a kernel's result does not
//     depend on the launch configuration. Sums over a row use LaneSum: eight
//     interleaved lanes (lane l takes j = l mod 8, in order), combined in a
//     fixed tree, then the tail; the order of models/layers/layer_norm.h.
//   - Host execution rounds like the CPU layers where they use the same
//     order (layer norm, embedding, scatter-add, BCE); the device differs
//     only by FMA contraction and its exp/log1p (<= 2 ulp, CUDA's tables).
//   - Dropout masks are a pure function of (PhiloxStream, first word,
//     entry): bitwise the masks of layers::FillDropoutMask(Triangle) on
//     RandomStream at the same position.
//   - Bodies write only the outputs of their own row / column / slot, so
//     distinct threads never write the same address.
//
// Templated on the scalar: the device instantiates float, the gradient
// checks double. Host-only helpers (BuildScatterPlan) are marked as such.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/philox.h"

namespace fedrec::kernels {

// An item id that marks a padded position: no gather, no scatter, no loss.
inline constexpr uint32_t kNoItem = 0xFFFFFFFFu;

// = layers::kLayerNormEps (models/layers/layer_norm.h; the tests check).
inline constexpr double kLayerNormEpsilon = 1e-8;

// libm on the host (the calls of the CPU layers), CUDA's math on the device.
namespace kmath {
#if defined(__CUDA_ARCH__)
#define FEDREC_KMATH(device_call, host_call) return device_call
#else
#define FEDREC_KMATH(device_call, host_call) return host_call
#endif
FEDREC_HOST_DEVICE inline float Exp(float x) { FEDREC_KMATH(expf(x), std::exp(x)); }
FEDREC_HOST_DEVICE inline double Exp(double x) { FEDREC_KMATH(exp(x), std::exp(x)); }
FEDREC_HOST_DEVICE inline float Log(float x) { FEDREC_KMATH(logf(x), std::log(x)); }
FEDREC_HOST_DEVICE inline double Log(double x) { FEDREC_KMATH(log(x), std::log(x)); }
FEDREC_HOST_DEVICE inline float Log1p(float x) { FEDREC_KMATH(log1pf(x), std::log1p(x)); }
FEDREC_HOST_DEVICE inline double Log1p(double x) { FEDREC_KMATH(log1p(x), std::log1p(x)); }
FEDREC_HOST_DEVICE inline float Sqrt(float x) { FEDREC_KMATH(sqrtf(x), std::sqrt(x)); }
FEDREC_HOST_DEVICE inline double Sqrt(double x) { FEDREC_KMATH(sqrt(x), std::sqrt(x)); }
FEDREC_HOST_DEVICE inline float Abs(float x) { FEDREC_KMATH(fabsf(x), std::abs(x)); }
FEDREC_HOST_DEVICE inline double Abs(double x) { FEDREC_KMATH(fabs(x), std::abs(x)); }
FEDREC_HOST_DEVICE inline double Round(double x) { FEDREC_KMATH(round(x), std::round(x)); }
FEDREC_HOST_DEVICE inline float Tanh(float x) { FEDREC_KMATH(tanhf(x), std::tanh(x)); }
FEDREC_HOST_DEVICE inline double Tanh(double x) { FEDREC_KMATH(tanh(x), std::tanh(x)); }
#undef FEDREC_KMATH
}  // namespace kmath

// sum_{j < n} term(j) in the fixed order described above.
template <typename S, typename Term>
FEDREC_HOST_DEVICE inline S LaneSum(size_t n, const Term& term) {
  S lane[8] = {S(0), S(0), S(0), S(0), S(0), S(0), S(0), S(0)};
  const size_t body = n - n % 8;
  for (size_t j = 0; j < body; j += 8) {
    for (size_t l = 0; l < 8; ++l) lane[l] += term(j + l);
  }
  S tail = S(0);
  for (size_t j = body; j < n; ++j) tail += term(j);
  return (((lane[0] + lane[4]) + (lane[2] + lane[6])) +
          ((lane[1] + lane[5]) + (lane[3] + lane[7]))) +
         tail;
}

// ---------------------------------------------------------------- layer norm
// One row of layers::LayerNormForward: mean and biased variance by LaneSum,
// rstd = 1 / sqrt(var + eps), xhat = (x - mean) rstd, y = xhat gamma + beta.
// y may alias x. Thread: one per row.
template <typename S>
FEDREC_HOST_DEVICE inline void LayerNormForwardRow(const S* x, const S* gamma, const S* beta,
                                                   size_t d, S* xhat, S* rstd_out, S* y) {
  const S mean = LaneSum<S>(d, [&](size_t j) { return x[j]; }) / S(d);
  for (size_t j = 0; j < d; ++j) xhat[j] = x[j] - mean;
  const S var = LaneSum<S>(d, [&](size_t j) { return xhat[j] * xhat[j]; }) / S(d);
  const S rstd = S(1) / kmath::Sqrt(var + S(kLayerNormEpsilon));
  *rstd_out = rstd;
  for (size_t j = 0; j < d; ++j) {
    const S h = xhat[j] * rstd;
    xhat[j] = h;
    y[j] = h * gamma[j] + beta[j];
  }
}

// The input gradient of one row of layers::LayerNormBackward, ACCUMULATED:
// dx += rstd (g - mean(g) - xhat mean(g xhat)), g = dy gamma, means by
// LaneSum. dx must not alias dy. Thread: one per row.
template <typename S>
FEDREC_HOST_DEVICE inline void LayerNormBackwardRow(const S* xhat, S rstd, const S* gamma,
                                                    const S* dy, size_t d, S* dx) {
  const S mean_g = LaneSum<S>(d, [&](size_t j) { return dy[j] * gamma[j]; }) / S(d);
  const S mean_gx = LaneSum<S>(d, [&](size_t j) { return dy[j] * gamma[j] * xhat[j]; }) / S(d);
  for (size_t j = 0; j < d; ++j) dx[j] += rstd * (dy[j] * gamma[j] - mean_g - xhat[j] * mean_gx);
}

// Column j of the parameter gradients over `rows` rows (row-major, width
// d), ACCUMULATED in increasing row order, as the CPU's row loop adds them:
// dgamma[j] += sum_i dy[i][j] xhat[i][j]; dbeta[j] += sum_i dy[i][j].
// Thread: one per column.
template <typename S>
FEDREC_HOST_DEVICE inline void LayerNormParamGradColumn(const S* xhat, const S* dy, size_t rows,
                                                        size_t d, size_t j, S* dgamma, S* dbeta) {
  S g = dgamma[j], b = dbeta[j];
  for (size_t i = 0; i < rows; ++i) {
    g += dy[i * d + j] * xhat[i * d + j];
    b += dy[i * d + j];
  }
  dgamma[j] = g;
  dbeta[j] = b;
}

// ----------------------------------------------------------- causal softmax
// Row i of one head's attention weights over a right-aligned window of
// `len` slots whose first `first` slots are padding (the CPU computes only
// the valid suffix; here the suffix sits at slots [first, len)):
//   p[j] = exp((s[j] - max) scale) / sum_k exp((s[k] - max) scale)
// for j in [first, i], max and sum over the same range (sum by LaneSum),
// and p[j] = 0 elsewhere, so a padded key or a future key gets weight 0 and
// a padded query row (i < first) is all zero. `s` holds raw scores q_i.k_j;
// scale = 1 / sqrt(head dim) as layers::CausalAttentionForward. p may alias
// s. Thread: one per (head, row).
template <typename S>
FEDREC_HOST_DEVICE inline void CausalSoftmaxForwardRow(const S* s, size_t len, size_t first,
                                                       size_t i, S scale, S* p) {
  if (i < first) {
    for (size_t j = 0; j < len; ++j) p[j] = S(0);
    return;
  }
  S mx = s[first];
  for (size_t j = first + 1; j <= i; ++j) mx = s[j] > mx ? s[j] : mx;
  for (size_t j = first; j <= i; ++j) p[j] = kmath::Exp((s[j] - mx) * scale);
  const S sum = LaneSum<S>(i + 1 - first, [&](size_t k) { return p[first + k]; });
  for (size_t j = first; j <= i; ++j) p[j] /= sum;
  for (size_t j = 0; j < first; ++j) p[j] = S(0);
  for (size_t j = i + 1; j < len; ++j) p[j] = S(0);
}

// The backward of CausalSoftmaxForwardRow (with dropout applied after it):
// given p (the forward row), dpd = dL/d(p o mask) and the dropout mask row
// (nullptr: none), ds[j] = scale p[j] (dp[j] - c) with dp = dpd o mask and
// c = sum_k dp[k] p[k] (LaneSum over [first, i]); ds[j] = 0 outside
// [first, i], as layers::CausalAttentionBackward (which multiplies by the
// scale last: p (dp - c) scale). ds may alias dpd. Thread: one per (head,
// row).
template <typename S>
FEDREC_HOST_DEVICE inline void CausalSoftmaxBackwardRow(const S* p, const S* dpd, const S* mask,
                                                        size_t len, size_t first, size_t i, S scale,
                                                        S* ds) {
  if (i < first) {
    for (size_t j = 0; j < len; ++j) ds[j] = S(0);
    return;
  }
  auto dp = [&](size_t j) { return mask != nullptr ? dpd[j] * mask[j] : dpd[j]; };
  const S c = LaneSum<S>(i + 1 - first, [&](size_t k) { return dp(first + k) * p[first + k]; });
  for (size_t j = first; j <= i; ++j) ds[j] = p[j] * (dp(j) - c) * scale;
  for (size_t j = 0; j < first; ++j) ds[j] = S(0);
  for (size_t j = i + 1; j < len; ++j) ds[j] = S(0);
}

// ------------------------------------------------------------------ dropout
// layers::DropoutThreshold: entries whose 16-bit draw is below it drop.
FEDREC_HOST_DEVICE inline uint32_t DropoutThresholdFor(double rate) {
  if (rate <= 0) return 0;
  const double t = kmath::Round(rate * 65536.0);
  return t >= 65536.0 ? 65536u : static_cast<uint32_t>(t);
}

// Words a flat mask of n entries takes (two entries per word; an odd last
// entry a whole word): where the next draw of the stream starts.
FEDREC_HOST_DEVICE constexpr uint64_t DropoutWords(uint64_t n) { return (n + 1) / 2; }

// Words the first `rows` rows of a triangle take (row r has r + 1 entries,
// ceil((r + 1) / 2) words): sum_{r < rows} (r + 2) / 2 = m (m + 1) for
// rows = 2 m, (m + 1)^2 for rows = 2 m + 1.
FEDREC_HOST_DEVICE constexpr uint64_t TriangleWords(uint64_t rows) {
  const uint64_t m = rows / 2;
  return rows % 2 == 0 ? m * (m + 1) : (m + 1) * (m + 1);
}

// Entries [begin, end) of a flat mask whose entry e is half e % 2 (low half
// first) of stream word first_word + e / 2: 0 when the half < threshold,
// else keep (= 1 / (1 - rate)). Each Philox block is computed once per
// call. Writes mask[e - begin]. Thread: one per range (any split of a mask
// into ranges gives the same entries).
template <typename S>
FEDREC_HOST_DEVICE inline void DropoutMaskRange(const PhiloxStream& stream, uint64_t first_word,
                                                uint32_t threshold, S keep, uint64_t begin,
                                                uint64_t end, S* mask) {
  uint32_t block[4];
  uint64_t cached = ~uint64_t{0};
  for (uint64_t e = begin; e < end; ++e) {
    const uint64_t w = first_word + e / 2;
    if (w / 4 != cached) {
      cached = w / 4;
      PhiloxStreamBlock(stream, static_cast<uint32_t>(cached), block);
    }
    const uint32_t word = block[w % 4];
    const uint32_t half = e % 2 == 0 ? (word & 0xFFFFu) : (word >> 16);
    mask[e - begin] = half < threshold ? S(0) : keep;
  }
}

// Row `row` (row + 1 entries) of head `head`'s mask in the attention
// dropout of a window with `len` valid positions, as
// layers::CausalAttentionForward draws it: heads one after another, each a
// layers::FillDropoutMaskTriangle of len rows, from stream word first_word.
// Thread: one per (head, row).
template <typename S>
FEDREC_HOST_DEVICE inline void DropoutTriangleRow(const PhiloxStream& stream, uint64_t first_word,
                                                  uint32_t threshold, S keep, size_t len,
                                                  size_t head, size_t row, S* mask_row) {
  const uint64_t start = first_word + head * TriangleWords(len) + TriangleWords(row);
  DropoutMaskRange(stream, start, threshold, keep, 0, row + 1, mask_row);
}

// ------------------------------------------------------ embedding rows
// out[0..d) = scale * table[id] (layers::EmbeddingForward), or zeros for a
// padded position (id == kNoItem). Thread: one per position.
template <typename S>
FEDREC_HOST_DEVICE inline void EmbeddingGatherRow(const S* table, size_t d, uint32_t id, S scale,
                                                  S* out) {
  if (id == kNoItem) {
    for (size_t j = 0; j < d; ++j) out[j] = S(0);
    return;
  }
  const S* row = table + static_cast<size_t>(id) * d;
  for (size_t j = 0; j < d; ++j) out[j] = scale * row[j];
}

// A sort-free plan for the deterministic scatter-add dtable[ids[t]] +=
// scale dout[t]: the distinct ids in first-touch order (the order of
// Gradients::TouchedRows), and for slot k the positions of rows[k] in
// increasing order, positions[offsets[k] .. offsets[k + 1]).
struct ScatterPlan {
  std::vector<uint32_t> rows;
  std::vector<uint32_t> offsets;  // rows.size() + 1
  std::vector<uint32_t> positions;
};

// Host only. Positions with ids[t] == kNoItem are skipped. Rows in the
// order first seen. Ids in a range of a few times n (the per-client row
// numbers of sasrec_client_batch.h) are looked up in an array, others in a
// hash map; the plan is the same.
inline ScatterPlan BuildScatterPlan(const uint32_t* ids, size_t n) {
  ScatterPlan plan;
  uint32_t largest = 0;
  for (size_t t = 0; t < n; ++t) {
    if (ids[t] != kNoItem && ids[t] > largest) largest = ids[t];
  }
  const bool dense = largest < 8 * n + 1024;
  std::vector<uint32_t> dense_slot(dense ? size_t{largest} + 1 : 0, kNoItem);
  std::unordered_map<uint32_t, uint32_t> slot_of;
  std::vector<uint32_t> slot(n, kNoItem), count;
  for (size_t t = 0; t < n; ++t) {
    if (ids[t] == kNoItem) continue;
    uint32_t* known = nullptr;
    if (dense) {
      known = &dense_slot[ids[t]];
    } else {
      known = &slot_of.try_emplace(ids[t], kNoItem).first->second;
    }
    if (*known == kNoItem) {
      *known = static_cast<uint32_t>(plan.rows.size());
      plan.rows.push_back(ids[t]);
      count.push_back(0);
    }
    slot[t] = *known;
    ++count[*known];
  }
  plan.offsets.assign(plan.rows.size() + 1, 0);
  for (size_t k = 0; k < plan.rows.size(); ++k) plan.offsets[k + 1] = plan.offsets[k] + count[k];
  plan.positions.resize(plan.offsets.back());
  std::vector<uint32_t> fill(plan.offsets.begin(), plan.offsets.end() - 1);
  for (size_t t = 0; t < n; ++t) {
    if (slot[t] != kNoItem) plan.positions[fill[slot[t]]++] = static_cast<uint32_t>(t);
  }
  return plan;
}

// Slot k of a plan: dtable[rows[k]] += scale dout[t] for its positions t in
// increasing order, one element at a time: the additions, and their order,
// of layers::EmbeddingBackward. Slots own distinct rows, so threads never
// collide. Thread: one per slot.
template <typename S>
FEDREC_HOST_DEVICE inline void ScatterAddSlot(const uint32_t* rows, const uint32_t* offsets,
                                              const uint32_t* positions, size_t k, const S* dout,
                                              size_t d, S scale, S* dtable) {
  S* dst = dtable + static_cast<size_t>(rows[k]) * d;
  for (uint32_t q = offsets[k]; q < offsets[k + 1]; ++q) {
    const S* src = dout + static_cast<size_t>(positions[q]) * d;
    for (size_t j = 0; j < d; ++j) dst[j] += scale * src[j];
  }
}

// ---------------------------------------------------------------- BCE loss
// models/losses.h's stable forms.
template <typename S>
FEDREC_HOST_DEVICE inline S SoftplusOf(S x) {
  return (x > S(0) ? x : S(0)) + kmath::Log1p(kmath::Exp(-kmath::Abs(x)));
}
template <typename S>
FEDREC_HOST_DEVICE inline S SigmoidOf(S x) {
  if (x >= 0) return S(1) / (S(1) + kmath::Exp(-x));
  const S e = kmath::Exp(x);
  return e / (S(1) + e);
}

// The paper's BCE at one position (SasRecLoss::kBce): BceWithLogits(pos, 1)
// + BceWithLogits(neg, 0), returned as that sum, with *dpos = sigmoid(pos)
// - 1 and *dneg = sigmoid(neg). A padded position (valid false) has loss 0
// and zero gradients. Thread: one per position.
template <typename S>
FEDREC_HOST_DEVICE inline S BcePosition(S pos_logit, S neg_logit, bool valid, S* dpos, S* dneg) {
  if (!valid) {
    *dpos = S(0);
    *dneg = S(0);
    return S(0);
  }
  *dpos = SigmoidOf(pos_logit) - S(1);
  *dneg = SigmoidOf(neg_logit) - S(0);
  const S lp = SoftplusOf(pos_logit) - S(1) * pos_logit;
  const S ln = SoftplusOf(neg_logit) - S(0) * neg_logit;
  return lp + ln;
}

// <a, b> over d entries by LaneSum: a position's logit h_t . e_item.
template <typename S>
FEDREC_HOST_DEVICE inline S RowDot(const S* a, const S* b, size_t d) {
  return LaneSum<S>(d, [&](size_t j) { return a[j] * b[j]; });
}

// dh[0..d) += dpos e_pos + dneg e_neg: the hidden state's gradient at one
// BCE position (the item rows' gradients, dpos h and dneg h, go through a
// ScatterPlan). Thread: one per position.
template <typename S>
FEDREC_HOST_DEVICE inline void BceHiddenGradRow(S dpos, const S* e_pos, S dneg, const S* e_neg,
                                                size_t d, S* dh) {
  for (size_t j = 0; j < d; ++j) dh[j] += dpos * e_pos[j] + dneg * e_neg[j];
}

// BPR over k negatives at one position (Gru4Rec's kBpr, models/losses.h's
// BprLoss): the mean over j of -log sigmoid(pos - neg[j stride]), with
// *dpos and dneg[j stride] its partial derivatives; the sums run over j in
// increasing order, as the CPU model's loop. A padded position (valid
// false) has loss 0 and zero gradients. Thread: one per position.
template <typename S>
FEDREC_HOST_DEVICE inline S BprPosition(S pos_logit, const S* neg_logits, size_t stride, size_t k,
                                        bool valid, S* dpos, S* dneg) {
  if (!valid) {
    *dpos = S(0);
    for (size_t j = 0; j < k; ++j) dneg[j * stride] = S(0);
    return S(0);
  }
  const S inv = S(1) / static_cast<S>(k);
  S loss = S(0), dp = S(0);
  for (size_t j = 0; j < k; ++j) {
    const S diff = pos_logit - neg_logits[j * stride];
    const S g = -SigmoidOf(-diff);
    loss += SoftplusOf(-diff);
    dp += g * inv;
    dneg[j * stride] = -g * inv;
  }
  *dpos = dp;
  return loss * inv;
}

// One position of the sampled heads over negatives shared by its sequence
// (models/sequence_losses.h's SharedNegativesLoss with plain logits): the
// target's logit `pos` and the first n of `width` negative logits in nl
// (corrected already). Sampled softmax: log(e^pos + sum_k e^nl_k) - pos;
// gBCE: beta softplus(-pos) + sum_k softplus(nl_k). Returns the loss,
// writes *dpos and the negatives' d loss / d logit over nl (0 for k >= n).
// A padded position (valid false) has loss 0 and zero gradients. Thread:
// one per position.
template <typename S>
FEDREC_HOST_DEVICE inline S SharedNegativesRow(bool gbce, S beta, S pos, size_t n, size_t width,
                                               bool valid, S* nl, S* dpos) {
  if (!valid) n = 0;
  for (size_t k = n; k < width; ++k) nl[k] = S(0);
  if (!valid) {
    *dpos = S(0);
    return S(0);
  }
  if (gbce) {
    S loss = beta * SoftplusOf(-pos);
    *dpos = -beta * SigmoidOf(-pos);
    for (size_t k = 0; k < n; ++k) {
      loss += SoftplusOf(nl[k]);
      nl[k] = SigmoidOf(nl[k]);
    }
    return loss;
  }
  S max = pos;
  for (size_t k = 0; k < n; ++k) max = nl[k] > max ? nl[k] : max;
  const S ep = kmath::Exp(pos - max);
  S sum = ep;
  for (size_t k = 0; k < n; ++k) {
    nl[k] = kmath::Exp(nl[k] - max);
    sum += nl[k];
  }
  const S inv = S(1) / sum;
  for (size_t k = 0; k < n; ++k) nl[k] *= inv;
  *dpos = ep * inv - S(1);
  return kmath::Log(sum) + max - pos;
}

// Entry of a GRU4Rec dropout mask drawn as the CPU model draws it, one
// RandomStream::NextFloat per entry: 0 when (word >> 8) 2^-24 < rate, else
// keep (= 1 / (1 - rate) in float).
FEDREC_HOST_DEVICE inline float FloatDropoutEntry(uint32_t word, float rate, float keep) {
  return static_cast<float>(word >> 8) * 0x1.0p-24f < rate ? 0.0f : keep;
}

// ----------------------------------------------------------- full softmax
// The full softmax over one row of a catalogue's logits (models/
// sequence_losses.h's FullSoftmaxLoss with plain logits), in
// kFullSoftmaxLanes interleaved lanes: lane p takes columns p, p + lanes,
// ... in order, and the lanes' partial results combine in a fixed halving
// tree (FullSoftmaxTree). The device runs one thread per lane and a block
// per row; the host runs the lanes one after another: the same operations
// in the same order. Excluded columns (excluded[j] != 0; excluded may be
// null) take no part and get gradient 0.
inline constexpr size_t kFullSoftmaxLanes = 256;

// Lane p's largest logit (-infinity when it has none).
template <typename S>
FEDREC_HOST_DEVICE inline S FullSoftmaxLaneMax(const S* row, const uint8_t* excluded, size_t cols,
                                               size_t lane) {
  S max = -INFINITY;
  for (size_t j = lane; j < cols; j += kFullSoftmaxLanes) {
    if (excluded == nullptr || excluded[j] == 0) max = row[j] > max ? row[j] : max;
  }
  return max;
}

// Lane p: row[j] = exp(row[j] - max) (0 when excluded); returns their sum.
template <typename S>
FEDREC_HOST_DEVICE inline S FullSoftmaxLaneExp(S* row, const uint8_t* excluded, size_t cols,
                                               size_t lane, S max) {
  S sum = S(0);
  for (size_t j = lane; j < cols; j += kFullSoftmaxLanes) {
    row[j] = excluded == nullptr || excluded[j] == 0 ? kmath::Exp(row[j] - max) : S(0);
    sum += row[j];
  }
  return sum;
}

// Lane p: row[j] = row[j] inv, minus 1 at the target: d loss / d logit.
template <typename S>
FEDREC_HOST_DEVICE inline void FullSoftmaxLaneGradient(S* row, size_t cols, size_t lane, S inv,
                                                       size_t target) {
  for (size_t j = lane; j < cols; j += kFullSoftmaxLanes) {
    row[j] = row[j] * inv - (j == target ? S(1) : S(0));
  }
}

// One level of the tree: partial[p] = combine(partial[p], partial[p +
// half]) for p < half (half = lanes / 2, lanes / 4, ..., 1). take_max:
// the maximum, else the sum.
template <typename S>
FEDREC_HOST_DEVICE inline void FullSoftmaxTree(S* partial, size_t p, size_t half, bool take_max) {
  const S other = partial[p + half];
  partial[p] = take_max ? (other > partial[p] ? other : partial[p]) : partial[p] + other;
}

// The row's loss from the combined max and sum and the target's logit
// (read before the lanes overwrite it): log(sum) + max - target.
template <typename S>
FEDREC_HOST_DEVICE inline S FullSoftmaxRowLoss(S max, S sum, S target_logit) {
  return kmath::Log(sum) + max - target_logit;
}

// -------------------------------------------------------------------- GRU
// One unit j of a GRU step (models/layers/gru.h, PyTorch's gates [r; z; n]):
// gi, gh: the input and hidden projections of the step (3h each, biases
// included); hp: the previous state. Writes the activated gates into
// gates (3h; may alias gi: unit j reads and writes only its own three
// entries), ghn[j] = gh[2h + j] and hn[j]. Thread: one per (row, j).
template <typename S>
FEDREC_HOST_DEVICE inline void GruForwardUnit(const S* gi, const S* gh, const S* hp, size_t h,
                                              size_t j, S* gates, S* ghn, S* hn) {
  const S r = SigmoidOf(gi[j] + gh[j]);
  const S z = SigmoidOf(gi[h + j] + gh[h + j]);
  ghn[j] = gh[2 * h + j];
  const S n = kmath::Tanh(gi[2 * h + j] + r * ghn[j]);
  gates[j] = r;
  gates[h + j] = z;
  gates[2 * h + j] = n;
  hn[j] = (S(1) - z) * n + z * hp[j];
}

// The backward of GruForwardUnit: dh[j] holds the gradient reaching h_t
// from later steps and is replaced by the direct path's share for
// h_{t-1} (dht z; the recurrent product's share is added by the caller);
// dout: the loss's gradient at h_t. Writes the pre-activation gradients of
// the input projection (di, 3h) and of the hidden projection (dgh, 3h).
template <typename S>
FEDREC_HOST_DEVICE inline void GruBackwardUnit(const S* gates, const S* ghn, const S* hp,
                                               const S* dout, size_t h, size_t j, S* dh, S* di,
                                               S* dgh) {
  const S r = gates[j], z = gates[h + j], n = gates[2 * h + j];
  const S dht = dh[j] + dout[j];
  const S dn = dht * (S(1) - z);
  const S dz = dht * (hp[j] - n);
  const S dan = dn * (S(1) - n * n);
  const S dar = dan * ghn[j] * r * (S(1) - r);
  const S daz = dz * z * (S(1) - z);
  di[j] = dar;
  di[h + j] = daz;
  di[2 * h + j] = dan;
  dgh[j] = dar;
  dgh[h + j] = daz;
  dgh[2 * h + j] = dan * r;
  dh[j] = dht * z;
}

}  // namespace fedrec::kernels
