// Launch wrappers for the non-GEMM SASRec layer kernels of
// models/cuda/layer_kernels.h, behind a plain C++ interface (no CUDA header:
// code that calls them compiles with the host compiler alone), and a small
// RAII device array for their buffers. Built only when FEDREC_HAVE_CUDA;
// link fedrec_cuda.
//
// Every Launch* takes DEVICE pointers, enqueues its kernel(s) on `stream`
// (nullptr = the default stream) and returns without waiting; one thread
// runs one body of layer_kernels.h (one row, column, slot or mask range), so
// results do not depend on the launch configuration. Sizes of 0 launch
// nothing. Errors: InvalidArgument for a null pointer that is required or a
// zero width; InternalError for a CUDA failure reported at launch
// ("cuda: <kernel>: <reason>"). Faults inside a kernel surface at the next
// synchronising call (DeviceArray::CopyTo). Float only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "core/philox.h"
#include "core/status.h"
#include "models/cuda/device.h"
#include "models/cuda/layer_kernels.h"

namespace fedrec::kernels {

namespace cuda_internal {
// cudaMalloc / cudaFree / cudaMemcpy (synchronous) as Status.
absl::Status DeviceAllocate(size_t bytes, void** ptr);
void DeviceFree(void* ptr);
absl::Status CopyToDevice(void* dst, const void* src, size_t bytes);
absl::Status CopyToHost(void* dst, const void* src, size_t bytes);
}  // namespace cuda_internal

// n elements of T in device memory, freed with the object. Move-only; not
// thread-safe. Copies are synchronous (they wait for the device, which is
// where asynchronous kernel faults are reported).
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  static absl::StatusOr<DeviceArray> Create(size_t n) {
    DeviceArray a;
    if (n > 0) {
      void* p = nullptr;
      FEDREC_RETURN_IF_ERROR(cuda_internal::DeviceAllocate(n * sizeof(T), &p));
      a.ptr_ = static_cast<T*>(p);
    }
    a.size_ = n;
    return a;
  }
  static absl::StatusOr<DeviceArray> FromHost(std::span<const T> host) {
    FEDREC_ASSIGN_OR_RETURN(DeviceArray a, Create(host.size()));
    FEDREC_RETURN_IF_ERROR(a.CopyFrom(host));
    return a;
  }
  DeviceArray(DeviceArray&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      cuda_internal::DeviceFree(ptr_);
      ptr_ = std::exchange(o.ptr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cuda_internal::DeviceFree(ptr_); }

  // host.size() must equal size() (else InvalidArgument).
  absl::Status CopyFrom(std::span<const T> host) {
    if (host.size() != size_) return absl::InvalidArgumentError("DeviceArray: size mismatch");
    return cuda_internal::CopyToDevice(ptr_, host.data(), size_ * sizeof(T));
  }
  absl::Status CopyTo(std::span<T> host) const {
    if (host.size() != size_) return absl::InvalidArgumentError("DeviceArray: size mismatch");
    return cuda_internal::CopyToHost(host.data(), ptr_, size_ * sizeof(T));
  }

  T* get() const { return ptr_; }
  size_t size() const { return size_; }

 private:
  T* ptr_ = nullptr;
  size_t size_ = 0;
};

// A ScatterPlan (layer_kernels.h) in device memory.
struct DeviceScatterPlan {
  DeviceArray<uint32_t> rows, offsets, positions;
  size_t slots() const { return rows.size(); }
  static absl::StatusOr<DeviceScatterPlan> FromHost(const ScatterPlan& plan);
};

// LayerNormForwardRow over `rows` rows of width d (row-major); y may alias x.
absl::Status LaunchLayerNormForward(const float* x, const float* gamma, const float* beta,
                                    size_t rows, size_t d, float* xhat, float* rstd, float* y,
                                    CudaStream stream);

// LayerNormBackwardRow per row (dx +=) and LayerNormParamGradColumn per
// column (dgamma +=, dbeta +=); dx must not alias dy.
absl::Status LaunchLayerNormBackward(const float* xhat, const float* rstd, const float* gamma,
                                     const float* dy, size_t rows, size_t d, float* dx,
                                     float* dgamma, float* dbeta, CudaStream stream);

// CausalSoftmaxForwardRow over `windows` len x len score matrices (one per
// sequence and head, contiguous); window w's first first[w] slots are
// padding (first == nullptr: none). p may alias scores.
absl::Status LaunchCausalSoftmaxForward(const float* scores, size_t windows, size_t len,
                                        const uint32_t* first, float scale, float* p,
                                        CudaStream stream);

// CausalSoftmaxBackwardRow over the same layout; mask (same layout) may be
// null (no dropout); ds may alias dpd.
absl::Status LaunchCausalSoftmaxBackward(const float* p, const float* dpd, const float* mask,
                                         size_t windows, size_t len, const uint32_t* first,
                                         float scale, float* ds, CudaStream stream);

// mask[0..n) = layers::FillDropoutMask's mask from the stream at word
// first_word (eight entries per thread). rate in [0, 1).
absl::Status LaunchDropoutMask(const PhiloxStream& stream_key, uint64_t first_word, double rate,
                               size_t n, float* mask, CudaStream stream);

// The attention dropout masks of `heads` heads over `len` valid positions
// (DropoutTriangleRow): row i of head h at mask + (h len + i) stride, its
// first i + 1 entries (the rest are not written). stride >= len.
absl::Status LaunchDropoutTriangle(const PhiloxStream& stream_key, uint64_t first_word, double rate,
                                   size_t heads, size_t len, size_t stride, float* mask,
                                   CudaStream stream);

// EmbeddingGatherRow per position: out[t] = scale table[ids[t]] (zeros for
// kNoItem). ids are not range-checked on the device: the caller's contract.
absl::Status LaunchEmbeddingGather(const float* table, size_t d, const uint32_t* ids, size_t n,
                                   float scale, float* out, CudaStream stream);

// ScatterAddSlot per slot of a plan whose rows / offsets / positions are
// in device memory (`slots` entries in rows): dtable[row] += scale dout[t].
absl::Status LaunchScatterAdd(const uint32_t* rows, const uint32_t* offsets,
                              const uint32_t* positions, size_t slots, const float* dout, size_t d,
                              float scale, float* dtable, CudaStream stream);

// The same for a DeviceScatterPlan.
absl::Status LaunchScatterAdd(const DeviceScatterPlan& plan, const float* dout, size_t d,
                              float scale, float* dtable, CudaStream stream);

// BcePosition per position: loss[t], dpos[t], dneg[t]; valid[t] == 0 marks
// padding.
absl::Status LaunchBceLoss(const float* pos_logits, const float* neg_logits, const uint8_t* valid,
                           size_t n, float* loss, float* dpos, float* dneg, CudaStream stream);

}  // namespace fedrec::kernels
