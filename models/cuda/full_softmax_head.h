// The full softmax of models/sequence_losses.h (cross-entropy over the whole
// catalogue, plain dot-product logits) on a TensorOps backend, for the
// device programs of SASRec and GRU4Rec: the loss and gradient of `rows`
// hidden states against their targets.
//
// The rows go in chunks, as many per chunk as keep its logits within
// `max_chunk_logits` floats; per chunk, three products and one row kernel:
//   logits = H_c E^T                       (rows_c x items)
//   FullSoftmaxRows: loss per row, logits := softmax - onehot(target)
//   dH_c += G E,   dE += G^T H_c           (every row of E is touched)
// Excluded items (the cold items the CPU model leaves out) take no part in
// any row's softmax and get no gradient. Every sum runs in a fixed order
// (the products' own, and the row kernel's lanes): a call repeats bitwise.
//
// Thread safety: one head per thread (it owns scratch in the ops' memory
// and calls into its TensorOps).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "models/cuda/growing_buffer.h"
#include "models/cuda/tensor_ops.h"

namespace fedrec::kernels {

class FullSoftmaxHead {
 public:
  // 2^26 floats: 256 MiB of logits per chunk, so that a batch of 128
  // windows of 200 positions over 25k items runs in 10 chunks of 2,684
  // rows, each product large enough to fill a GPU.
  static constexpr size_t kDefaultChunkLogits = size_t{1} << 26;

  explicit FullSoftmaxHead(TensorOps* ops, size_t max_chunk_logits = kDefaultChunkLogits);

  // h: rows x d hidden states; table: items x d (the scored table);
  // targets / valid: `rows` ids and flags (0 = padding) in the ops' memory;
  // excluded: the excluded items' ids on the host (any order). Returns the
  // `rows` per-row losses (0 in padding). When dh is not null, adds d loss
  // / dh into it and d loss / d table into dtable (items x d).
  absl::StatusOr<std::vector<float>> Run(const float* h, const float* table, size_t d, size_t items,
                                         size_t rows, const uint32_t* targets, const uint8_t* valid,
                                         std::span<const uint32_t> excluded, float* dh,
                                         float* dtable);

 private:
  TensorOps* ops_;
  size_t max_chunk_logits_;
  GrowingBuffer excluded_, logits_, loss_;
};

}  // namespace fedrec::kernels
