// The kernels behind models/cuda/layer_kernels_api.h: each one calls one
// body of models/cuda/layer_kernels.h per thread, on a 1-D grid.
#include <cuda_runtime_api.h>

#include <string>

#include "models/cuda/launch_util.cuh"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/layer_kernels_api.h"

namespace fedrec::kernels {
namespace {

using launch_internal::AfterLaunch;
using launch_internal::BlocksFor;
using launch_internal::CudaStatus;
using launch_internal::kThreads;

absl::Status Require(bool ok, const char* what) {
  return ok ? absl::OkStatus() : absl::InvalidArgumentError(std::string("cuda kernels: ") + what);
}

__global__ void LayerNormForwardKernel(const float* x, const float* gamma, const float* beta,
                                       size_t rows, size_t d, float* xhat, float* rstd, float* y) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= rows) return;
  LayerNormForwardRow<float>(x + i * d, gamma, beta, d, xhat + i * d, rstd + i, y + i * d);
}

__global__ void LayerNormBackwardKernel(const float* xhat, const float* rstd, const float* gamma,
                                        const float* dy, size_t rows, size_t d, float* dx) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= rows) return;
  LayerNormBackwardRow<float>(xhat + i * d, rstd[i], gamma, dy + i * d, d, dx + i * d);
}

__global__ void LayerNormParamGradKernel(const float* xhat, const float* dy, size_t rows, size_t d,
                                         float* dgamma, float* dbeta) {
  const size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (j >= d) return;
  LayerNormParamGradColumn<float>(xhat, dy, rows, d, j, dgamma, dbeta);
}

__global__ void SoftmaxForwardKernel(const float* scores, size_t windows, size_t len,
                                     const uint32_t* first, float scale, float* p) {
  const size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (r >= windows * len) return;
  const size_t w = r / len, i = r % len;
  CausalSoftmaxForwardRow<float>(scores + r * len, len, first != nullptr ? first[w] : 0, i, scale,
                                 p + r * len);
}

__global__ void SoftmaxBackwardKernel(const float* p, const float* dpd, const float* mask,
                                      size_t windows, size_t len, const uint32_t* first,
                                      float scale, float* ds) {
  const size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (r >= windows * len) return;
  const size_t w = r / len, i = r % len;
  CausalSoftmaxBackwardRow<float>(p + r * len, dpd + r * len,
                                  mask != nullptr ? mask + r * len : nullptr, len,
                                  first != nullptr ? first[w] : 0, i, scale, ds + r * len);
}

constexpr size_t kMaskEntriesPerThread = 8;

__global__ void DropoutMaskKernel(PhiloxStream key, uint64_t first_word, uint32_t threshold,
                                  float keep, size_t n, float* mask) {
  const size_t t = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t begin = t * kMaskEntriesPerThread;
  if (begin >= n) return;
  const size_t end = begin + kMaskEntriesPerThread < n ? begin + kMaskEntriesPerThread : n;
  DropoutMaskRange<float>(key, first_word, threshold, keep, begin, end, mask + begin);
}

__global__ void DropoutTriangleKernel(PhiloxStream key, uint64_t first_word, uint32_t threshold,
                                      float keep, size_t heads, size_t len, size_t stride,
                                      float* mask) {
  const size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (r >= heads * len) return;
  DropoutTriangleRow<float>(key, first_word, threshold, keep, len, r / len, r % len,
                            mask + r * stride);
}

__global__ void EmbeddingGatherKernel(const float* table, size_t d, const uint32_t* ids, size_t n,
                                      float scale, float* out) {
  const size_t t = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (t >= n) return;
  EmbeddingGatherRow<float>(table, d, ids[t], scale, out + t * d);
}

__global__ void ScatterAddKernel(const uint32_t* rows, const uint32_t* offsets,
                                 const uint32_t* positions, size_t slots, const float* dout,
                                 size_t d, float scale, float* dtable) {
  const size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (k >= slots) return;
  ScatterAddSlot<float>(rows, offsets, positions, k, dout, d, scale, dtable);
}

__global__ void BceLossKernel(const float* pos_logits, const float* neg_logits,
                              const uint8_t* valid, size_t n, float* loss, float* dpos,
                              float* dneg) {
  const size_t t = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (t >= n) return;
  loss[t] = BcePosition<float>(pos_logits[t], neg_logits[t], valid[t] != 0, dpos + t, dneg + t);
}

}  // namespace

namespace cuda_internal {

absl::Status DeviceAllocate(size_t bytes, void** ptr) {
  return CudaStatus(cudaMalloc(ptr, bytes), "cudaMalloc");
}

void DeviceFree(void* ptr) {
  if (ptr != nullptr) cudaFree(ptr);
}

absl::Status CopyToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  return CudaStatus(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
}

absl::Status CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  return CudaStatus(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

}  // namespace cuda_internal

absl::StatusOr<DeviceScatterPlan> DeviceScatterPlan::FromHost(const ScatterPlan& plan) {
  DeviceScatterPlan d;
  FEDREC_ASSIGN_OR_RETURN(d.rows, DeviceArray<uint32_t>::FromHost(plan.rows));
  FEDREC_ASSIGN_OR_RETURN(d.offsets, DeviceArray<uint32_t>::FromHost(plan.offsets));
  FEDREC_ASSIGN_OR_RETURN(d.positions, DeviceArray<uint32_t>::FromHost(plan.positions));
  return d;
}

absl::Status LaunchLayerNormForward(const float* x, const float* gamma, const float* beta,
                                    size_t rows, size_t d, float* xhat, float* rstd, float* y,
                                    CudaStream stream) {
  FEDREC_RETURN_IF_ERROR(Require(d > 0, "layer norm: width 0"));
  if (rows == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(Require(x && gamma && beta && xhat && rstd && y, "layer norm: null"));
  LayerNormForwardKernel<<<BlocksFor(rows), kThreads, 0, stream>>>(x, gamma, beta, rows, d, xhat,
                                                                   rstd, y);
  return AfterLaunch("LayerNormForwardKernel");
}

absl::Status LaunchLayerNormBackward(const float* xhat, const float* rstd, const float* gamma,
                                     const float* dy, size_t rows, size_t d, float* dx,
                                     float* dgamma, float* dbeta, CudaStream stream) {
  FEDREC_RETURN_IF_ERROR(Require(d > 0, "layer norm backward: width 0"));
  if (rows == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(
      Require(xhat && rstd && gamma && dy && dx && dgamma && dbeta, "layer norm backward: null"));
  LayerNormBackwardKernel<<<BlocksFor(rows), kThreads, 0, stream>>>(xhat, rstd, gamma, dy, rows, d,
                                                                    dx);
  FEDREC_RETURN_IF_ERROR(AfterLaunch("LayerNormBackwardKernel"));
  LayerNormParamGradKernel<<<BlocksFor(d), kThreads, 0, stream>>>(xhat, dy, rows, d, dgamma, dbeta);
  return AfterLaunch("LayerNormParamGradKernel");
}

absl::Status LaunchCausalSoftmaxForward(const float* scores, size_t windows, size_t len,
                                        const uint32_t* first, float scale, float* p,
                                        CudaStream stream) {
  if (windows == 0 || len == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(Require(scores && p, "softmax: null"));
  SoftmaxForwardKernel<<<BlocksFor(windows * len), kThreads, 0, stream>>>(scores, windows, len,
                                                                          first, scale, p);
  return AfterLaunch("SoftmaxForwardKernel");
}

absl::Status LaunchCausalSoftmaxBackward(const float* p, const float* dpd, const float* mask,
                                         size_t windows, size_t len, const uint32_t* first,
                                         float scale, float* ds, CudaStream stream) {
  if (windows == 0 || len == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(Require(p && dpd && ds, "softmax backward: null"));
  SoftmaxBackwardKernel<<<BlocksFor(windows * len), kThreads, 0, stream>>>(p, dpd, mask, windows,
                                                                           len, first, scale, ds);
  return AfterLaunch("SoftmaxBackwardKernel");
}

absl::Status LaunchDropoutMask(const PhiloxStream& stream_key, uint64_t first_word, double rate,
                               size_t n, float* mask, CudaStream stream) {
  FEDREC_RETURN_IF_ERROR(Require(rate >= 0 && rate < 1, "dropout: rate outside [0, 1)"));
  if (n == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(Require(mask != nullptr, "dropout: null"));
  const size_t threads = (n + kMaskEntriesPerThread - 1) / kMaskEntriesPerThread;
  DropoutMaskKernel<<<BlocksFor(threads), kThreads, 0, stream>>>(
      stream_key, first_word, DropoutThresholdFor(rate), 1.0f / static_cast<float>(1 - rate), n,
      mask);
  return AfterLaunch("DropoutMaskKernel");
}

absl::Status LaunchDropoutTriangle(const PhiloxStream& stream_key, uint64_t first_word, double rate,
                                   size_t heads, size_t len, size_t stride, float* mask,
                                   CudaStream stream) {
  FEDREC_RETURN_IF_ERROR(Require(rate >= 0 && rate < 1, "dropout: rate outside [0, 1)"));
  FEDREC_RETURN_IF_ERROR(Require(stride >= len, "dropout triangle: stride < len"));
  if (heads == 0 || len == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(Require(mask != nullptr, "dropout triangle: null"));
  DropoutTriangleKernel<<<BlocksFor(heads * len), kThreads, 0, stream>>>(
      stream_key, first_word, DropoutThresholdFor(rate), 1.0f / static_cast<float>(1 - rate), heads,
      len, stride, mask);
  return AfterLaunch("DropoutTriangleKernel");
}

absl::Status LaunchEmbeddingGather(const float* table, size_t d, const uint32_t* ids, size_t n,
                                   float scale, float* out, CudaStream stream) {
  FEDREC_RETURN_IF_ERROR(Require(d > 0, "gather: width 0"));
  if (n == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(Require(table && ids && out, "gather: null"));
  EmbeddingGatherKernel<<<BlocksFor(n), kThreads, 0, stream>>>(table, d, ids, n, scale, out);
  return AfterLaunch("EmbeddingGatherKernel");
}

absl::Status LaunchScatterAdd(const uint32_t* rows, const uint32_t* offsets,
                              const uint32_t* positions, size_t slots, const float* dout, size_t d,
                              float scale, float* dtable, CudaStream stream) {
  FEDREC_RETURN_IF_ERROR(Require(d > 0, "scatter-add: width 0"));
  if (slots == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(
      Require(rows && offsets && positions && dout && dtable, "scatter-add: null"));
  ScatterAddKernel<<<BlocksFor(slots), kThreads, 0, stream>>>(rows, offsets, positions, slots, dout,
                                                              d, scale, dtable);
  return AfterLaunch("ScatterAddKernel");
}

absl::Status LaunchScatterAdd(const DeviceScatterPlan& plan, const float* dout, size_t d,
                              float scale, float* dtable, CudaStream stream) {
  return LaunchScatterAdd(plan.rows.get(), plan.offsets.get(), plan.positions.get(), plan.slots(),
                          dout, d, scale, dtable, stream);
}

absl::Status LaunchBceLoss(const float* pos_logits, const float* neg_logits, const uint8_t* valid,
                           size_t n, float* loss, float* dpos, float* dneg, CudaStream stream) {
  if (n == 0) return absl::OkStatus();
  FEDREC_RETURN_IF_ERROR(
      Require(pos_logits && neg_logits && valid && loss && dpos && dneg, "bce: null"));
  BceLossKernel<<<BlocksFor(n), kThreads, 0, stream>>>(pos_logits, neg_logits, valid, n, loss, dpos,
                                                       dneg);
  return AfterLaunch("BceLossKernel");
}

}  // namespace fedrec::kernels
