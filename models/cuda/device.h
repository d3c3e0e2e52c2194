// CUDA device discovery and cuBLAS handles, behind a plain C++ interface:
// this header includes no CUDA header, so rooms that use it compile with the
// host compiler alone. Built only when FEDREC_HAVE_CUDA (cmake/
// FedrecDependencies.cmake); code that needs it links fedrec_cuda.
//
// Errors: CUDA runtime and cuBLAS failures become absl::InternalError
// ("cuda: cudaMalloc: out of memory (device.cu:123)"); asking for a device
// that does not exist is FailedPrecondition; bad arguments InvalidArgument.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

// Opaque CUDA handle types (declared, not defined, here; identical to the
// definitions in cuda_runtime_api.h and cublas_api.h).
struct CUstream_st;
struct cublasContext;

namespace fedrec {

using CudaStream = CUstream_st*;  // a cudaStream_t; nullptr = the default stream

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_capability_major = 0;
  int compute_capability_minor = 0;
  uint64_t total_memory_bytes = 0;
  int multiprocessor_count = 0;

  std::string ComputeCapability() const {
    return std::to_string(compute_capability_major) + "." +
           std::to_string(compute_capability_minor);
  }
};

// The visible CUDA devices. An empty list (not an error) when the machine
// has no device or no (new enough) driver; InternalError for other failures.
absl::StatusOr<std::vector<CudaDeviceInfo>> QueryCudaDevices();

// Owns one cuBLAS handle bound to a device. Move-only; the handle is
// destroyed with the object. Not thread-safe: use one handle per host thread
// (cuBLAS's own recommendation).
class CublasHandle {
 public:
  // Selects `device` (cudaSetDevice) and creates the handle.
  // FailedPrecondition if the device does not exist.
  static absl::StatusOr<CublasHandle> Create(int device = 0);

  CublasHandle(CublasHandle&& other) noexcept;
  CublasHandle& operator=(CublasHandle&& other) noexcept;
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  ~CublasHandle();

  // Subsequent cuBLAS calls on this handle run on `stream`.
  absl::Status SetStream(CudaStream stream);

  cublasContext* get() const { return handle_; }  // a cublasHandle_t
  int device() const { return device_; }

 private:
  CublasHandle(cublasContext* handle, int device) : handle_(handle), device_(device) {}
  void Reset();

  cublasContext* handle_ = nullptr;
  int device_ = 0;
};

// Runs one n x n SGEMM (C = A * B, inputs uniform in [-1, 1) from a fixed
// counter-based stream) on `device` with cuBLAS and compares every element
// with a CPU double-precision reference under the standard forward error
// bound |c - ref| <= 2 n eps sum_k |a_ik b_kj|. InvalidArgument for n <= 0;
// FailedPrecondition if there is no such device; InternalError on a CUDA
// failure or a mismatch (with the worst element in the message).
absl::Status CudaSgemmCheck(int n, int device = 0);

}  // namespace fedrec
