// A buffer in a TensorOps' memory that grows to the largest size asked for
// and is reused after that: the scratch of the device programs, whose steps
// have the same shapes call after call. Not thread-safe (one owner, used
// with its TensorOps).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>

#include "core/status.h"
#include "models/cuda/tensor_ops.h"

namespace fedrec::kernels {

class GrowingBuffer {
 public:
  // At least `bytes` of uninitialised memory (the contents of a smaller
  // earlier reservation are kept only when no growth was needed).
  absl::StatusOr<void*> Reserve(TensorOps& ops, size_t bytes) {
    if (buffer_ == nullptr || bytes > bytes_) {
      FEDREC_ASSIGN_OR_RETURN(buffer_, ops.Allocate(std::max<size_t>(bytes, 16)));
      bytes_ = bytes;
    }
    return buffer_->data();
  }
  // Room for `count` values of T.
  template <typename T>
  absl::StatusOr<T*> Get(TensorOps& ops, size_t count) {
    FEDREC_ASSIGN_OR_RETURN(void* p, Reserve(ops, count * sizeof(T)));
    return static_cast<T*>(p);
  }
  // `host` copied in.
  template <typename T>
  absl::StatusOr<T*> Put(TensorOps& ops, std::span<const T> host) {
    FEDREC_ASSIGN_OR_RETURN(void* p, Reserve(ops, host.size_bytes()));
    FEDREC_RETURN_IF_ERROR(ops.Upload(p, host.data(), host.size_bytes()));
    return static_cast<T*>(p);
  }

 private:
  std::unique_ptr<OpsBuffer> buffer_;
  size_t bytes_ = 0;
};

}  // namespace fedrec::kernels
