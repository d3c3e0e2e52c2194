// GRU4Rec's training step written once against TensorOps (tensor_ops.h), for
// a batch of sequences at a time: the computation the GPU runs, checked on
// the CPU (HostTensorOps) against the CPU model (models/gru4rec.h).
//
// Layout: time-major, as GruDeviceLayer (gru_device.h): B windows of T
// steps, step t of window b at row t B + b; a window's valid steps are
// right-aligned, its first first[b] rows padding. A window's state stays
// exactly 0 through its padding, so its valid steps compute what the CPU
// model computes on the user's window alone, and padding rows have no loss
// and get no gradient.
//
// Per step: embedding gather -> (dropout -> GruDeviceLayer) per layer ->
// output dropout -> the loss against item_emb (or out_emb with
// separate_output): the paper's BPR with k negatives per position (gathered
// row dots), sampled softmax / gBCE over each user's shared negatives
// (SharedNegativesHead, on a batch-major copy of the states), or the full
// softmax over the catalogue (FullSoftmaxHead, time-major). The scored
// rows' gradients and the input rows' gradients go through deterministic
// scatter plans. Every sum runs in a fixed order: a run repeats bitwise.
//
// Randomness is the CPU model's: negatives are drawn on the host by
// gru4rec_internal::DrawNegatives from the same streams; the dropout
// masks are one NextFloat per entry of each user's (seed, "dropout",
// epoch, user, step) stream, mask m (layer m's input, the output for m =
// layers) from word m T_b d on (T_b the user's valid steps), as the CPU
// draws them.
//
// Supported: bpr (any number of negatives), sampled softmax and gBCE over
// uniform shared negatives and the full softmax, with plain logits; items
// by id (separate output either way), any layers and dropout. Create
// refuses the rest (per-position or popularity negatives, cosine logits, a
// temperature, text item representations) with InvalidArgument naming
// them.
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
#include "models/gru4rec.h"
#include "models/model.h"

namespace fedrec::kernels {

// A batch as the program reads it, built on the host.
struct Gru4RecWindowBatch {
  size_t batch = 0;               // B windows (users with >= 2 items and a negative)
  size_t steps = 0;               // T rows each (the longest window)
  size_t negatives = 0;           // BPR: k per position (0 for the shared losses)
  std::vector<uint32_t> users;    // B: the dropout streams' client words
  std::vector<uint32_t> first;    // B: padding steps of each window
  std::vector<uint32_t> inputs;   // T B, time-major, kNoItem in padding
  std::vector<uint32_t> targets;  // T B
  // BPR: k T B, negative j of row r at j T B + r (kNoItem in padding).
  std::vector<uint32_t> drawn;
  SharedNegatives shared;          // the shared losses: each window's
  std::vector<uint32_t> excluded;  // the full softmax: items left out of it
  uint64_t examples = 0;           // predicted positions

  // The training windows of `batch` as the CPU model forms them (the last
  // min(n - 1, max_len) positions of each user with n >= 2 items), users in
  // batch order, skipping those BPR finds no negative for; negatives drawn
  // for `key` (uniform). `scratch`'s sampler has o.num_items items.
  static Gru4RecWindowBatch Pack(const Gru4RecOptions& o, const ExcludedItems& excluded,
                                 std::span<const UserSequence> batch, const StepKey& key,
                                 gru4rec_internal::NegativeScratch* scratch);
  // Inference windows of T = `len` rows: window b holds the last
  // min(|histories[b]|, len) items, right-aligned (an empty history is
  // padding only).
  static Gru4RecWindowBatch PackHistories(std::span<const std::span<const uint32_t>> histories,
                                          size_t len);
};

class Gru4RecDeviceProgram {
 public:
  // InvalidArgument for options the program does not support (see above).
  static absl::StatusOr<std::unique_ptr<Gru4RecDeviceProgram>> Create(const Gru4RecOptions& o,
                                                                      TensorOps* ops);
  ~Gru4RecDeviceProgram();

  // The batch's summed loss (per window in position order, windows in
  // batch order, as the CPU trainer sums); adds the gradient to grads
  // (tensor k of the Gru4RecModel id layout at grads[k], dense, in the ops'
  // memory; params likewise). Dropout is active when `dropout_on` and the
  // rate is > 0.
  absl::StatusOr<LossSum> LossAndGradients(const float* const* params, float* const* grads,
                                           const Gru4RecWindowBatch& batch, const StepKey& key,
                                           bool dropout_on);
  // Inference: states (B x d, in the ops' memory) = the last layer's output
  // at each window's last row, without dropout (what scoring dots with the
  // scored table); zeros for a window of padding only.
  absl::Status LastStates(const float* const* params, const Gru4RecWindowBatch& batch,
                          float* states);

 private:
  struct Scratch;
  Gru4RecDeviceProgram(const Gru4RecOptions& o, TensorOps* ops);
  // Forward through the layers; returns the last output after the output
  // dropout (T B x d) in the scratch.
  absl::StatusOr<const float*> Forward(const float* const* params, const Gru4RecWindowBatch& batch,
                                       const StepKey& key, bool drop);
  // dtable[ids[t]] += src[t] through a scatter plan (rows of o_.dim).
  absl::Status Scatter(std::span<const uint32_t> ids, const float* src, float* table);
  // The shared losses on batch-major copies of fin: returns the per-position
  // losses (batch-major) and writes dfin (time-major); adds the scored rows'
  // gradients into dtable.
  absl::StatusOr<std::vector<float>> SharedLoss(const float* fin, const float* table,
                                                const Gru4RecWindowBatch& batch, float* dfin,
                                                float* dtable);

  Gru4RecOptions o_;
  TensorOps* ops_;
  std::unique_ptr<Scratch> scratch_;
  std::unique_ptr<SharedNegativesHead> head_;   // the shared losses
  std::unique_ptr<FullSoftmaxHead> full_head_;  // the full softmax
};

}  // namespace fedrec::kernels
