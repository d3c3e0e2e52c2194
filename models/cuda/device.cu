#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cfloat>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "models/cuda/device.h"

namespace fedrec {
namespace {

// Converts CUDA runtime / cuBLAS error codes at the boundary, with the call
// and the source line (the NCCLCHECK idea, as a Status).
absl::Status CudaError(cudaError_t code, const char* call, int line) {
  return absl::InternalError(std::string("cuda: ") + call + ": " + cudaGetErrorString(code) +
                             " (device.cu:" + std::to_string(line) + ")");
}
absl::Status CublasError(cublasStatus_t code, const char* call, int line) {
  return absl::InternalError(std::string("cublas: ") + call + ": " + cublasGetStatusString(code) +
                             " (device.cu:" + std::to_string(line) + ")");
}

#define FEDREC_CUDA_RETURN_IF_ERROR(call)                   \
  do {                                                      \
    const cudaError_t fedrec_cuda_code_ = (call);           \
    if (fedrec_cuda_code_ != cudaSuccess) {                 \
      return CudaError(fedrec_cuda_code_, #call, __LINE__); \
    }                                                       \
  } while (0)

#define FEDREC_CUBLAS_RETURN_IF_ERROR(call)                     \
  do {                                                          \
    const cublasStatus_t fedrec_cublas_code_ = (call);          \
    if (fedrec_cublas_code_ != CUBLAS_STATUS_SUCCESS) {         \
      return CublasError(fedrec_cublas_code_, #call, __LINE__); \
    }                                                           \
  } while (0)

absl::Status CheckDevice(int device) {
  FEDREC_ASSIGN_OR_RETURN(std::vector<CudaDeviceInfo> devices, QueryCudaDevices());
  if (device < 0 || device >= static_cast<int>(devices.size())) {
    return absl::FailedPreconditionError("cuda: no CUDA device " + std::to_string(device) + " (" +
                                         std::to_string(devices.size()) + " visible)");
  }
  return absl::OkStatus();
}

// Device memory freed on scope exit.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  absl::Status Allocate(size_t floats) {
    FEDREC_CUDA_RETURN_IF_ERROR(
        cudaMalloc(reinterpret_cast<void**>(&ptr_), floats * sizeof(float)));
    return absl::OkStatus();
  }
  float* get() const { return ptr_; }

 private:
  float* ptr_ = nullptr;
};

}  // namespace

absl::StatusOr<std::vector<CudaDeviceInfo>> QueryCudaDevices() {
  int count = 0;
  const cudaError_t code = cudaGetDeviceCount(&count);
  if (code == cudaErrorNoDevice || code == cudaErrorInsufficientDriver) {
    cudaGetLastError();  // clear the (non-sticky) error
    return std::vector<CudaDeviceInfo>{};
  }
  if (code != cudaSuccess) return CudaError(code, "cudaGetDeviceCount", __LINE__);
  std::vector<CudaDeviceInfo> devices;
  devices.reserve(count);
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    FEDREC_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, i));
    CudaDeviceInfo info;
    info.index = i;
    info.name = prop.name;
    info.compute_capability_major = prop.major;
    info.compute_capability_minor = prop.minor;
    info.total_memory_bytes = prop.totalGlobalMem;
    info.multiprocessor_count = prop.multiProcessorCount;
    devices.push_back(std::move(info));
  }
  return devices;
}

absl::StatusOr<CublasHandle> CublasHandle::Create(int device) {
  FEDREC_RETURN_IF_ERROR(CheckDevice(device));
  FEDREC_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  cublasHandle_t handle = nullptr;
  FEDREC_CUBLAS_RETURN_IF_ERROR(cublasCreate(&handle));
  return CublasHandle(handle, device);
}

CublasHandle::CublasHandle(CublasHandle&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)), device_(other.device_) {}

CublasHandle& CublasHandle::operator=(CublasHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    handle_ = std::exchange(other.handle_, nullptr);
    device_ = other.device_;
  }
  return *this;
}

CublasHandle::~CublasHandle() { Reset(); }

void CublasHandle::Reset() {
  if (handle_ != nullptr) {
    cublasDestroy(handle_);
    handle_ = nullptr;
  }
}

absl::Status CublasHandle::SetStream(CudaStream stream) {
  if (handle_ == nullptr) return absl::FailedPreconditionError("cublas: handle was moved from");
  FEDREC_CUBLAS_RETURN_IF_ERROR(cublasSetStream(handle_, stream));
  return absl::OkStatus();
}

absl::Status CudaSgemmCheck(int n, int device) {
  if (n <= 0) return absl::InvalidArgumentError("CudaSgemmCheck: n must be > 0");
  FEDREC_ASSIGN_OR_RETURN(CublasHandle handle, CublasHandle::Create(device));
  // FP32 all the way: no TF32 tensor-core shortcuts, so the error bound holds.
  FEDREC_CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(handle.get(), CUBLAS_PEDANTIC_MATH));

  const size_t nn = static_cast<size_t>(n) * n;
  std::vector<float> a(nn), b(nn), c(nn);
  RandomStream stream(StreamKey{.seed = 1, .purpose = "cuda_sgemm_check"});
  for (float& x : a) x = 2.0f * stream.NextFloat() - 1.0f;
  for (float& x : b) x = 2.0f * stream.NextFloat() - 1.0f;

  DeviceBuffer da, db, dc;
  FEDREC_RETURN_IF_ERROR(da.Allocate(nn));
  FEDREC_RETURN_IF_ERROR(db.Allocate(nn));
  FEDREC_RETURN_IF_ERROR(dc.Allocate(nn));
  FEDREC_CUDA_RETURN_IF_ERROR(
      cudaMemcpy(da.get(), a.data(), nn * sizeof(float), cudaMemcpyHostToDevice));
  FEDREC_CUDA_RETURN_IF_ERROR(
      cudaMemcpy(db.get(), b.data(), nn * sizeof(float), cudaMemcpyHostToDevice));
  const float alpha = 1.0f, beta = 0.0f;
  // cuBLAS is column-major: element (i, j) of an n x n matrix is at [i + j n].
  FEDREC_CUBLAS_RETURN_IF_ERROR(cublasSgemm(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha,
                                            da.get(), n, db.get(), n, &beta, dc.get(), n));
  FEDREC_CUDA_RETURN_IF_ERROR(
      cudaMemcpy(c.data(), dc.get(), nn * sizeof(float), cudaMemcpyDeviceToHost));

  double worst_ratio = 0;
  int worst_i = 0, worst_j = 0;
  double worst_ref = 0, worst_got = 0;
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      double ref = 0, magnitude = 0;
      for (int k = 0; k < n; ++k) {
        const double p = static_cast<double>(a[i + static_cast<size_t>(k) * n]) *
                         b[k + static_cast<size_t>(j) * n];
        ref += p;
        magnitude += std::fabs(p);
      }
      const double bound = 2.0 * n * FLT_EPSILON * magnitude + FLT_MIN;
      const double got = c[i + static_cast<size_t>(j) * n];
      const double ratio = std::fabs(got - ref) / bound;
      if (!(ratio <= worst_ratio)) {  // also catches NaN
        worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
        worst_i = i;
        worst_j = j;
        worst_ref = ref;
        worst_got = got;
      }
    }
  }
  if (worst_ratio > 1.0) {
    return absl::InternalError("cuda: SGEMM check failed for n=" + std::to_string(n) + ": C(" +
                               std::to_string(worst_i) + ", " + std::to_string(worst_j) +
                               ") = " + std::to_string(worst_got) + ", CPU reference " +
                               std::to_string(worst_ref));
  }
  return absl::OkStatus();
}

}  // namespace fedrec
