// Launches of the kernels behind CudaTensorOps' operations of the sequence
// models' heads (sampled and full softmax, BPR), GRU4Rec's steps and masks,
// and evaluation's ranking counts (tensor_ops.h documents each operation;
// the bodies are layer_kernels.h's). Each enqueues on `stream`, launches
// nothing for an empty size and returns the launch error. Internal to
// models/cuda/; included by .cu files only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "models/cuda/tensor_ops.h"

namespace fedrec::kernels::launch_internal {

absl::Status LaunchSharedNegativeLossRows(bool gbce, float beta, const float* pos,
                                          const uint8_t* valid, const uint32_t* counts,
                                          const float* logq, size_t batch, size_t len, size_t width,
                                          float* nl, float* loss, float* dpos, cudaStream_t stream);
absl::Status LaunchFullSoftmaxRows(const uint32_t* targets, const uint8_t* valid,
                                   const uint8_t* excluded, size_t rows, size_t cols, float* logits,
                                   float* loss, cudaStream_t stream);
absl::Status LaunchStepDropoutMasks(const MaskSource* sources, const uint32_t* first, float rate,
                                    size_t batch, size_t steps, size_t width, float* mask,
                                    cudaStream_t stream);
absl::Status LaunchBprLoss(const float* pos_logits, const float* neg_logits, const uint8_t* valid,
                           size_t n, size_t k, float* loss, float* dpos, float* dneg,
                           cudaStream_t stream);
absl::Status LaunchAddScaledRows(const float* coef, const float* table, size_t d,
                                 const uint32_t* ids, size_t n, float* dh, cudaStream_t stream);
absl::Status LaunchGruForwardStep(const float* gi, const float* gh, const float* h_prev,
                                  const uint32_t* first, size_t step, size_t batch, size_t hidden,
                                  float* gates, float* ghn, float* h_next, cudaStream_t stream);
absl::Status LaunchGruBackwardStep(const float* dout, const float* gates, const float* ghn,
                                   const float* h_prev, const uint32_t* first, size_t step,
                                   size_t batch, size_t hidden, float* dh, float* dgi, float* dgh,
                                   cudaStream_t stream);
absl::Status LaunchSetAt(float* x, const uint64_t* offsets, size_t n, float value,
                         cudaStream_t stream);
absl::Status LaunchCountAboveRows(const float* s, size_t rows, size_t cols, size_t ld,
                                  const float* thresholds, uint64_t* greater, uint64_t* ties,
                                  cudaStream_t stream);

}  // namespace fedrec::kernels::launch_internal
