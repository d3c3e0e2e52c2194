// What every launch file of fedrec_cuda shares (layer_kernels.cu,
// cuda_tensor_ops.cu, sequence_kernels.cu): the 1-D grid shape and CUDA
// errors as Status.
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

// Declares thread index i of a 1-D grid and returns the threads past n.
#define FEDREC_GRID_INDEX(i, n)                                                \
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; \
  if (i >= (n)) return

// The launch error of the kernel just enqueued, if any.
inline absl::Status AfterLaunch(const char* kernel) {
  return CudaStatus(cudaGetLastError(), kernel);
}

}  // namespace fedrec::kernels::launch_internal
