// The CUDA backend as a plugin: libfedrec_cuda_plugin.so (models/cuda/
// cuda_plugin_entry.cc) holds CudaTensorOps and links cuBLAS and the CUDA
// runtime; fedrec loads it only when a run asks for backend.compute =
// "cuda". So the fedrec program and the Python module need no CUDA library
// to start (cuBLAS alone maps hundreds of MB), and one build runs on
// machines with and without a GPU.
//
// Where the plugin is looked for, first found wins:
//   1. $FEDREC_CUDA_PLUGIN (a path to the file);
//   2. the directory of the running program (build/apps/, gpu-bundle/bin/),
//      then <that>/../lib/fedrec/ (cmake --install puts it there);
//   3. the build tree that produced this binary (tests, the Python module);
//   4. the dynamic loader's own search path.
//
// Thread-safe; the plugin is loaded once and stays loaded.
#pragma once

#include <memory>

#include "core/status.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/tensor_ops.h"

namespace fedrec::kernels {

// A new CudaTensorOps from the plugin. FailedPrecondition naming
// backend.compute when the plugin cannot be loaded (the places tried and
// the loader's reason) or the device does not exist; the plugin's other
// errors as it returns them.
absl::StatusOr<std::unique_ptr<TensorOps>> NewPluginCudaTensorOps(
    const CudaTensorOpsOptions& options);

// The CUDA devices the process sees (0 without a GPU or driver), through the
// plugin; its load errors as above.
absl::StatusOr<int> PluginCudaDeviceCount();

}  // namespace fedrec::kernels
