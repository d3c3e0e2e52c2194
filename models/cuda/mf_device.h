// MF-BPR's training step written against TensorOps (tensor_ops.h), for a
// batch of users at a time: the computation the GPU runs, checked on the
// CPU (HostTensorOps) against the CPU model (models/mf.h).
//
// A batch becomes n BPR examples (user, training item i, negative j), users
// in batch order and each user's items in order, the negatives drawn on the
// host by mf_internal::DrawBprNegatives from the CPU's streams (a user
// without a possible negative is skipped, as on the CPU). Only the batch's
// user rows travel: they are numbered per batch (compact rows), gathered
// per example, and their gradients come back compact.
//
// Per step: scores u . e_i + b_i by gathered row dots (the biases gathered
// as rows of width 1), the paper's BPR per example (BprLoss with one
// negative), then the gradients: the users' rows dpos e_i + dneg e_j (+ l2
// u), the items' dpos u (+ l2 e_i) and the biases' dpos (+ l2 b_i), each
// added through a deterministic scatter plan. With l2 > 0 the
// regulariser's loss (0.5 l2 (|u|^2 + |e_i|^2 + |e_j|^2 + b_i^2 + b_j^2)
// per example) is summed on the host from per-example squared norms.
// Every sum runs in a fixed order: a step repeats bitwise.
//
// Supported: item_repr id (item_emb and item_bias). Create refuses the
// text modes with InvalidArgument.
//
// Thread safety: one program per thread (it owns scratch in the ops' memory
// and calls into its TensorOps).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "models/cuda/growing_buffer.h"
#include "models/cuda/tensor_ops.h"
#include "models/mf.h"
#include "models/model.h"

namespace fedrec::kernels {

// A batch as the program reads it, built on the host.
struct MfExampleBatch {
  std::vector<uint32_t> users;      // compact row r -> user id (first-seen order)
  std::vector<uint32_t> user_row;   // per example: its user's compact row
  std::vector<uint32_t> items;      // per example: the training item i
  std::vector<uint32_t> negatives;  // per example: the negative j
  // The users whose examples are in the batch, in batch order (a user twice
  // in the batch appears twice): CPU marks each after its examples.
  std::vector<uint32_t> sequence_users;
  uint64_t examples = 0;

  size_t size() const { return items.size(); }

  // The examples of `batch` for `key`, skipping users with no items or no
  // possible negative. `sampler` has o.num_items items.
  static MfExampleBatch Pack(const MfBprOptions& o, const ExcludedItems& excluded,
                             std::span<const UserSequence> batch, const StepKey& key,
                             UnseenItemSampler* sampler);
};

class MfDeviceProgram {
 public:
  // InvalidArgument for the text item representations.
  static absl::StatusOr<std::unique_ptr<MfDeviceProgram>> Create(const MfBprOptions& o,
                                                                 TensorOps* ops);

  // The batch's summed loss (BPR and the l2 terms); adds the gradient of the
  // global tensors (item_emb, item_bias, dense, in the ops' memory) into
  // grads and of the batch's user rows (compact, users.size() x dim) into
  // user_grads. user_rows: the batch's user rows, compact, in the ops'
  // memory; params: item_emb, item_bias.
  absl::StatusOr<LossSum> LossAndGradients(const float* const* params, const float* user_rows,
                                           const MfExampleBatch& batch, float* const* grads,
                                           float* user_grads);

 private:
  MfDeviceProgram(const MfBprOptions& o, TensorOps* ops) : o_(o), ops_(ops) {}
  // table[ids[t]] += src[t] (rows of `width`) through a scatter plan.
  absl::Status Scatter(std::span<const uint32_t> ids, const float* src, size_t width, float* table);

  MfBprOptions o_;
  TensorOps* ops_;
  GrowingBuffer user_row_, items_, negatives_, ue_, pos_, neg_, bias_i_, bias_j_, valid_, loss_,
      dpos_, dneg_, l2_, due_, item_grads_, bias_grads_, plan_rows_, plan_offsets_, plan_positions_,
      sq_;
};

}  // namespace fedrec::kernels
