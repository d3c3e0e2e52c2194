// A ParameterStore's tensors in a TensorOps' memory: one parameter buffer
// and one gradient buffer per tensor, in store order, as
// SasRecDeviceProgram::LossAndGradients takes them. Move-only; not
// thread-safe (use it with its TensorOps, on one thread at a time).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/param_store.h"
#include "core/status.h"
#include "models/cuda/tensor_ops.h"

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

  const float* const* params() const { return params_.data(); }
  float* const* grads() const { return grads_.data(); }
  size_t num_tensors() const { return sizes_.size(); }

 private:
  std::vector<std::unique_ptr<OpsBuffer>> buffers_;
  std::vector<float*> param_slots_;   // where Load writes
  std::vector<const float*> params_;  // the same, as programs read them
  std::vector<float*> grads_;
  std::vector<size_t> sizes_;  // floats per tensor
};

}  // namespace fedrec::kernels
