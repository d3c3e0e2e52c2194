// TensorOps on a CUDA device (tensor_ops.h): cuBLAS for the products, the
// kernels of layer_kernels.h and element-wise kernels, all on one stream of
// its own. Plain C++ header (no CUDA include). Built only with
// FEDREC_HAVE_CUDA; link fedrec_cuda.
#pragma once

#include <memory>

#include "core/status.h"
#include "models/cuda/tensor_ops.h"

namespace fedrec::kernels {

struct CudaTensorOpsOptions {
  int device = 0;
  // TF32 tensor cores for the products (about 10 mantissa bits per input):
  // faster, and no longer within float rounding of the CPU model. Off unless
  // the configuration asks for it.
  bool allow_tf32 = false;
};

// FailedPrecondition when the device does not exist; InternalError for a
// CUDA or cuBLAS failure.
absl::StatusOr<std::unique_ptr<TensorOps>> NewCudaTensorOps(const CudaTensorOpsOptions& options);

}  // namespace fedrec::kernels
