// A ParameterStore's tensors in a TensorOps' memory: one parameter buffer
// and one gradient buffer per tensor, in store order, as
// SasRecDeviceProgram::LossAndGradients takes them. Move-only; not
// thread-safe (use it with its TensorOps, on one thread at a time).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "core/param_store.h"
#include "core/status.h"
#include "models/cuda/growing_buffer.h"
#include "models/cuda/tensor_ops.h"
#include "models/gradients.h"

namespace fedrec::kernels {

class OpsTensors {
 public:
  // Buffers shaped like `store` (contents undefined until Load).
  static absl::StatusOr<OpsTensors> Allocate(TensorOps& ops, const ParameterStore& store);

  // Copies the store's current values in and zeroes every gradient. `store`
  // must have the layout Allocate saw.
  absl::Status Load(TensorOps& ops, const ParameterStore& store);
  // Tensor k's gradient into `host` (resized to the tensor's size).
  absl::Status FetchGradient(TensorOps& ops, size_t k, std::vector<float>* host) const;
  // Adds every tensor's gradient into `into` (the store's layout): dense
  // tensors whole; a sparse tensor k only in the rows touched[k] lists,
  // in that order, repeats ignored, each row marked before it is written
  // (so `into` sees the rows in the CPU models' first-touch order). Only
  // those rows leave the device (gathered into one transfer).
  absl::Status AddGradientsTo(TensorOps& ops, std::span<const std::vector<uint32_t>> touched,
                              Gradients* into);

  const float* const* params() const { return params_.data(); }
  float* const* grads() const { return grads_.data(); }
  size_t num_tensors() const { return sizes_.size(); }

 private:
  std::vector<std::unique_ptr<OpsBuffer>> buffers_;
  std::vector<float*> param_slots_;   // where Load writes
  std::vector<const float*> params_;  // the same, as programs read them
  std::vector<float*> grads_;
  std::vector<size_t> sizes_;  // floats per tensor
  // AddGradientsTo's scratch: the rows to gather and their values.
  GrowingBuffer row_ids_, row_values_;
  std::vector<float> host_;
  std::vector<uint32_t> unique_rows_;
  std::vector<uint8_t> seen_;
};

}  // namespace fedrec::kernels
