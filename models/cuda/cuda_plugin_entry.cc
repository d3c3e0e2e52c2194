// The entry point of libfedrec_cuda_plugin.so (cuda_plugin.h): a C function,
// so that the loader finds it by a plain name. The TensorOps it returns is
// owned by the caller (deleted through its virtual destructor, which lives
// here).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/device.h"

extern "C" __attribute__((visibility("default"))) int fedrec_cuda_plugin_new_tensor_ops(
    int device, int allow_tf32, void** ops, char* message, size_t message_size) {
  absl::StatusOr<std::unique_ptr<fedrec::kernels::TensorOps>> made =
      fedrec::kernels::NewCudaTensorOps({.device = device, .allow_tf32 = allow_tf32 != 0});
  if (made.ok()) {
    *ops = made->release();
    return 0;
  }
  const std::string text(made.status().message());
  const size_t n = std::min(text.size(), message_size > 0 ? message_size - 1 : 0);
  if (message_size > 0) {
    std::memcpy(message, text.data(), n);
    message[n] = '\0';
  }
  return static_cast<int>(made.status().code());
}

// The number of CUDA devices visible, or -1 when the runtime fails.
extern "C" __attribute__((visibility("default"))) int fedrec_cuda_plugin_device_count() {
  absl::StatusOr<std::vector<fedrec::CudaDeviceInfo>> devices = fedrec::QueryCudaDevices();
  return devices.ok() ? static_cast<int>(devices->size()) : -1;
}
