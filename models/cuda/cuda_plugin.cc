#include "models/cuda/cuda_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace fedrec::kernels {
namespace {

constexpr char kPluginFile[] = "libfedrec_cuda_plugin.so";

using NewOpsFn = int (*)(int device, int allow_tf32, void** ops, char* message,
                         size_t message_size);

// The directory of the running program, with a trailing '/', or "".
std::string ProgramDirectory() {
  std::vector<char> path(4096);
  const ssize_t n = readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (n <= 0) return "";
  const std::string exe(path.data(), static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "" : exe.substr(0, slash + 1);
}

using DeviceCountFn = int (*)();

struct Plugin {
  NewOpsFn new_ops = nullptr;
  DeviceCountFn device_count = nullptr;
  absl::Status status;
};

const Plugin& LoadPlugin() {
  static Plugin plugin;
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("FEDREC_CUDA_PLUGIN"); env != nullptr && *env != '\0') {
      candidates.emplace_back(env);
    }
    if (const std::string dir = ProgramDirectory(); !dir.empty()) {
      candidates.push_back(dir + kPluginFile);
      candidates.push_back(dir + "../lib/fedrec/" + kPluginFile);  // an installed fedrec
    }
#ifdef FEDREC_CUDA_PLUGIN_BUILD_PATH
    candidates.emplace_back(FEDREC_CUDA_PLUGIN_BUILD_PATH);
#endif
    candidates.emplace_back(kPluginFile);
    std::string tried, reason;
    for (const std::string& candidate : candidates) {
      void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        const char* why = dlerror();
        tried += (tried.empty() ? "" : ", ") + candidate;
        // The first reason that is not "no such file" says most (e.g. a
        // missing libcublas next to a plugin that is there).
        if (why != nullptr &&
            (reason.empty() || reason.find("No such file") != std::string::npos)) {
          reason = why;
        }
        continue;
      }
      plugin.new_ops =
          reinterpret_cast<NewOpsFn>(dlsym(handle, "fedrec_cuda_plugin_new_tensor_ops"));
      plugin.device_count =
          reinterpret_cast<DeviceCountFn>(dlsym(handle, "fedrec_cuda_plugin_device_count"));
      if (plugin.new_ops == nullptr || plugin.device_count == nullptr) {
        plugin.status = absl::FailedPreconditionError("backend.compute: 'cuda': " + candidate +
                                                      " is not a fedrec CUDA plugin");
      }
      return;
    }
    plugin.status = absl::FailedPreconditionError(
        "backend.compute: 'cuda': cannot load the CUDA plugin (" + EscapeForMessage(reason) +
        "; tried " + tried +
        "); build fedrec with the CUDA toolkit, or set FEDREC_CUDA_PLUGIN to the plugin's path");
  });
  return plugin;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TensorOps>> NewPluginCudaTensorOps(
    const CudaTensorOpsOptions& options) {
  const Plugin& plugin = LoadPlugin();
  FEDREC_RETURN_IF_ERROR(plugin.status);
  void* ops = nullptr;
  char message[512] = {0};
  const int code =
      plugin.new_ops(options.device, options.allow_tf32 ? 1 : 0, &ops, message, sizeof(message));
  if (code != 0) {
    const std::string text = std::string("backend.compute: 'cuda': ") + message;
    if (code == static_cast<int>(absl::StatusCode::kFailedPrecondition)) {
      return absl::FailedPreconditionError(text);
    }
    return absl::Status(static_cast<absl::StatusCode>(code), text);
  }
  return std::unique_ptr<TensorOps>(static_cast<TensorOps*>(ops));
}

}  // namespace fedrec::kernels

namespace fedrec::kernels {

absl::StatusOr<int> PluginCudaDeviceCount() {
  const Plugin& plugin = LoadPlugin();
  FEDREC_RETURN_IF_ERROR(plugin.status);
  const int count = plugin.device_count();
  if (count < 0) return absl::InternalError("backend.compute: 'cuda': cudaGetDeviceCount failed");
  return count;
}

}  // namespace fedrec::kernels
