// Gradient buffers shaped like a model's ParameterStore, with sparse-row
// bookkeeping for embedding tables.
//
// Invariants:
//   - values() has exactly the layout of the parameters it was built from.
//   - For a tensor marked sparse, only rows listed in TouchedRows() may be
//     non-zero; every writer of such a row calls MarkRow() first. Dense
//     tensors are always fully valid.
//   - Clear() restores all-zero in O(touched rows + dense size), so a
//     client's step over a 100k-item catalogue costs nothing per untouched
//     item row.
// Not thread-safe: each thread accumulates into its own Gradients and the
// caller reduces them in a fixed order (AddFrom) for thread-count-independent
// results.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/param_store.h"

namespace fedrec {

class Gradients {
 public:
  Gradients() = default;
  // `sparse[k]` says whether tensor k of `layout` is an embedding table with
  // row-sparse gradients. The buffer starts at zero.
  Gradients(const ParameterStore& layout, std::vector<bool> sparse);

  ParameterStore& values() { return values_; }
  const ParameterStore& values() const { return values_; }
  TensorView View(size_t tensor) { return values_.ViewAt(tensor); }

  bool IsSparse(size_t tensor) const { return sparse_[tensor]; }
  // Records that `row` of sparse tensor `tensor` may become non-zero.
  void MarkRow(size_t tensor, uint32_t row) {
    if (!row_marked_[tensor][row]) {
      row_marked_[tensor][row] = 1;
      touched_[tensor].push_back(row);
    }
  }
  // Rows of a sparse tensor touched since the last Clear(), in first-touch
  // order (deterministic for a deterministic writer).
  const std::vector<uint32_t>& TouchedRows(size_t tensor) const { return touched_[tensor]; }

  // Zeroes everything that may be non-zero and forgets the touched rows.
  void Clear();
  // this += other (same layout); touched rows of `other` are merged in
  // other's order.
  void AddFrom(const Gradients& other);
  // this *= factor over every valid entry.
  void Scale(float factor);
  // Squared L2 norm over every valid entry (double accumulation in four
  // interleaved sums, a fixed order: tensors in layout order, sparse rows in
  // touched order).
  double SquaredNorm() const;

 private:
  ParameterStore values_;
  std::vector<bool> sparse_;
  std::vector<std::vector<uint32_t>> touched_;
  std::vector<std::vector<uint8_t>> row_marked_;  // per sparse tensor, per row
};

}  // namespace fedrec
