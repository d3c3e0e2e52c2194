// The sequence models' kernels of CudaTensorOps (sequence_kernels.cuh):
// each thread or block runs a body of layer_kernels.h.
#include "models/cuda/launch_util.cuh"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/sequence_kernels.cuh"

namespace fedrec::kernels::launch_internal {
namespace {

// Thread: one row (position).
__global__ void SharedNegativeLossKernel(bool gbce, float beta, const float* pos,
                                         const uint8_t* valid, const uint32_t* counts,
                                         const float* logq, size_t batch, size_t len, size_t width,
                                         float* nl, float* loss, float* dpos) {
  FEDREC_GRID_INDEX(r, batch * len);
  const size_t b = r / len;
  float* row = nl + r * width;
  if (logq != nullptr) {
    for (size_t k = 0; k < counts[b]; ++k) row[k] -= logq[b * width + k];
  }
  loss[r] =
      SharedNegativesRow<float>(gbce, beta, pos[r], counts[b], width, valid[r] != 0, row, dpos + r);
}

// Thread: one mask entry (row t B + b, column j).
__global__ void StepDropoutKernel(const MaskSource* sources, const uint32_t* first, float rate,
                                  float keep, size_t batch, size_t steps, size_t width,
                                  float* mask) {
  FEDREC_GRID_INDEX(e, steps * batch * width);
  const size_t row = e / width, j = e % width;
  const size_t t = row / batch, b = row % batch;
  if (t < first[b]) {
    mask[e] = 0.0f;
    return;
  }
  const uint64_t word = sources[b].first_word + (t - first[b]) * width + j;
  mask[e] = FloatDropoutEntry(PhiloxStreamWord(sources[b].stream, word), rate, keep);
}

__global__ void BprLossKernel(const float* pos_logits, const float* neg_logits,
                              const uint8_t* valid, size_t n, size_t k, float* loss, float* dpos,
                              float* dneg) {
  FEDREC_GRID_INDEX(t, n);
  loss[t] =
      BprPosition<float>(pos_logits[t], neg_logits + t, n, k, valid[t] != 0, dpos + t, dneg + t);
}

// Thread: one entry (t, j) of dh.
__global__ void AddScaledRowsKernel(const float* coef, const float* table, size_t d,
                                    const uint32_t* ids, size_t n, float* dh) {
  FEDREC_GRID_INDEX(e, n * d);
  const size_t t = e / d;
  if (ids[t] == kNoItem) return;
  dh[e] += coef[t] * table[static_cast<size_t>(ids[t]) * d + e % d];
}

__global__ void GruForwardStepKernel(const float* gi, const float* gh, const float* h_prev,
                                     const uint32_t* first, size_t step, size_t batch, size_t h,
                                     float* gates, float* ghn, float* h_next) {
  FEDREC_GRID_INDEX(e, batch * h);
  const size_t b = e / h, j = e % h;
  if (step < first[b]) {
    gates[b * 3 * h + j] = gates[b * 3 * h + h + j] = gates[b * 3 * h + 2 * h + j] = 0.0f;
    ghn[b * h + j] = 0.0f;
    h_next[b * h + j] = 0.0f;
    return;
  }
  GruForwardUnit(gi + b * 3 * h, gh + b * 3 * h, h_prev + b * h, h, j, gates + b * 3 * h,
                 ghn + b * h, h_next + b * h);
}

__global__ void GruBackwardStepKernel(const float* dout, const float* gates, const float* ghn,
                                      const float* h_prev, const uint32_t* first, size_t step,
                                      size_t batch, size_t h, float* dh, float* dgi, float* dgh) {
  FEDREC_GRID_INDEX(e, batch * h);
  const size_t b = e / h, j = e % h;
  if (step < first[b]) {
    dh[b * h + j] = 0.0f;
    for (size_t g = 0; g < 3; ++g) dgi[b * 3 * h + g * h + j] = dgh[b * 3 * h + g * h + j] = 0.0f;
    return;
  }
  GruBackwardUnit(gates + b * 3 * h, ghn + b * h, h_prev + b * h, dout + b * h, h, j, dh + b * h,
                  dgi + b * 3 * h, dgh + b * 3 * h);
}

// Block r: row r, one thread per lane of layer_kernels.h's full softmax.
__global__ void FullSoftmaxRowsKernel(const uint32_t* targets, const uint8_t* valid,
                                      const uint8_t* excluded, size_t cols, float* logits,
                                      float* loss) {
  __shared__ float partial[kFullSoftmaxLanes];
  __shared__ float target_logit;
  const size_t r = blockIdx.x, p = threadIdx.x;
  float* row = logits + r * cols;
  if (valid[r] == 0) {
    for (size_t j = p; j < cols; j += kFullSoftmaxLanes) row[j] = 0.0f;
    if (p == 0) loss[r] = 0.0f;
    return;
  }
  if (p == 0) target_logit = row[targets[r]];
  partial[p] = FullSoftmaxLaneMax(row, excluded, cols, p);
  __syncthreads();
  for (size_t half = kFullSoftmaxLanes / 2; half > 0; half /= 2) {
    if (p < half) FullSoftmaxTree(partial, p, half, true);
    __syncthreads();
  }
  const float max = partial[0];
  __syncthreads();  // every lane has read the max (and thread 0 the target) before the exps
  partial[p] = FullSoftmaxLaneExp(row, excluded, cols, p, max);
  __syncthreads();
  for (size_t half = kFullSoftmaxLanes / 2; half > 0; half /= 2) {
    if (p < half) FullSoftmaxTree(partial, p, half, false);
    __syncthreads();
  }
  const float sum = partial[0];
  FullSoftmaxLaneGradient(row, cols, p, 1.0f / sum, targets[r]);
  if (p == 0) loss[r] = FullSoftmaxRowLoss(max, sum, target_logit);
}

__global__ void SetAtKernel(float* x, const uint64_t* offsets, size_t n, float value) {
  FEDREC_GRID_INDEX(i, n);
  x[offsets[i]] = value;
}

// Block i: row i, its columns strided over the block's threads; the
// per-thread counts combine in shared memory (integers: any order).
__global__ void CountAboveRowsKernel(const float* s, size_t cols, size_t ld,
                                     const float* thresholds, uint64_t* greater, uint64_t* ties) {
  __shared__ unsigned long long above[kThreads], equal[kThreads];  // NOLINT(runtime/int)
  const size_t i = blockIdx.x;
  const float t = thresholds[i];
  const float* row = s + i * ld;
  unsigned long long g = 0, e = 0;  // NOLINT(runtime/int)
  for (size_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float v = row[j];
    g += v > t ? 1 : 0;
    e += v == t ? 1 : 0;
  }
  above[threadIdx.x] = g;
  equal[threadIdx.x] = e;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      above[threadIdx.x] += above[threadIdx.x + half];
      equal[threadIdx.x] += equal[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    greater[i] += above[0];
    ties[i] += equal[0];
  }
}

}  // namespace

absl::Status LaunchSharedNegativeLossRows(bool gbce, float beta, const float* pos,
                                          const uint8_t* valid, const uint32_t* counts,
                                          const float* logq, size_t batch, size_t len, size_t width,
                                          float* nl, float* loss, float* dpos,
                                          cudaStream_t stream) {
  if (batch * len == 0) return absl::OkStatus();
  SharedNegativeLossKernel<<<BlocksFor(batch * len), kThreads, 0, stream>>>(
      gbce, beta, pos, valid, counts, logq, batch, len, width, nl, loss, dpos);
  return AfterLaunch("SharedNegativeLossRows");
}

absl::Status LaunchFullSoftmaxRows(const uint32_t* targets, const uint8_t* valid,
                                   const uint8_t* excluded, size_t rows, size_t cols, float* logits,
                                   float* loss, cudaStream_t stream) {
  if (rows == 0) return absl::OkStatus();
  FullSoftmaxRowsKernel<<<static_cast<unsigned>(rows), kFullSoftmaxLanes, 0, stream>>>(
      targets, valid, excluded, cols, logits, loss);
  return AfterLaunch("FullSoftmaxRows");
}

absl::Status LaunchStepDropoutMasks(const MaskSource* sources, const uint32_t* first, float rate,
                                    size_t batch, size_t steps, size_t width, float* mask,
                                    cudaStream_t stream) {
  const size_t n = steps * batch * width;
  if (n == 0) return absl::OkStatus();
  StepDropoutKernel<<<BlocksFor(n), kThreads, 0, stream>>>(
      sources, first, rate, 1.0f / (1.0f - rate), batch, steps, width, mask);
  return AfterLaunch("StepDropoutMasks");
}

absl::Status LaunchBprLoss(const float* pos_logits, const float* neg_logits, const uint8_t* valid,
                           size_t n, size_t k, float* loss, float* dpos, float* dneg,
                           cudaStream_t stream) {
  if (n == 0) return absl::OkStatus();
  BprLossKernel<<<BlocksFor(n), kThreads, 0, stream>>>(pos_logits, neg_logits, valid, n, k, loss,
                                                       dpos, dneg);
  return AfterLaunch("BprLoss");
}

absl::Status LaunchAddScaledRows(const float* coef, const float* table, size_t d,
                                 const uint32_t* ids, size_t n, float* dh, cudaStream_t stream) {
  if (n * d == 0) return absl::OkStatus();
  AddScaledRowsKernel<<<BlocksFor(n * d), kThreads, 0, stream>>>(coef, table, d, ids, n, dh);
  return AfterLaunch("AddScaledRows");
}

absl::Status LaunchGruForwardStep(const float* gi, const float* gh, const float* h_prev,
                                  const uint32_t* first, size_t step, size_t batch, size_t hidden,
                                  float* gates, float* ghn, float* h_next, cudaStream_t stream) {
  if (batch == 0 || hidden == 0) return absl::OkStatus();
  GruForwardStepKernel<<<BlocksFor(batch * hidden), kThreads, 0, stream>>>(
      gi, gh, h_prev, first, step, batch, hidden, gates, ghn, h_next);
  return AfterLaunch("GruForwardStep");
}

absl::Status LaunchGruBackwardStep(const float* dout, const float* gates, const float* ghn,
                                   const float* h_prev, const uint32_t* first, size_t step,
                                   size_t batch, size_t hidden, float* dh, float* dgi, float* dgh,
                                   cudaStream_t stream) {
  if (batch == 0 || hidden == 0) return absl::OkStatus();
  GruBackwardStepKernel<<<BlocksFor(batch * hidden), kThreads, 0, stream>>>(
      dout, gates, ghn, h_prev, first, step, batch, hidden, dh, dgi, dgh);
  return AfterLaunch("GruBackwardStep");
}

absl::Status LaunchSetAt(float* x, const uint64_t* offsets, size_t n, float value,
                         cudaStream_t stream) {
  if (n == 0) return absl::OkStatus();
  SetAtKernel<<<BlocksFor(n), kThreads, 0, stream>>>(x, offsets, n, value);
  return AfterLaunch("SetAt");
}

absl::Status LaunchCountAboveRows(const float* s, size_t rows, size_t cols, size_t ld,
                                  const float* thresholds, uint64_t* greater, uint64_t* ties,
                                  cudaStream_t stream) {
  if (rows == 0 || cols == 0) return absl::OkStatus();
  CountAboveRowsKernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
      s, cols, ld, thresholds, greater, ties);
  return AfterLaunch("CountAboveRows");
}

}  // namespace fedrec::kernels::launch_internal
