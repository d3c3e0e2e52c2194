#include "models/cuda/sasrec_device.h"

#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "core/random.h"
#include "models/cuda/layer_kernels.h"
#include "models/sasrec_impl.h"
#include "models/sequence_losses.h"

namespace fedrec::kernels {

using sasrec_internal::BlockTensor;
using sasrec_internal::BlockTensorIndex;

SasRecWindowBatch SasRecWindowBatch::Pack(const SasRecOptions& o,
                                          std::span<const UserSequence> batch, const StepKey& key,
                                          size_t min_len) {
  SasRecWindowBatch w;
  w.len = min_len;
  for (const UserSequence& s : batch) {
    if (s.items.size() < 2) continue;
    w.len = std::max(w.len, sasrec_internal::WindowLength(o, s.items.size()));
    ++w.batch;
  }
  const size_t rows = w.batch * w.len;
  w.inputs.assign(rows, kNoItem);
  w.targets.assign(rows, kNoItem);
  w.negatives.assign(rows, kNoItem);
  sasrec_internal::SeqWorkspace<float> ws;
  if (o.loss != SasRecLoss::kBce) w.shared.width = o.ce_negatives;
  if (sasrec_internal::IsFullSoftmax(o) && o.excluded != nullptr) {
    const std::span<const uint32_t> left_out = o.excluded->items();
    w.excluded.assign(left_out.begin(), left_out.end());
  }
  size_t b = 0;
  for (const UserSequence& s : batch) {
    if (s.items.size() < 2) continue;
    const size_t len = sasrec_internal::WindowLength(o, s.items.size());
    const size_t first_item = s.items.size() - 1 - len;
    const size_t pad = w.len - len;
    sasrec_internal::DrawNegatives<float>(o, s.user, s.items, key, ws, nullptr);
    const bool bce = o.loss == SasRecLoss::kBce;
    if (!bce) w.shared.AddWindow(ws.negatives, {});
    for (size_t t = 0; t < len; ++t) {
      const size_t row = b * w.len + pad + t;
      w.inputs[row] = s.items[first_item + t];
      w.targets[row] = s.items[first_item + t + 1];
      if (bce) w.negatives[row] = ws.negatives[t];
    }
    w.users.push_back(s.user);
    w.first.push_back(static_cast<uint32_t>(pad));
    w.examples += len;
    ++b;
  }
  return w;
}

SasRecWindowBatch SasRecWindowBatch::PackHistories(
    std::span<const std::span<const uint32_t>> histories, size_t len) {
  SasRecWindowBatch w;
  w.batch = histories.size();
  w.len = len;
  w.users.assign(w.batch, 0);
  w.inputs.assign(w.batch * len, kNoItem);
  w.targets.assign(w.batch * len, kNoItem);
  w.negatives.assign(w.batch * len, kNoItem);
  for (size_t b = 0; b < w.batch; ++b) {
    const std::span<const uint32_t> h = histories[b];
    const size_t n = std::min(h.size(), len);
    std::copy(h.end() - static_cast<std::ptrdiff_t>(n), h.end(),
              w.inputs.begin() + static_cast<std::ptrdiff_t>(b * len + len - n));
    w.first.push_back(static_cast<uint32_t>(len - n));
  }
  return w;
}

void SasRecWindowBatch::AddEmptyWindows(size_t count) {
  batch += count;
  users.insert(users.end(), count, 0);
  first.insert(first.end(), count, static_cast<uint32_t>(len));
  inputs.insert(inputs.end(), count * len, kNoItem);
  targets.insert(targets.end(), count * len, kNoItem);
  negatives.insert(negatives.end(), count * len, kNoItem);
}

// Buffers in the ops' memory, kept between calls and grown when a batch
// needs more.
struct SasRecDeviceProgram::Scratch {
  std::vector<std::unique_ptr<OpsBuffer>> buffers;
  std::vector<size_t> bytes;
  size_t next = 0;  // slots are handed out in call order, the same each step

  absl::StatusOr<void*> Take(TensorOps& ops, size_t size) {
    if (next == buffers.size()) {
      buffers.emplace_back();
      bytes.push_back(0);
    }
    const size_t slot = next++;
    if (bytes[slot] < size || buffers[slot] == nullptr) {
      FEDREC_ASSIGN_OR_RETURN(buffers[slot], ops.Allocate(std::max<size_t>(size, 16)));
      bytes[slot] = size;
    }
    return buffers[slot]->data();
  }
};

namespace {

// The per-block buffers the backward pass reads.
struct BlockBuffers {
  float *x_in, *ln1_xhat, *ln1_rstd, *z, *q, *k, *v, *probs, *dropped, *attn_mask, *attn_out, *mid,
      *ln2_xhat, *ln2_rstd, *f_in, *hidden, *mask1, *mask2, *out;
};

// Where the masks of a sequence of `valid` positions start in its dropout
// stream, in the CPU model's draw order (the embedding's at word 0).
struct MaskWords {
  std::vector<uint64_t> attention, ffn1, ffn2;  // per block
};

MaskWords DropoutWordsOf(const SasRecOptions& o, uint64_t valid) {
  MaskWords m;
  uint64_t w = DropoutWords(valid * o.dim);
  for (size_t b = 0; b < o.blocks; ++b) {
    m.attention.push_back(w);
    w += o.heads * TriangleWords(valid);
    m.ffn1.push_back(w);
    w += DropoutWords(valid * o.dim);
    m.ffn2.push_back(w);
    w += DropoutWords(valid * o.dim);
  }
  return m;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SasRecDeviceProgram>> SasRecDeviceProgram::Create(
    const SasRecOptions& o, TensorOps* ops) {
  std::string unsupported;
  if (o.loss != SasRecLoss::kBce && !sasrec_internal::IsFullSoftmax(o)) {
    if (o.negatives_per_position) unsupported = "train.negative_sharing = position";
    if (o.sampler != NegativeSampler::kUniform) unsupported = "popularity negatives";
  }
  if (o.loss != SasRecLoss::kBce && o.temperature != 1.0) unsupported = "a temperature";
  if (o.l2_emb != 0) unsupported = "model.l2_emb";
  if (o.normalize) unsupported = "normalised embeddings";
  if (o.dim == 0 || o.heads == 0 || o.dim % o.heads != 0) unsupported = "model.dim / model.heads";
  if (!unsupported.empty()) {
    return absl::InvalidArgumentError(
        "the GPU SASRec does not support " + unsupported +
        " yet (BCE, the full softmax, or sampled softmax / gBCE over uniform shared "
        "negatives)");
  }
  return std::unique_ptr<SasRecDeviceProgram>(new SasRecDeviceProgram(o, ops));
}

SasRecDeviceProgram::SasRecDeviceProgram(const SasRecOptions& o, TensorOps* ops)
    : o_(o), ops_(ops), scratch_(std::make_unique<Scratch>()) {
  if (sasrec_internal::IsFullSoftmax(o)) {
    full_head_ = std::make_unique<FullSoftmaxHead>(ops);
  } else if (o.loss != SasRecLoss::kBce) {
    const bool gbce = o.loss == SasRecLoss::kGbce;
    head_ = std::make_unique<SharedNegativesHead>(
        ops, gbce, gbce ? seqloss::GbceBeta(o.ce_negatives, o.num_items, o.gbce_t) : 1.0);
  }
}

SasRecDeviceProgram::~SasRecDeviceProgram() = default;

absl::StatusOr<LossSum> SasRecDeviceProgram::LossAndGradients(const float* const* params,
                                                              float* const* grads,
                                                              const SasRecWindowBatch& batch,
                                                              const StepKey& key, bool dropout_on) {
  return Run(params, grads, nullptr, batch, key, dropout_on, nullptr, nullptr);
}

absl::Status SasRecDeviceProgram::LastStates(const float* const* params,
                                             const SasRecWindowBatch& batch, float* states) {
  if (batch.len == 0 || batch.len > o_.max_len) {
    return absl::InvalidArgumentError("last states: windows of " + std::to_string(batch.len) +
                                      " rows, max_len " + std::to_string(o_.max_len));
  }
  return Run(params, nullptr, nullptr, batch, StepKey{}, false, nullptr, states).status();
}

absl::StatusOr<LossSum> SasRecDeviceProgram::LossAndWindowGradients(
    const float* const* params, const PerWindowSlots& target, const SasRecWindowBatch& batch,
    const StepKey& key, bool dropout_on, std::vector<float>* window_loss) {
  const size_t cells = batch.batch * batch.len;
  if (target.input_rows.size() != cells || target.scored_rows.size() != 2 * cells ||
      batch.len > o_.max_len) {
    return absl::InvalidArgumentError("per-window gradients: row maps do not fit the batch");
  }
  if (head_ != nullptr || full_head_ != nullptr) {
    return absl::InvalidArgumentError("per-window gradients: the BCE loss only");
  }
  return Run(params, nullptr, &target, batch, key, dropout_on, window_loss, nullptr);
}

absl::StatusOr<LossSum> SasRecDeviceProgram::Run(const float* const* params, float* const* grads,
                                                 const PerWindowSlots* per_window,
                                                 const SasRecWindowBatch& batch, const StepKey& key,
                                                 bool dropout_on, std::vector<float>* window_loss,
                                                 float* last_states) {
  LossSum result;
  if (window_loss != nullptr) window_loss->assign(batch.batch, 0.0f);
  if (batch.batch == 0) return result;
  TensorOps& ops = *ops_;
  FEDREC_RETURN_IF_ERROR(ops.BindToCallingThread());
  Scratch& scratch = *scratch_;
  scratch.next = 0;
  const size_t B = batch.batch, T = batch.len, d = o_.dim, heads = o_.heads, dh = d / heads;
  const size_t M = B * T, nd = M * d, att = B * heads * T * T;
  const bool drop = dropout_on && o_.dropout > 0;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  const size_t scored = sasrec_internal::ScoredTable(o_);
  auto floats = [&](size_t n) -> absl::StatusOr<float*> {
    FEDREC_ASSIGN_OR_RETURN(void* p, scratch.Take(ops, n * sizeof(float)));
    return static_cast<float*>(p);
  };
  auto words = [&](std::span<const uint32_t> host) -> absl::StatusOr<uint32_t*> {
    FEDREC_ASSIGN_OR_RETURN(void* p, scratch.Take(ops, host.size_bytes()));
    FEDREC_RETURN_IF_ERROR(ops.Upload(p, host.data(), host.size_bytes()));
    return static_cast<uint32_t*>(p);
  };
  // Declares `float* name` (a declaration, so the name cannot be in
  // parentheses) or returns the allocation's error.
#define FEDREC_FLOATS(name, n) \
  FEDREC_ASSIGN_OR_RETURN(float* name, floats(n))  // NOLINT(bugprone-macro-parentheses)

  // ------------------------------------------------ the batch's host data
  FEDREC_ASSIGN_OR_RETURN(uint32_t * first, words(batch.first));
  std::vector<uint32_t> first_by_head(B * heads);
  for (size_t w = 0; w < B * heads; ++w) first_by_head[w] = batch.first[w / heads];
  FEDREC_ASSIGN_OR_RETURN(uint32_t * first_heads, words(first_by_head));
  // Parameters: tensor k shared by every window (params[k]), or window b's
  // own at param(k) + b pstride; the item tables' rows then by the windows'
  // row numbers.
  const bool own = per_window != nullptr && per_window->params != nullptr;
  const size_t pstride = own ? per_window->dense_stride : 0;
  auto param = [&](size_t k) -> const float* {
    return own ? per_window->params + per_window->dense_offset[k] : params[k];
  };
  const float* own_rows = own ? per_window->params + per_window->rows_offset : nullptr;
  const float* item_table = own ? own_rows : params[sasrec_internal::kItemEmb];
  const float* scored_table = own ? own_rows : params[scored];
  FEDREC_ASSIGN_OR_RETURN(uint32_t * inputs, words(own ? per_window->input_rows : batch.inputs));
  FEDREC_ASSIGN_OR_RETURN(
      uint32_t * targets,
      words(own ? std::span<const uint32_t>(per_window->scored_rows).first(M) : batch.targets));
  FEDREC_ASSIGN_OR_RETURN(
      uint32_t * negatives,
      words(own ? std::span<const uint32_t>(per_window->scored_rows).subspan(M) : batch.negatives));
  // Ones for the own-parameter affine layers (bias rows, unit gamma), filled
  // only when windows read their own parameters; the slots are taken either
  // way so that every call hands out scratch in the same order.
  const size_t ones_n = std::max(T, d);
  FEDREC_ASSIGN_OR_RETURN(void* ones_p, scratch.Take(ops, ones_n * sizeof(float)));
  FEDREC_ASSIGN_OR_RETURN(void* zeros_p, scratch.Take(ops, d * sizeof(float)));
  if (own) {
    const std::vector<float> ones_host(ones_n, 1.0f), zeros_host(d, 0.0f);
    FEDREC_RETURN_IF_ERROR(ops.Upload(ones_p, ones_host.data(), ones_n * sizeof(float)));
    FEDREC_RETURN_IF_ERROR(ops.Upload(zeros_p, zeros_host.data(), d * sizeof(float)));
  }
  const auto* ones = static_cast<const float*>(ones_p);
  const auto* zeros = static_cast<const float*>(zeros_p);
  std::vector<uint8_t> valid_host(M);
  for (size_t r = 0; r < M; ++r) valid_host[r] = batch.inputs[r] != kNoItem;
  FEDREC_ASSIGN_OR_RETURN(void* valid_p, scratch.Take(ops, M));
  FEDREC_RETURN_IF_ERROR(ops.Upload(valid_p, valid_host.data(), M));
  const auto* valid = static_cast<const uint8_t*>(valid_p);

  // Dropout sources: slot 0 the embedding, then per block attention, ffn1,
  // ffn2; B entries each.
  const size_t kinds = 1 + 3 * o_.blocks;
  std::vector<MaskSource> sources_host(kinds * B);
  for (size_t b = 0; b < B; ++b) {
    const PhiloxStream stream =
        MakePhiloxStream(key.seed, Fnv1a64("dropout"), key.epoch, batch.users[b], key.step);
    const MaskWords m = DropoutWordsOf(o_, T - batch.first[b]);
    sources_host[b] = {stream, 0};
    for (size_t k = 0; k < o_.blocks; ++k) {
      sources_host[(1 + 3 * k) * B + b] = {stream, m.attention[k]};
      sources_host[(2 + 3 * k) * B + b] = {stream, m.ffn1[k]};
      sources_host[(3 + 3 * k) * B + b] = {stream, m.ffn2[k]};
    }
  }
  FEDREC_ASSIGN_OR_RETURN(void* sources_p,
                          scratch.Take(ops, sources_host.size() * sizeof(MaskSource)));
  FEDREC_RETURN_IF_ERROR(
      ops.Upload(sources_p, sources_host.data(), sources_host.size() * sizeof(MaskSource)));
  const auto* sources = static_cast<const MaskSource*>(sources_p);

  // -------------------------------------------------------------- forward
  auto linear = [&](const float* x, size_t k_w, size_t k_b, float* y) -> absl::Status {
    if (!own) {
      FEDREC_RETURN_IF_ERROR(ops.BiasRows(params[k_b], M, d, y));
      return ops.Gemm(false, false, M, d, d, 1.0f, x, d, params[k_w], d, 1.0f, y, d);
    }
    // Window b: its bias in every row (ones T x 1 times bias 1 x d), then
    // x_b W_b.
    FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(false, false, T, d, 1, 1.0f, ones, 1, 0,
                                                  param(k_b), d, pstride, 0.0f, y, d, T * d, B));
    return ops.GemmStridedBatched(false, false, T, d, d, 1.0f, x, d, T * d, param(k_w), d, pstride,
                                  1.0f, y, d, T * d, B);
  };
  auto ln_forward = [&](const float* x, size_t k_gamma, size_t k_beta, float* xhat, float* rstd,
                        float* y) -> absl::Status {
    if (!own) {
      return ops.LayerNormForward(x, params[k_gamma], params[k_beta], M, d, xhat, rstd, y);
    }
    FEDREC_RETURN_IF_ERROR(ops.LayerNormForward(x, ones, zeros, M, d, xhat, rstd, y));
    return ops.WindowAffineRows(xhat, param(k_gamma), param(k_beta), pstride, B, T, d, y);
  };
  std::vector<BlockBuffers> blocks(o_.blocks);
  for (BlockBuffers& c : blocks) {
    for (float** f : {&c.x_in, &c.ln1_xhat, &c.z, &c.q, &c.k, &c.v, &c.attn_out, &c.mid,
                      &c.ln2_xhat, &c.f_in, &c.hidden, &c.mask1, &c.mask2, &c.out}) {
      FEDREC_ASSIGN_OR_RETURN(*f, floats(nd));
    }
    FEDREC_ASSIGN_OR_RETURN(c.ln1_rstd, floats(M));
    FEDREC_ASSIGN_OR_RETURN(c.ln2_rstd, floats(M));
    FEDREC_ASSIGN_OR_RETURN(c.probs, floats(att));
    FEDREC_ASSIGN_OR_RETURN(c.dropped, floats(att));
    FEDREC_ASSIGN_OR_RETURN(c.attn_mask, floats(att));
  }
  FEDREC_FLOATS(x0, nd);
  FEDREC_FLOATS(emb_mask, nd);
  FEDREC_FLOATS(final_xhat, nd);
  FEDREC_FLOATS(final_rstd, M);
  FEDREC_FLOATS(hidden_out, nd);

  // x0 = dropout(E[item] sqrt(d) + P[slot]), padding rows zero.
  FEDREC_RETURN_IF_ERROR(
      ops.Gather(item_table, d, inputs, M, std::sqrt(static_cast<float>(d)), x0));
  const float* positions = param(sasrec_internal::kPosEmb) + (o_.max_len - T) * d;
  if (own) {
    FEDREC_RETURN_IF_ERROR(ops.AddStrided(positions, pstride, x0, T * d, T * d, B));
  } else {
    FEDREC_RETURN_IF_ERROR(ops.AddToEveryWindow(positions, B, T, d, x0));
  }
  FEDREC_RETURN_IF_ERROR(ops.ZeroPaddingRows(first, B, T, d, x0));
  if (drop) {
    FEDREC_RETURN_IF_ERROR(ops.WindowDropoutMasks(sources, first, o_.dropout, B, T, d, emb_mask));
    FEDREC_RETURN_IF_ERROR(ops.Multiply(x0, emb_mask, nd, x0));
  }
  const float* x = x0;
  for (size_t k = 0; k < o_.blocks; ++k) {
    BlockBuffers& c = blocks[k];
    auto I = [&](BlockTensor t) { return BlockTensorIndex(k, t); };
    FEDREC_RETURN_IF_ERROR(ops.Copy(x, nd, c.x_in));
    FEDREC_RETURN_IF_ERROR(ln_forward(c.x_in, I(sasrec_internal::kAttnLnGamma),
                                      I(sasrec_internal::kAttnLnBeta), c.ln1_xhat, c.ln1_rstd,
                                      c.z));
    const float* keys = o_.pre_ln ? c.z : c.x_in;
    FEDREC_RETURN_IF_ERROR(linear(c.z, I(sasrec_internal::kWq), I(sasrec_internal::kBq), c.q));
    FEDREC_RETURN_IF_ERROR(linear(keys, I(sasrec_internal::kWk), I(sasrec_internal::kBk), c.k));
    FEDREC_RETURN_IF_ERROR(linear(keys, I(sasrec_internal::kWv), I(sasrec_internal::kBv), c.v));
    for (size_t h = 0; h < heads; ++h) {
      FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(false, true, T, T, dh, 1.0f, c.q + h * dh, d,
                                                    T * d, c.k + h * dh, d, T * d, 0.0f,
                                                    c.probs + h * T * T, T, heads * T * T, B));
    }
    FEDREC_RETURN_IF_ERROR(
        ops.CausalSoftmaxForward(c.probs, B * heads, T, first_heads, scale, c.probs));
    const float* weights = c.probs;
    if (drop) {
      FEDREC_RETURN_IF_ERROR(ops.AttentionDropoutMasks(sources + (1 + 3 * k) * B, first, o_.dropout,
                                                       B, heads, T, c.attn_mask));
      FEDREC_RETURN_IF_ERROR(ops.Multiply(c.probs, c.attn_mask, att, c.dropped));
      weights = c.dropped;
    }
    for (size_t h = 0; h < heads; ++h) {
      FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(
          false, false, T, dh, T, 1.0f, weights + h * T * T, T, heads * T * T, c.v + h * dh, d,
          T * d, 0.0f, c.attn_out + h * dh, d, T * d, B));
    }
    // Residual: post-LN adds the normalised queries, pre-LN the input.
    FEDREC_RETURN_IF_ERROR(ops.Add(c.attn_out, o_.pre_ln ? c.x_in : c.z, nd, c.mid));
    FEDREC_RETURN_IF_ERROR(ln_forward(c.mid, I(sasrec_internal::kFfnLnGamma),
                                      I(sasrec_internal::kFfnLnBeta), c.ln2_xhat, c.ln2_rstd,
                                      c.f_in));
    FEDREC_RETURN_IF_ERROR(
        linear(c.f_in, I(sasrec_internal::kW1), I(sasrec_internal::kB1), c.hidden));
    FEDREC_RETURN_IF_ERROR(ops.Relu(c.hidden, nd));
    if (drop) {
      FEDREC_RETURN_IF_ERROR(
          ops.WindowDropoutMasks(sources + (2 + 3 * k) * B, first, o_.dropout, B, T, d, c.mask1));
      FEDREC_RETURN_IF_ERROR(ops.Multiply(c.hidden, c.mask1, nd, c.hidden));
    }
    FEDREC_RETURN_IF_ERROR(
        linear(c.hidden, I(sasrec_internal::kW2), I(sasrec_internal::kB2), c.out));
    if (drop) {
      FEDREC_RETURN_IF_ERROR(
          ops.WindowDropoutMasks(sources + (3 + 3 * k) * B, first, o_.dropout, B, T, d, c.mask2));
      FEDREC_RETURN_IF_ERROR(ops.Multiply(c.out, c.mask2, nd, c.out));
    }
    // Residual: post-LN from the FFN's normalised input, pre-LN from mid.
    FEDREC_RETURN_IF_ERROR(ops.Add(c.out, o_.pre_ln ? c.mid : c.f_in, nd, c.out));
    FEDREC_RETURN_IF_ERROR(ops.ZeroPaddingRows(first, B, T, d, c.out));
    x = c.out;
  }
  const size_t fg = sasrec_internal::FinalGamma(o_.blocks);
  FEDREC_RETURN_IF_ERROR(ln_forward(x, fg, fg + 1, final_xhat, final_rstd, hidden_out));
  if (last_states != nullptr) {
    // Row T - 1 of each window; none (zeros) for a window of padding only.
    std::vector<uint32_t> last_rows(B);
    for (size_t b = 0; b < B; ++b) {
      last_rows[b] = batch.first[b] < T ? static_cast<uint32_t>(b * T + T - 1) : kNoItem;
    }
    FEDREC_ASSIGN_OR_RETURN(uint32_t * rows, words(last_rows));
    FEDREC_RETURN_IF_ERROR(ops.Gather(hidden_out, d, rows, B, 1.0f, last_states));
    return result;
  }

  // ----------------------------------------------------------------- loss
  // BCE: per-position logits and losses here, their gradients below. The
  // sampled and full softmax heads: loss and d loss / d hidden_out (into
  // head_dh) at once.
  std::vector<float> loss_host(M);
  float* dpos = nullptr;
  float* dneg = nullptr;
  float* head_dh = nullptr;
  const bool bce = head_ == nullptr && full_head_ == nullptr;
  if (bce) {
    FEDREC_FLOATS(pos_logits, M);
    FEDREC_FLOATS(neg_logits, M);
    FEDREC_FLOATS(losses, M);
    FEDREC_ASSIGN_OR_RETURN(dpos, floats(M));
    FEDREC_ASSIGN_OR_RETURN(dneg, floats(M));
    FEDREC_RETURN_IF_ERROR(
        ops.GatheredRowDots(hidden_out, scored_table, d, targets, M, pos_logits));
    FEDREC_RETURN_IF_ERROR(
        ops.GatheredRowDots(hidden_out, scored_table, d, negatives, M, neg_logits));
    FEDREC_RETURN_IF_ERROR(ops.BceLoss(pos_logits, neg_logits, valid, M, losses, dpos, dneg));
    FEDREC_RETURN_IF_ERROR(ops.Download(loss_host.data(), losses, M * sizeof(float)));
  } else {
    if (grads != nullptr) {
      FEDREC_ASSIGN_OR_RETURN(head_dh, floats(nd));
      FEDREC_RETURN_IF_ERROR(ops.Zero(head_dh, nd));
    }
    float* dtable = grads != nullptr ? grads[scored] : nullptr;
    if (full_head_ != nullptr) {
      FEDREC_ASSIGN_OR_RETURN(
          loss_host, full_head_->Run(hidden_out, scored_table, d, o_.num_items, M, targets, valid,
                                     batch.excluded, head_dh, dtable));
    } else {
      FEDREC_ASSIGN_OR_RETURN(
          loss_host, head_->Run(hidden_out, scored_table, d, B, T, targets, batch.targets, valid,
                                batch.shared, head_dh, dtable));
    }
  }
  // Per window in position order, then windows in batch order (the CPU
  // trainer's order of sequences).
  for (size_t b = 0; b < B; ++b) {
    float window = 0.0f;
    for (size_t r = batch.first[b]; r < T; ++r) window += loss_host[b * T + r];
    result.loss += window;
    if (window_loss != nullptr) (*window_loss)[b] = window;
  }
  result.examples = batch.examples;
  if (grads == nullptr && per_window == nullptr) return result;

  // Where parameter gradients go: tensor k summed over the batch at
  // grads[k], or window b's own at per_window->grads + offset + b stride.
  const bool per = per_window != nullptr;
  const size_t stride = per ? per_window->dense_stride : 0;
  float* grad_rows = per ? per_window->grads + per_window->rows_offset : nullptr;
  auto dst = [&](size_t k) -> float* {
    return per ? per_window->grads + per_window->dense_offset[k] : grads[k];
  };
  // -------------------------------------------------------------- backward
  FEDREC_FLOATS(g0, nd);
  FEDREC_FLOATS(g1, nd);
  FEDREC_FLOATS(g2, nd);
  FEDREC_FLOATS(g3, nd);
  FEDREC_FLOATS(dq, nd);
  FEDREC_FLOATS(dk, nd);
  FEDREC_FLOATS(dv, nd);
  FEDREC_FLOATS(dp, att);
  FEDREC_FLOATS(dhidden, nd);
  FEDREC_FLOATS(dy2, nd);
  FEDREC_FLOATS(item_rows, bce ? 2 * nd : 0);  // BCE's scored rows

  // The scored rows: dE[target] += dpos h, dE[negative] += dneg h; dH
  // (the other heads added theirs already).
  auto scatter = [&](const std::vector<uint32_t>& ids, const float* src, float scale_by,
                     float* table) -> absl::Status {
    const ScatterPlan plan = BuildScatterPlan(ids.data(), ids.size());
    if (plan.rows.empty()) return absl::OkStatus();
    FEDREC_ASSIGN_OR_RETURN(uint32_t * rows, words(plan.rows));
    FEDREC_ASSIGN_OR_RETURN(uint32_t * offsets, words(plan.offsets));
    FEDREC_ASSIGN_OR_RETURN(uint32_t * positions, words(plan.positions));
    return ops.ScatterAdd(rows, offsets, positions, plan.rows.size(), src, d, scale_by, table);
  };
  if (head_dh != nullptr) {
    FEDREC_RETURN_IF_ERROR(ops.Copy(head_dh, nd, g0));
  } else {
    FEDREC_RETURN_IF_ERROR(ops.Zero(g0, nd));
    FEDREC_RETURN_IF_ERROR(
        ops.BceHiddenGrad(dpos, dneg, scored_table, d, targets, negatives, M, g0));
    FEDREC_RETURN_IF_ERROR(ops.ScaleRows(dpos, hidden_out, M, d, item_rows));
    FEDREC_RETURN_IF_ERROR(ops.ScaleRows(dneg, hidden_out, M, d, item_rows + nd));
    std::vector<uint32_t> scored_ids(batch.targets);
    scored_ids.insert(scored_ids.end(), batch.negatives.begin(), batch.negatives.end());
    FEDREC_RETURN_IF_ERROR(scatter(per ? per_window->scored_rows : scored_ids, item_rows, 1.0f,
                                   per ? grad_rows : grads[scored]));
  }

  // Final layer norm: gx = dL/d(last block's output).
  float* gx = g1;
  FEDREC_RETURN_IF_ERROR(ops.Zero(gx, nd));
  // Per window, the layer norms' own parameter sums go to a sink and the
  // window sums are taken separately.
  FEDREC_FLOATS(ln_sink, 2 * d);
  FEDREC_FLOATS(dy_gamma, own ? nd : 0);
  auto ln_backward = [&](const float* xhat, const float* rstd, size_t k_gamma, size_t k_beta,
                         const float* dy, float* dx) -> absl::Status {
    if (!per) {
      return ops.LayerNormBackward(xhat, rstd, params[k_gamma], dy, M, d, dx, grads[k_gamma],
                                   grads[k_beta]);
    }
    FEDREC_RETURN_IF_ERROR(ops.Zero(ln_sink, 2 * d));
    if (own) {
      // The backward reads gamma only through dy o gamma: window b's own
      // gamma goes into dy, and the shared one is 1.
      FEDREC_RETURN_IF_ERROR(
          ops.WindowAffineRows(dy, param(k_gamma), nullptr, pstride, B, T, d, dy_gamma));
      FEDREC_RETURN_IF_ERROR(
          ops.LayerNormBackward(xhat, rstd, ones, dy_gamma, M, d, dx, ln_sink, ln_sink + d));
    } else {
      FEDREC_RETURN_IF_ERROR(
          ops.LayerNormBackward(xhat, rstd, params[k_gamma], dy, M, d, dx, ln_sink, ln_sink + d));
    }
    return ops.WindowLayerNormParamGrads(xhat, dy, B, T, d, dst(k_gamma), dst(k_beta), stride);
  };
  FEDREC_RETURN_IF_ERROR(ln_backward(final_xhat, final_rstd, fg, fg + 1, g0, gx));
  auto linear_backward = [&](const float* x_in, size_t k_w, size_t k_b, const float* dy,
                             float* dx) -> absl::Status {
    if (per) {
      FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(true, false, d, d, T, 1.0f, x_in, d, T * d, dy,
                                                    d, T * d, 1.0f, dst(k_w), d, stride, B));
      FEDREC_RETURN_IF_ERROR(ops.WindowColumnSums(dy, B, T, d, dst(k_b), stride));
    } else {
      FEDREC_RETURN_IF_ERROR(
          ops.Gemm(true, false, d, d, M, 1.0f, x_in, d, dy, d, 1.0f, grads[k_w], d));
      FEDREC_RETURN_IF_ERROR(ops.ColumnSums(dy, M, d, grads[k_b]));
    }
    if (own) {
      return ops.GemmStridedBatched(false, true, T, d, d, 1.0f, dy, d, T * d, param(k_w), d,
                                    pstride, 1.0f, dx, d, T * d, B);
    }
    return ops.Gemm(false, true, M, d, d, 1.0f, dy, d, params[k_w], d, 1.0f, dx, d);
  };
  float* ga = g0;  // d_fin, then dz
  float* gb = g2;  // d_mid
  float* gc = g3;  // dxin
  for (size_t k = o_.blocks; k-- > 0;) {
    BlockBuffers& c = blocks[k];
    auto I = [&](BlockTensor t) { return BlockTensorIndex(k, t); };
    // out = ffn(f_in) + residual (f_in post-LN, mid pre-LN).
    if (o_.pre_ln) {
      FEDREC_RETURN_IF_ERROR(ops.Zero(ga, nd));
      FEDREC_RETURN_IF_ERROR(ops.Copy(gx, nd, gb));
    } else {
      FEDREC_RETURN_IF_ERROR(ops.Copy(gx, nd, ga));
      FEDREC_RETURN_IF_ERROR(ops.Zero(gb, nd));
    }
    const float* dlin2 = gx;
    if (drop) {
      FEDREC_RETURN_IF_ERROR(ops.Multiply(gx, c.mask2, nd, dy2));
      dlin2 = dy2;
    }
    FEDREC_RETURN_IF_ERROR(ops.Zero(dhidden, nd));
    FEDREC_RETURN_IF_ERROR(linear_backward(c.hidden, I(sasrec_internal::kW2),
                                           I(sasrec_internal::kB2), dlin2, dhidden));
    FEDREC_RETURN_IF_ERROR(ops.ReluBackward(c.hidden, drop ? c.mask1 : nullptr, nd, dhidden));
    FEDREC_RETURN_IF_ERROR(
        linear_backward(c.f_in, I(sasrec_internal::kW1), I(sasrec_internal::kB1), dhidden, ga));
    FEDREC_RETURN_IF_ERROR(ln_backward(c.ln2_xhat, c.ln2_rstd, I(sasrec_internal::kFfnLnGamma),
                                       I(sasrec_internal::kFfnLnBeta), ga, gb));
    // mid = attn(z, keys) + residual (z post-LN, x pre-LN).
    if (o_.pre_ln) {
      FEDREC_RETURN_IF_ERROR(ops.Zero(ga, nd));
      FEDREC_RETURN_IF_ERROR(ops.Copy(gb, nd, gc));
    } else {
      FEDREC_RETURN_IF_ERROR(ops.Copy(gb, nd, ga));
      FEDREC_RETURN_IF_ERROR(ops.Zero(gc, nd));
    }
    const float* weights = drop ? c.dropped : c.probs;
    for (size_t h = 0; h < heads; ++h) {
      const size_t o = h * dh, s = h * T * T, hs = heads * T * T;
      // dV = Pd^T dO; dPd = dO V^T.
      FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(true, false, T, dh, T, 1.0f, weights + s, T, hs,
                                                    gb + o, d, T * d, 0.0f, dv + o, d, T * d, B));
      FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(false, true, T, T, dh, 1.0f, gb + o, d, T * d,
                                                    c.v + o, d, T * d, 0.0f, dp + s, T, hs, B));
    }
    FEDREC_RETURN_IF_ERROR(ops.CausalSoftmaxBackward(c.probs, dp, drop ? c.attn_mask : nullptr,
                                                     B * heads, T, first_heads, scale, dp));
    for (size_t h = 0; h < heads; ++h) {
      const size_t o = h * dh, s = h * T * T, hs = heads * T * T;
      // dQ = dS K; dK = dS^T Q.
      FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(false, false, T, dh, T, 1.0f, dp + s, T, hs,
                                                    c.k + o, d, T * d, 0.0f, dq + o, d, T * d, B));
      FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(true, false, T, dh, T, 1.0f, dp + s, T, hs,
                                                    c.q + o, d, T * d, 0.0f, dk + o, d, T * d, B));
    }
    const float* keys = o_.pre_ln ? c.z : c.x_in;
    float* dkeys = o_.pre_ln ? ga : gc;
    FEDREC_RETURN_IF_ERROR(
        linear_backward(c.z, I(sasrec_internal::kWq), I(sasrec_internal::kBq), dq, ga));
    FEDREC_RETURN_IF_ERROR(
        linear_backward(keys, I(sasrec_internal::kWk), I(sasrec_internal::kBk), dk, dkeys));
    FEDREC_RETURN_IF_ERROR(
        linear_backward(keys, I(sasrec_internal::kWv), I(sasrec_internal::kBv), dv, dkeys));
    FEDREC_RETURN_IF_ERROR(ln_backward(c.ln1_xhat, c.ln1_rstd, I(sasrec_internal::kAttnLnGamma),
                                       I(sasrec_internal::kAttnLnBeta), ga, gc));
    std::swap(gx, gc);
  }
  // Embedding: x0 = dropout(E[item] sqrt(d) + P[slot]).
  if (drop) {
    FEDREC_RETURN_IF_ERROR(ops.Multiply(gx, emb_mask, nd, gx));
  } else {
    FEDREC_RETURN_IF_ERROR(ops.ZeroPaddingRows(first, B, T, d, gx));
  }
  float* pos_grad = dst(sasrec_internal::kPosEmb) + (o_.max_len - T) * d;
  if (per) {
    FEDREC_RETURN_IF_ERROR(ops.AddStrided(gx, T * d, pos_grad, stride, T * d, B));
  } else {
    FEDREC_RETURN_IF_ERROR(ops.SumOverWindows(gx, B, T, d, pos_grad));
  }
  FEDREC_RETURN_IF_ERROR(scatter(per ? per_window->input_rows : batch.inputs, gx,
                                 std::sqrt(static_cast<float>(d)),
                                 per ? grad_rows : grads[sasrec_internal::kItemEmb]));
#undef FEDREC_FLOATS
  return result;
}

}  // namespace fedrec::kernels
