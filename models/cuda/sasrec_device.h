// SASRec's training step written once against TensorOps (tensor_ops.h), for
// a batch of sequences at a time: the computation the GPU runs, checked on
// the CPU (HostTensorOps) against the CPU model (models/sasrec_impl.h).
//
// Layout: a batch is B windows of T rows (T = the longest predicted window
// in the batch), row-major B T x d. A sequence's valid positions are
// right-aligned in its window, so window b's first first[b] rows are
// padding; slot r of every window uses position embedding max_len - T + r,
// which is exactly the CPU's absolute position of a valid row. Padding rows
// are zeroed after the embedding and after every block (the official
// `seq *= mask`); keys in padding rows get weight 0 in the softmax and
// padding positions have no loss, so the valid rows compute what the CPU
// computes on the valid suffix alone, and no gradient reaches a padding row.
//
// Randomness is the CPU model's: negatives are drawn on the host by
// sasrec_internal::DrawNegatives from the same streams; dropout masks come
// from each sequence's (seed, "dropout", epoch, user, step) stream at the
// word offsets the CPU's draws reach (embedding, then per block the heads'
// attention triangles, the FFN's first and second masks).
//
// Two ways to take the gradient: summed over the batch (central training,
// LossAndGradients), or one per window with each window optionally reading
// its own parameters (federated clients, LossAndWindowGradients with
// PerWindowSlots): then the weight products are strided-batched per window
// and the bias, layer-norm and position gradients are per-window sums.
//
// Losses: the paper's BCE with one negative per position; sampled softmax
// and gBCE over uniform negatives shared by each sequence
// (SharedNegativesHead); the full softmax over the catalogue
// (FullSoftmaxHead); all with plain dot-product logits. Items by id
// (separate_output either way), post-LN and pre-LN blocks, any dropout.
// Create refuses other options (per-position or popularity negatives,
// cosine logits, a temperature, l2_emb) with InvalidArgument naming them;
// per-window gradients (federated clients) take BCE only.
//
// Thread safety: one program per thread (it owns scratch in the ops' memory
// and calls into its TensorOps).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "models/cuda/full_softmax_head.h"
#include "models/cuda/shared_negatives_head.h"
#include "models/cuda/tensor_ops.h"
#include "models/model.h"
#include "models/sasrec_options.h"

namespace fedrec::kernels {

// A batch as the program reads it, built on the host.
struct SasRecWindowBatch {
  size_t batch = 0;                 // B windows (sequences with >= 2 items)
  size_t len = 0;                   // T rows each
  std::vector<uint32_t> users;      // B: the dropout streams' client words
  std::vector<uint32_t> first;      // B: padding rows of each window
  std::vector<uint32_t> inputs;     // B T item ids, kNoItem in padding rows
  std::vector<uint32_t> targets;    // B T
  std::vector<uint32_t> negatives;  // B T: BCE's one negative per position
  SharedNegatives shared;           // sampled softmax / gBCE: each window's
  std::vector<uint32_t> excluded;   // the full softmax: items left out of it
  uint64_t examples = 0;            // predicted positions

  // Windows of the sequences with at least 2 items, in batch order; the
  // negatives drawn as the CPU model draws them for `key`. `min_len`: T is
  // at least this (a fixed shape for every call, see SasRecClientBatch).
  static SasRecWindowBatch Pack(const SasRecOptions& o, std::span<const UserSequence> batch,
                                const StepKey& key, size_t min_len = 0);
  // Inference windows of T = `len` rows (at least 1, at most max_len): window
  // b holds the last min(|history|, len) items of histories[b],
  // right-aligned, nothing to predict (an empty history is padding only).
  static SasRecWindowBatch PackHistories(std::span<const std::span<const uint32_t>> histories,
                                         size_t len);
  // Appends `count` windows of padding only (no loss, zero gradient).
  void AddEmptyWindows(size_t count);
};

// Per-window buffers, one window per federated client: where
// LossAndWindowGradients puts each window's gradient and, optionally, where
// each window reads its own parameters. A buffer holds B dense blocks, then
// the windows' item rows:
//   - window b's dense block starts at b * dense_stride; tensor k (every
//     tensor but the item tables) sits at dense_offset[k] inside it, the
//     position table whole (slot r of a window of T at row max_len - T + r);
//   - item row r starts at rows_offset + r d. Rows are numbered per window
//     by the caller: input_rows[t] for the input at batch row t, and
//     scored_rows[t] / scored_rows[B T + t] for its target / negative in the
//     scored table (kNoItem in padding rows). With one shared table, a
//     window's item has one number wherever it occurs.
struct PerWindowSlots {
  size_t dense_stride = 0;
  std::vector<size_t> dense_offset;
  size_t rows_offset = 0;
  std::vector<uint32_t> input_rows, scored_rows;
  float* grads = nullptr;  // gradients are added here (zeroed by the caller)
  // Null: every window reads the shared parameters; set: window b reads its
  // own, laid out as `grads` (clients after their first local step).
  const float* params = nullptr;
};

class SasRecDeviceProgram {
 public:
  // InvalidArgument for options the program does not support (see above).
  static absl::StatusOr<std::unique_ptr<SasRecDeviceProgram>> Create(const SasRecOptions& o,
                                                                     TensorOps* ops);
  ~SasRecDeviceProgram();

  // The batch's summed loss; adds its gradient to grads (tensor k of the
  // SasRecModel layout at grads[k], dense, in the ops' memory; params
  // likewise). Dropout is active when `dropout_on` and the rate is > 0.
  absl::StatusOr<LossSum> LossAndGradients(const float* const* params, float* const* grads,
                                           const SasRecWindowBatch& batch, const StepKey& key,
                                           bool dropout_on);
  // The same step with each window's gradient added into its own slots of
  // `target` (and its parameters read from there when target.params is
  // set); window_loss[b] = window b's summed loss.
  absl::StatusOr<LossSum> LossAndWindowGradients(const float* const* params,
                                                 const PerWindowSlots& target,
                                                 const SasRecWindowBatch& batch, const StepKey& key,
                                                 bool dropout_on, std::vector<float>* window_loss);
  // Inference: states (B x d, in the ops' memory) = the final hidden state
  // of each window's last row, without dropout (what scoring dots with the
  // scored item table); zeros for a window of padding only. Equals the CPU
  // model's UserState up to float rounding.
  absl::Status LastStates(const float* const* params, const SasRecWindowBatch& batch,
                          float* states);

 private:
  struct Scratch;
  SasRecDeviceProgram(const SasRecOptions& o, TensorOps* ops);
  absl::StatusOr<LossSum> Run(const float* const* params, float* const* grads,
                              const PerWindowSlots* per_window, const SasRecWindowBatch& batch,
                              const StepKey& key, bool dropout_on, std::vector<float>* window_loss,
                              float* last_states);

  SasRecOptions o_;
  TensorOps* ops_;
  std::unique_ptr<Scratch> scratch_;
  std::unique_ptr<SharedNegativesHead> head_;   // the sampled losses
  std::unique_ptr<FullSoftmaxHead> full_head_;  // the full softmax
};

}  // namespace fedrec::kernels
