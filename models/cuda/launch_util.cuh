// What every launch file of fedrec_cuda shares (layer_kernels.cu,
// cuda_tensor_ops.cu): the 1-D grid shape and CUDA errors as Status.
// Internal to models/cuda/; included by .cu files only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "core/status.h"

namespace fedrec::kernels::launch_internal {

inline constexpr unsigned kThreads = 256;

inline unsigned BlocksFor(size_t threads) {
  return static_cast<unsigned>((threads + kThreads - 1) / kThreads);
}

inline absl::Status CudaStatus(cudaError_t code, const char* what) {
  if (code == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(std::string("cuda: ") + what + ": " + cudaGetErrorString(code));
}

// The launch error of the kernel just enqueued, if any.
inline absl::Status AfterLaunch(const char* kernel) {
  return CudaStatus(cudaGetLastError(), kernel);
}

}  // namespace fedrec::kernels::launch_internal
