// The sampled heads of models/sequence_losses.h (sampled softmax and gBCE
// over negatives shared by every position of a sequence) on a TensorOps
// backend, for the device programs of SASRec and GRU4Rec: the loss and
// gradient of B windows' hidden states against their targets and their
// windows' negatives, with plain dot-product logits (no normalisation, no
// temperature) and, with popularity negatives, the logQ correction.
//
// Per call: the targets' logits by gathered row dots; each window's N
// negatives gathered into a B x N x d block and scored by one
// strided-batched GEMM (T x d by d x N per window); the per-position losses
// by SharedNegativeLossRows; the hidden states' gradient as two more
// products (the targets' rows, then dlogits times the negatives' rows) and
// the item rows' gradients (dpos h for the targets, dlogits^T H for the
// negatives) through one deterministic scatter plan, targets first.
// Every sum in a fixed order: a call repeats bitwise.
//
// Thread safety: one head per thread (it owns scratch in the ops' memory
// and calls into its TensorOps).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "models/cuda/growing_buffer.h"
#include "models/cuda/tensor_ops.h"

namespace fedrec::kernels {

// Each window's shared negatives, built on the host.
struct SharedNegatives {
  size_t width = 0;              // N: negatives per window (the most drawn)
  std::vector<uint32_t> ids;     // B N, kNoItem beyond a window's count
  std::vector<uint32_t> counts;  // B: how many window b has (0 or N)
  std::vector<float> logq;       // B N logQ corrections, or empty (none)

  // Appends one window's negatives (at most `width` of them) and, unless
  // `logq` is empty, their corrections.
  void AddWindow(std::span<const uint32_t> negatives, std::span<const double> logq);
};

class SharedNegativesHead {
 public:
  // gbce: gBCE with `beta`; otherwise sampled softmax.
  SharedNegativesHead(TensorOps* ops, bool gbce, double beta);

  // h: B T x d hidden states (window b's row t at (b T + t) d, in the ops'
  // memory); table: the scored item rows; targets / valid: B T ids and
  // flags in the ops' memory, targets_host the same ids on the host
  // (kNoItem in padding rows). Returns the B T per-position losses (0 in
  // padding). When dh is not null, adds d loss / dh into it and the scored
  // rows' gradients into dtable.
  absl::StatusOr<std::vector<float>> Run(const float* h, const float* table, size_t d, size_t batch,
                                         size_t len, const uint32_t* targets,
                                         std::span<const uint32_t> targets_host,
                                         const uint8_t* valid, const SharedNegatives& negatives,
                                         float* dh, float* dtable);

 private:
  TensorOps* ops_;
  bool gbce_;
  float beta_;
  GrowingBuffer neg_ids_, counts_, logq_, rows_, pos_, logits_, loss_, dpos_, item_grads_,
      plan_rows_, plan_offsets_, plan_positions_;
};

}  // namespace fedrec::kernels
