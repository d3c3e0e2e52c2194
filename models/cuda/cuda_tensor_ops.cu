// TensorOps on a device (cuda_tensor_ops.h). Products go to cuBLAS: a
// row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so
// every call passes B before A with m and n swapped. Element-wise kernels
// run one thread per element (or per row, column or window where a body of
// layer_kernels.h says so) on a 1-D grid. No float is ever added
// atomically, so every result is the same run to run; the one kernel with
// atomics (EncodeAddRuns) adds integers, whose sum has no order.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>
#include <utility>

#include "models/cuda/client_update_kernels.h"
#include "models/cuda/cuda_tensor_ops.h"
#include "models/cuda/device.h"
#include "models/cuda/launch_util.cuh"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/layer_kernels_api.h"
#include "models/cuda/sequence_kernels.cuh"

namespace fedrec::kernels {
namespace {

using launch_internal::AfterLaunch;
using launch_internal::BlocksFor;
using launch_internal::CudaStatus;
using launch_internal::kThreads;

absl::Status Cublas(cublasStatus_t code, const char* what) {
  if (code == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(std::string("cublas: ") + what + ": " + cublasGetStatusString(code));
}

__global__ void BiasRowsKernel(const float* bias, size_t rows, size_t cols, float* y) {
  FEDREC_GRID_INDEX(e, rows * cols);
  y[e] = bias[e % cols];
}

__global__ void ColumnSumsKernel(const float* x, size_t rows, size_t cols, float* out) {
  FEDREC_GRID_INDEX(j, cols);
  float sum = out[j];
  for (size_t i = 0; i < rows; ++i) sum += x[i * cols + j];
  out[j] = sum;
}

__global__ void AddKernel(const float* a, const float* b, size_t n, float* out) {
  FEDREC_GRID_INDEX(i, n);
  out[i] = a[i] + b[i];
}

__global__ void MultiplyKernel(const float* a, const float* b, size_t n, float* out) {
  FEDREC_GRID_INDEX(i, n);
  out[i] = a[i] * b[i];
}

__global__ void ReluKernel(float* x, size_t n) {
  FEDREC_GRID_INDEX(i, n);
  x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void ReluBackwardKernel(const float* y, const float* mask, size_t n, float* g) {
  FEDREC_GRID_INDEX(i, n);
  const float v = mask != nullptr ? g[i] * mask[i] : g[i];
  g[i] = y[i] > 0.0f ? v : 0.0f;
}

__global__ void ZeroPaddingRowsKernel(const uint32_t* first, size_t batch, size_t len, size_t width,
                                      float* x) {
  FEDREC_GRID_INDEX(e, batch * len * width);
  const size_t b = e / (len * width), row = e / width % len;
  if (row < first[b]) x[e] = 0.0f;
}

__global__ void AddToEveryWindowKernel(const float* rows, size_t batch, size_t len, size_t width,
                                       float* x) {
  FEDREC_GRID_INDEX(e, batch * len * width);
  x[e] += rows[e % (len * width)];
}

__global__ void SumOverWindowsKernel(const float* x, size_t batch, size_t len, size_t width,
                                     float* out) {
  FEDREC_GRID_INDEX(e, len * width);
  float sum = out[e];
  for (size_t b = 0; b < batch; ++b) sum += x[b * len * width + e];
  out[e] = sum;
}

constexpr size_t kMaskEntriesPerThread = 8;

// Thread (b, chunk): entries [8 chunk, 8 chunk + 8) of window b.
__global__ void WindowDropoutKernel(const MaskSource* sources, const uint32_t* first,
                                    uint32_t threshold, float keep, size_t batch, size_t len,
                                    size_t width, float* mask) {
  const size_t chunks = (len * width + kMaskEntriesPerThread - 1) / kMaskEntriesPerThread;
  FEDREC_GRID_INDEX(t, batch * chunks);
  const size_t b = t / chunks;
  const size_t begin = t % chunks * kMaskEntriesPerThread;
  const size_t end =
      begin + kMaskEntriesPerThread < len * width ? begin + kMaskEntriesPerThread : len * width;
  float* window = mask + b * len * width;
  const size_t padding = first[b] * width;
  size_t e = begin;
  for (; e < end && e < padding; ++e) window[e] = 0.0f;
  if (e < end) {
    DropoutMaskRange(sources[b].stream, sources[b].first_word, threshold, keep, e - padding,
                     end - padding, window + e);
  }
}

// Thread (b, h, i): row i of head h of window b.
__global__ void AttentionDropoutKernel(const MaskSource* sources, const uint32_t* first,
                                       uint32_t threshold, float keep, size_t batch, size_t heads,
                                       size_t len, float* mask) {
  FEDREC_GRID_INDEX(r, batch * heads * len);
  const size_t b = r / (heads * len), h = r / len % heads, i = r % len;
  float* row = mask + r * len;
  for (size_t j = 0; j < len; ++j) row[j] = 0.0f;
  const size_t f = first[b];
  if (i < f) return;
  DropoutTriangleRow(sources[b].stream, sources[b].first_word, threshold, keep, len - f, h, i - f,
                     row + f);
}

__global__ void GatheredRowDotsKernel(const float* h, const float* table, size_t d,
                                      const uint32_t* ids, size_t n, float* out) {
  FEDREC_GRID_INDEX(t, n);
  out[t] = ids[t] == kNoItem ? 0.0f : RowDot<float>(h + t * d, table + ids[t] * d, d);
}

__global__ void BceHiddenGradKernel(const float* dpos, const float* dneg, const float* table,
                                    size_t d, const uint32_t* pos, const uint32_t* neg, size_t n,
                                    float* dh) {
  FEDREC_GRID_INDEX(t, n);
  if (pos[t] == kNoItem || neg[t] == kNoItem) return;
  BceHiddenGradRow<float>(dpos[t], table + pos[t] * d, dneg[t], table + neg[t] * d, d, dh + t * d);
}

__global__ void ScaleRowsKernel(const float* coef, const float* x, size_t n, size_t d, float* out) {
  FEDREC_GRID_INDEX(e, n * d);
  out[e] = coef[e / d] * x[e];
}

__global__ void WindowColumnSumsKernel(const float* x, size_t batch, size_t len, size_t width,
                                       float* out, size_t out_stride) {
  FEDREC_GRID_INDEX(t, batch * width);
  const size_t b = t / width, j = t % width;
  const float* w = x + b * len * width;
  float sum = out[b * out_stride + j];
  for (size_t r = 0; r < len; ++r) sum += w[r * width + j];
  out[b * out_stride + j] = sum;
}

__global__ void WindowLayerNormParamKernel(const float* xhat, const float* dy, size_t batch,
                                           size_t len, size_t d, float* dgamma, float* dbeta,
                                           size_t out_stride) {
  FEDREC_GRID_INDEX(t, batch * d);
  const size_t b = t / d, j = t % d;
  LayerNormParamGradColumn<float>(xhat + b * len * d, dy + b * len * d, len, d, j,
                                  dgamma + b * out_stride, dbeta + b * out_stride);
}

__global__ void AddStridedKernel(const float* src, size_t src_stride, float* dst, size_t dst_stride,
                                 size_t n, size_t batch) {
  FEDREC_GRID_INDEX(t, batch * n);
  const size_t b = t / n, i = t % n;
  dst[b * dst_stride + i] += src[b * src_stride + i];
}

__global__ void WindowAffineRowsKernel(const float* x, const float* scale, const float* shift,
                                       size_t stride, size_t batch, size_t len, size_t width,
                                       float* y) {
  FEDREC_GRID_INDEX(e, batch * len * width);
  const size_t b = e / (len * width), j = e % width;
  y[e] =
      AffineEntry(x[e], scale[b * stride + j], shift != nullptr ? shift + b * stride + j : nullptr);
}

// Block s: segment s, its entries strided over the block's threads.
__global__ void SgdSegmentsKernel(const float* g, const uint64_t* bounds, const float* scales,
                                  float lr, float* p) {
  const size_t s = blockIdx.x;
  for (uint64_t i = bounds[2 * s] + threadIdx.x; i < bounds[2 * s + 1]; i += blockDim.x) {
    p[i] -= lr * (g[i] * scales[s]);
  }
}

__global__ void SubtractKernel(const float* a, const float* b, size_t n, float* out) {
  FEDREC_GRID_INDEX(i, n);
  out[i] = a[i] - b[i];
}

// Block s: segment s. Thread t sums entries t, t + kThreads, ... in order;
// the partial sums combine in a fixed tree.
__global__ void SegmentSquaredNormsKernel(const float* x, const uint64_t* bounds, double* out) {
  __shared__ double partial[kThreads];
  const size_t s = blockIdx.x;
  double sum = 0;
  for (uint64_t i = bounds[2 * s] + threadIdx.x; i < bounds[2 * s + 1]; i += blockDim.x) {
    sum += static_cast<double>(x[i]) * x[i];
  }
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[s] = partial[0];
}

// Block r: run r, its coordinates strided over the block's threads.
__global__ void EncodeAddRunsKernel(const float* x, const EncodeRun* runs, const double* factors,
                                    const PhiloxStream* streams, double scale, double limit,
                                    uint64_t* acc) {
  const EncodeRun run = runs[blockIdx.x];
  const double f = factors[run.client];
  if (f == 0) return;
  const PhiloxStream stream = streams[run.client];
  for (uint32_t j = threadIdx.x; j < run.len; j += blockDim.x) {
    const uint64_t word = EncodeAt(stream, run.dst + j, x[run.src + j], scale * f, limit);
    atomicAdd(reinterpret_cast<unsigned long long*>(acc + run.at + j),  // NOLINT(runtime/int)
              static_cast<unsigned long long>(word));                   // NOLINT(runtime/int)
  }
}

constexpr unsigned kEncodeThreads = 64;  // a run is often one embedding row

class DeviceMemory final : public OpsBuffer {
 public:
  explicit DeviceMemory(void* p) : p_(p) {}
  ~DeviceMemory() override { cudaFree(p_); }
  void* data() const override { return p_; }

 private:
  void* p_;
};

class CudaTensorOps final : public TensorOps {
 public:
  CudaTensorOps(int device, cudaStream_t stream, CublasHandle blas)
      : device_(device), stream_(stream), blas_(std::move(blas)) {}
  ~CudaTensorOps() override {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }

  absl::Status BindToCallingThread() override {
    return CudaStatus(cudaSetDevice(device_), "cudaSetDevice");
  }
  absl::StatusOr<std::unique_ptr<OpsBuffer>> Allocate(size_t bytes) override {
    FEDREC_RETURN_IF_ERROR(BindToCallingThread());
    void* p = nullptr;
    FEDREC_RETURN_IF_ERROR(CudaStatus(cudaMalloc(&p, bytes), "cudaMalloc"));
    return std::unique_ptr<OpsBuffer>(new DeviceMemory(p));
  }
  absl::Status Upload(void* dst, const void* host, size_t bytes) override {
    if (bytes == 0) return absl::OkStatus();
    // From pageable memory the call returns once the host bytes are staged,
    // so the caller may reuse them at once.
    return CudaStatus(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream_),
                      "cudaMemcpyAsync (upload)");
  }
  absl::Status Download(void* host, const void* src, size_t bytes) override {
    if (bytes > 0) {
      FEDREC_RETURN_IF_ERROR(
          CudaStatus(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, stream_),
                     "cudaMemcpyAsync (download)"));
    }
    return CudaStatus(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }
  absl::Status Zero(float* x, size_t n) override {
    if (n == 0) return absl::OkStatus();
    return CudaStatus(cudaMemsetAsync(x, 0, n * sizeof(float), stream_), "cudaMemsetAsync");
  }
  absl::Status Copy(const float* src, size_t n, float* dst) override {
    if (n == 0 || src == dst) return absl::OkStatus();
    return CudaStatus(
        cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_),
        "cudaMemcpyAsync (copy)");
  }

  absl::Status Gemm(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, const float* a,
                    size_t lda, const float* b, size_t ldb, float beta, float* c,
                    size_t ldc) override {
    if (m == 0 || n == 0) return absl::OkStatus();
    return Cublas(
        cublasSgemm(blas_.get(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                    static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b,
                    static_cast<int>(ldb), a, static_cast<int>(lda), &beta, c,
                    static_cast<int>(ldc)),
        "cublasSgemm");
  }
  absl::Status GemmStridedBatched(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                                  const float* a, size_t lda, size_t stride_a, const float* b,
                                  size_t ldb, size_t stride_b, float beta, float* c, size_t ldc,
                                  size_t stride_c, size_t batch) override {
    if (m == 0 || n == 0 || batch == 0) return absl::OkStatus();
    return Cublas(
        cublasSgemmStridedBatched(
            blas_.get(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
            static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b,
            static_cast<int>(ldb), static_cast<long long>(stride_b), a, static_cast<int>(lda),
            static_cast<long long>(stride_a), &beta, c, static_cast<int>(ldc),
            static_cast<long long>(stride_c), static_cast<int>(batch)),
        "cublasSgemmStridedBatched");
  }

  absl::Status BiasRows(const float* bias, size_t rows, size_t cols, float* y) override {
    if (rows * cols == 0) return absl::OkStatus();
    BiasRowsKernel<<<BlocksFor(rows * cols), kThreads, 0, stream_>>>(bias, rows, cols, y);
    return AfterLaunch("BiasRows");
  }
  absl::Status ColumnSums(const float* x, size_t rows, size_t cols, float* out) override {
    if (cols == 0) return absl::OkStatus();
    ColumnSumsKernel<<<BlocksFor(cols), kThreads, 0, stream_>>>(x, rows, cols, out);
    return AfterLaunch("ColumnSums");
  }
  absl::Status Add(const float* a, const float* b, size_t n, float* out) override {
    if (n == 0) return absl::OkStatus();
    AddKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(a, b, n, out);
    return AfterLaunch("Add");
  }
  absl::Status Multiply(const float* a, const float* b, size_t n, float* out) override {
    if (n == 0) return absl::OkStatus();
    MultiplyKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(a, b, n, out);
    return AfterLaunch("Multiply");
  }
  absl::Status Relu(float* x, size_t n) override {
    if (n == 0) return absl::OkStatus();
    ReluKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(x, n);
    return AfterLaunch("Relu");
  }
  absl::Status ReluBackward(const float* y, const float* mask, size_t n, float* g) override {
    if (n == 0) return absl::OkStatus();
    ReluBackwardKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(y, mask, n, g);
    return AfterLaunch("ReluBackward");
  }

  absl::Status ZeroPaddingRows(const uint32_t* first, size_t batch, size_t len, size_t width,
                               float* x) override {
    const size_t n = batch * len * width;
    if (n == 0) return absl::OkStatus();
    ZeroPaddingRowsKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(first, batch, len, width, x);
    return AfterLaunch("ZeroPaddingRows");
  }
  absl::Status AddToEveryWindow(const float* rows, size_t batch, size_t len, size_t width,
                                float* x) override {
    const size_t n = batch * len * width;
    if (n == 0) return absl::OkStatus();
    AddToEveryWindowKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(rows, batch, len, width, x);
    return AfterLaunch("AddToEveryWindow");
  }
  absl::Status SumOverWindows(const float* x, size_t batch, size_t len, size_t width,
                              float* out) override {
    if (len * width == 0) return absl::OkStatus();
    SumOverWindowsKernel<<<BlocksFor(len * width), kThreads, 0, stream_>>>(x, batch, len, width,
                                                                           out);
    return AfterLaunch("SumOverWindows");
  }
  absl::Status WindowDropoutMasks(const MaskSource* sources, const uint32_t* first, double rate,
                                  size_t batch, size_t len, size_t width, float* mask) override {
    const size_t chunks = (len * width + kMaskEntriesPerThread - 1) / kMaskEntriesPerThread;
    if (batch * chunks == 0) return absl::OkStatus();
    WindowDropoutKernel<<<BlocksFor(batch * chunks), kThreads, 0, stream_>>>(
        sources, first, DropoutThresholdFor(rate), 1.0f / static_cast<float>(1.0 - rate), batch,
        len, width, mask);
    return AfterLaunch("WindowDropoutMasks");
  }
  absl::Status AttentionDropoutMasks(const MaskSource* sources, const uint32_t* first, double rate,
                                     size_t batch, size_t heads, size_t len, float* mask) override {
    const size_t rows = batch * heads * len;
    if (rows == 0) return absl::OkStatus();
    AttentionDropoutKernel<<<BlocksFor(rows), kThreads, 0, stream_>>>(
        sources, first, DropoutThresholdFor(rate), 1.0f / static_cast<float>(1.0 - rate), batch,
        heads, len, mask);
    return AfterLaunch("AttentionDropoutMasks");
  }

  absl::Status LayerNormForward(const float* x, const float* gamma, const float* beta, size_t rows,
                                size_t d, float* xhat, float* rstd, float* y) override {
    return LaunchLayerNormForward(x, gamma, beta, rows, d, xhat, rstd, y, stream_);
  }
  absl::Status LayerNormBackward(const float* xhat, const float* rstd, const float* gamma,
                                 const float* dy, size_t rows, size_t d, float* dx, float* dgamma,
                                 float* dbeta) override {
    return LaunchLayerNormBackward(xhat, rstd, gamma, dy, rows, d, dx, dgamma, dbeta, stream_);
  }
  absl::Status CausalSoftmaxForward(const float* scores, size_t windows, size_t len,
                                    const uint32_t* first, float scale, float* p) override {
    return LaunchCausalSoftmaxForward(scores, windows, len, first, scale, p, stream_);
  }
  absl::Status CausalSoftmaxBackward(const float* p, const float* dpd, const float* mask,
                                     size_t windows, size_t len, const uint32_t* first, float scale,
                                     float* ds) override {
    return LaunchCausalSoftmaxBackward(p, dpd, mask, windows, len, first, scale, ds, stream_);
  }
  absl::Status Gather(const float* table, size_t d, const uint32_t* ids, size_t n, float scale,
                      float* out) override {
    return LaunchEmbeddingGather(table, d, ids, n, scale, out, stream_);
  }
  absl::Status GatheredRowDots(const float* h, const float* table, size_t d, const uint32_t* ids,
                               size_t n, float* out) override {
    if (n == 0) return absl::OkStatus();
    GatheredRowDotsKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(h, table, d, ids, n, out);
    return AfterLaunch("GatheredRowDots");
  }
  absl::Status BceLoss(const float* pos_logits, const float* neg_logits, const uint8_t* valid,
                       size_t n, float* loss, float* dpos, float* dneg) override {
    return LaunchBceLoss(pos_logits, neg_logits, valid, n, loss, dpos, dneg, stream_);
  }
  absl::Status BceHiddenGrad(const float* dpos, const float* dneg, const float* table, size_t d,
                             const uint32_t* pos, const uint32_t* neg, size_t n,
                             float* dh) override {
    if (n == 0) return absl::OkStatus();
    BceHiddenGradKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(dpos, dneg, table, d, pos, neg, n,
                                                                dh);
    return AfterLaunch("BceHiddenGrad");
  }
  absl::Status ScaleRows(const float* coef, const float* x, size_t n, size_t d,
                         float* out) override {
    if (n * d == 0) return absl::OkStatus();
    ScaleRowsKernel<<<BlocksFor(n * d), kThreads, 0, stream_>>>(coef, x, n, d, out);
    return AfterLaunch("ScaleRows");
  }
  absl::Status ScatterAdd(const uint32_t* rows, const uint32_t* offsets, const uint32_t* positions,
                          size_t slots, const float* src, size_t d, float scale,
                          float* dtable) override {
    return LaunchScatterAdd(rows, offsets, positions, slots, src, d, scale, dtable, stream_);
  }

  absl::Status WindowColumnSums(const float* x, size_t batch, size_t len, size_t width, float* out,
                                size_t out_stride) override {
    if (batch * width == 0) return absl::OkStatus();
    WindowColumnSumsKernel<<<BlocksFor(batch * width), kThreads, 0, stream_>>>(x, batch, len, width,
                                                                               out, out_stride);
    return AfterLaunch("WindowColumnSums");
  }
  absl::Status WindowLayerNormParamGrads(const float* xhat, const float* dy, size_t batch,
                                         size_t len, size_t d, float* dgamma, float* dbeta,
                                         size_t out_stride) override {
    if (batch * d == 0) return absl::OkStatus();
    WindowLayerNormParamKernel<<<BlocksFor(batch * d), kThreads, 0, stream_>>>(
        xhat, dy, batch, len, d, dgamma, dbeta, out_stride);
    return AfterLaunch("WindowLayerNormParamGrads");
  }
  absl::Status AddStrided(const float* src, size_t src_stride, float* dst, size_t dst_stride,
                          size_t n, size_t batch) override {
    if (batch * n == 0) return absl::OkStatus();
    AddStridedKernel<<<BlocksFor(batch * n), kThreads, 0, stream_>>>(src, src_stride, dst,
                                                                     dst_stride, n, batch);
    return AfterLaunch("AddStrided");
  }
  absl::Status WindowAffineRows(const float* x, const float* scale, const float* shift,
                                size_t stride, size_t batch, size_t len, size_t width,
                                float* y) override {
    const size_t n = batch * len * width;
    if (n == 0) return absl::OkStatus();
    WindowAffineRowsKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(x, scale, shift, stride, batch,
                                                                   len, width, y);
    return AfterLaunch("WindowAffineRows");
  }
  absl::Status SgdSegments(const float* g, const uint64_t* bounds, const float* scales,
                           size_t segments, float lr, float* p) override {
    if (segments == 0) return absl::OkStatus();
    SgdSegmentsKernel<<<static_cast<unsigned>(segments), kThreads, 0, stream_>>>(g, bounds, scales,
                                                                                 lr, p);
    return AfterLaunch("SgdSegments");
  }
  absl::Status Subtract(const float* a, const float* b, size_t n, float* out) override {
    if (n == 0) return absl::OkStatus();
    SubtractKernel<<<BlocksFor(n), kThreads, 0, stream_>>>(a, b, n, out);
    return AfterLaunch("Subtract");
  }
  absl::Status SegmentSquaredNorms(const float* x, const uint64_t* bounds, size_t segments,
                                   double* out) override {
    if (segments == 0) return absl::OkStatus();
    SegmentSquaredNormsKernel<<<static_cast<unsigned>(segments), kThreads, 0, stream_>>>(x, bounds,
                                                                                         out);
    return AfterLaunch("SegmentSquaredNorms");
  }
  absl::Status EncodeAddRuns(const float* x, const EncodeRun* runs, size_t num_runs,
                             const double* factors, const PhiloxStream* streams, double scale,
                             double limit, uint64_t* acc) override {
    if (num_runs == 0) return absl::OkStatus();
    EncodeAddRunsKernel<<<static_cast<unsigned>(num_runs), kEncodeThreads, 0, stream_>>>(
        x, runs, factors, streams, scale, limit, acc);
    return AfterLaunch("EncodeAddRuns");
  }
  absl::Status SharedNegativeLossRows(bool gbce, float beta, const float* pos, const uint8_t* valid,
                                      const uint32_t* counts, const float* logq, size_t batch,
                                      size_t len, size_t width, float* nl, float* loss,
                                      float* dpos) override {
    return launch_internal::LaunchSharedNegativeLossRows(
        gbce, beta, pos, valid, counts, logq, batch, len, width, nl, loss, dpos, stream_);
  }
  absl::Status FullSoftmaxRows(const uint32_t* targets, const uint8_t* valid,
                               const uint8_t* excluded, size_t rows, size_t cols, float* logits,
                               float* loss) override {
    return launch_internal::LaunchFullSoftmaxRows(targets, valid, excluded, rows, cols, logits,
                                                  loss, stream_);
  }
  absl::Status StepDropoutMasks(const MaskSource* sources, const uint32_t* first, float rate,
                                size_t batch, size_t steps, size_t width, float* mask) override {
    return launch_internal::LaunchStepDropoutMasks(sources, first, rate, batch, steps, width, mask,
                                                   stream_);
  }
  absl::Status BprLoss(const float* pos_logits, const float* neg_logits, const uint8_t* valid,
                       size_t n, size_t k, float* loss, float* dpos, float* dneg) override {
    return launch_internal::LaunchBprLoss(pos_logits, neg_logits, valid, n, k, loss, dpos, dneg,
                                          stream_);
  }
  absl::Status AddScaledRows(const float* coef, const float* table, size_t d, const uint32_t* ids,
                             size_t n, float* dh) override {
    return launch_internal::LaunchAddScaledRows(coef, table, d, ids, n, dh, stream_);
  }
  absl::Status GruForwardStep(const float* gi, const float* gh, const float* h_prev,
                              const uint32_t* first, size_t step, size_t batch, size_t hidden,
                              float* gates, float* ghn, float* h_next) override {
    return launch_internal::LaunchGruForwardStep(gi, gh, h_prev, first, step, batch, hidden, gates,
                                                 ghn, h_next, stream_);
  }
  absl::Status GruBackwardStep(const float* dout, const float* gates, const float* ghn,
                               const float* h_prev, const uint32_t* first, size_t step,
                               size_t batch, size_t hidden, float* dh, float* dgi,
                               float* dgh) override {
    return launch_internal::LaunchGruBackwardStep(dout, gates, ghn, h_prev, first, step, batch,
                                                  hidden, dh, dgi, dgh, stream_);
  }
  absl::Status SetAt(float* x, const uint64_t* offsets, size_t n, float value) override {
    return launch_internal::LaunchSetAt(x, offsets, n, value, stream_);
  }
  absl::Status CountAboveRows(const float* s, size_t rows, size_t cols, size_t ld,
                              const float* thresholds, uint64_t* greater, uint64_t* ties) override {
    return launch_internal::LaunchCountAboveRows(s, rows, cols, ld, thresholds, greater, ties,
                                                 stream_);
  }

 private:
  int device_;
  cudaStream_t stream_;
  CublasHandle blas_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TensorOps>> NewCudaTensorOps(const CudaTensorOpsOptions& options) {
  FEDREC_ASSIGN_OR_RETURN(CublasHandle blas, CublasHandle::Create(options.device));
  FEDREC_RETURN_IF_ERROR(
      Cublas(cublasSetMathMode(
                 blas.get(), options.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
             "cublasSetMathMode"));
  cudaStream_t stream = nullptr;
  FEDREC_RETURN_IF_ERROR(
      CudaStatus(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate"));
  absl::Status bound = blas.SetStream(stream);
  if (!bound.ok()) {
    cudaStreamDestroy(stream);
    return bound;
  }
  return std::unique_ptr<TensorOps>(new CudaTensorOps(options.device, stream, std::move(blas)));
}

}  // namespace fedrec::kernels
