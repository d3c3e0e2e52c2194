// Flat parameter storage with named views.
//
// A ParameterStore holds every float tensor of a model (embeddings, weights,
// biases; each rows x cols, row-major) in ONE contiguous, 64-byte-aligned
// float buffer. Aggregation, clipping, encoding and the optimizers see the
// whole model as one span (Flat()); layers see their tensors through named
// views (View(name)).
//
// Lifecycle:
//   a) Build: Add(name, rows, cols) once per tensor, in a fixed order.
//   b) Finalize(): the buffer is allocated once, zero-initialised. Further
//      Add() calls fail with FailedPrecondition.
//   c) Use: View()/Flat() give access to the data.
//
// Invariants:
//   - The layout is the insertion order: tensor k starts at offset
//     sum_{j<k} rows_j * cols_j (in floats). No padding between tensors (only
//     the start of the buffer is aligned), so Flat() has exactly size()
//     floats. The layout is part of the checkpoint format and of the wire
//     format of aggregation: two stores built by the same Add() sequence are
//     compatible, element for element.
//   - Views stay valid for the lifetime of the store (the buffer never
//     reallocates after Finalize()); moving a store moves the buffer, so views
//     taken from the moved-from store remain valid and now refer into the
//     moved-to store. Copying a store copies the buffer (views of the copy
//     must be taken from the copy).
//   - Names are unique and non-empty; rows, cols >= 1.
//
// Thread safety: const methods may be called concurrently; writes through
// views to disjoint tensors or rows from different threads are fine; Add()
// and Finalize() are not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace fedrec {

// A mutable view of one rows x cols row-major tensor inside a store.
template <typename T>
struct BasicTensorView {
  T* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;

  size_t size() const { return rows * cols; }
  std::span<T> Flat() const { return {data, rows * cols}; }
  // Row i as a span of `cols` elements; i < rows (checked in debug builds).
  std::span<T> Row(size_t i) const;
  T& operator()(size_t r, size_t c) const { return data[r * cols + c]; }
};

using TensorView = BasicTensorView<float>;
using ConstTensorView = BasicTensorView<const float>;

// Where one tensor lives in the flat buffer.
struct TensorLayout {
  std::string name;
  size_t rows = 0;
  size_t cols = 0;
  size_t offset = 0;  // in floats, from the start of Flat()

  size_t size() const { return rows * cols; }
  bool operator==(const TensorLayout&) const = default;
};

class ParameterStore {
 public:
  static constexpr size_t kAlignment = 64;  // bytes

  ParameterStore() = default;
  ParameterStore(const ParameterStore& other);
  ParameterStore& operator=(const ParameterStore& other);
  ParameterStore(ParameterStore&&) noexcept = default;
  ParameterStore& operator=(ParameterStore&&) noexcept = default;
  ~ParameterStore() = default;

  // Declares a tensor. InvalidArgument for an empty or duplicate name or a
  // zero dimension; FailedPrecondition after Finalize().
  absl::Status Add(const std::string& name, size_t rows, size_t cols);

  // Allocates the zeroed buffer. Idempotent. A store with no tensors
  // finalizes to an empty buffer.
  void Finalize();
  bool finalized() const { return finalized_; }

  bool Has(const std::string& name) const { return index_.contains(name); }
  // Views by name; NotFound if the name is unknown, FailedPrecondition if the
  // store is not finalized.
  absl::StatusOr<TensorView> View(const std::string& name);
  absl::StatusOr<ConstTensorView> View(const std::string& name) const;
  // Views by position in the layout (k < num_tensors(); finalized store).
  TensorView ViewAt(size_t k);
  ConstTensorView ViewAt(size_t k) const;

  // The whole model as one span of size() floats (empty before Finalize()).
  std::span<float> Flat() { return {data_.get(), finalized_ ? size_ : 0}; }
  std::span<const float> Flat() const { return {data_.get(), finalized_ ? size_ : 0}; }

  // Layout in insertion order.
  const std::vector<TensorLayout>& layout() const { return layout_; }
  size_t num_tensors() const { return layout_.size(); }
  // Total number of floats.
  size_t size() const { return size_; }

  // True if both stores have the same layout (names, shapes, order).
  bool SameLayout(const ParameterStore& other) const { return layout_ == other.layout_; }
  // Same layout, same finalized state and bitwise-equal values.
  bool operator==(const ParameterStore& other) const;

  // Sets every parameter to zero.
  void SetZero();

 private:
  struct AlignedFree {
    void operator()(float* p) const;
  };
  static std::unique_ptr<float[], AlignedFree> Allocate(size_t n);

  std::vector<TensorLayout> layout_;
  std::unordered_map<std::string, size_t> index_;
  size_t size_ = 0;
  bool finalized_ = false;
  std::unique_ptr<float[], AlignedFree> data_;
};

template <typename T>
std::span<T> BasicTensorView<T>::Row(size_t i) const {
#ifndef NDEBUG
  if (i >= rows) __builtin_trap();
#endif
  return {data + i * cols, cols};
}

}  // namespace fedrec
