// TensorOps on the CPU (tensor_ops.h): the GPU models' algorithms run here
// in CI. Each kernel-backed operation loops over the threads the GPU would
// run and calls the same body of layer_kernels.h; the rest are plain loops
// in the order tensor_ops.h states. Written for checking, not speed.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "models/cuda/client_update_kernels.h"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/tensor_ops.h"

namespace fedrec::kernels {
namespace {

class HostBuffer final : public OpsBuffer {
 public:
  explicit HostBuffer(size_t bytes) : data_(std::make_unique<float[]>((bytes + 3) / 4 + 1)) {}
  void* data() const override { return data_.get(); }

 private:
  std::unique_ptr<float[]> data_;
};

// Element (i, j) of a stored row-major matrix, or of its transpose.
inline float At(const float* x, size_t ld, bool trans, size_t i, size_t j) {
  return trans ? x[j * ld + i] : x[i * ld + j];
}

class HostTensorOps final : public TensorOps {
 public:
  absl::StatusOr<std::unique_ptr<OpsBuffer>> Allocate(size_t bytes) override {
    return std::unique_ptr<OpsBuffer>(new HostBuffer(bytes));
  }
  absl::Status Upload(void* dst, const void* host, size_t bytes) override {
    if (bytes > 0) std::memcpy(dst, host, bytes);
    return absl::OkStatus();
  }
  absl::Status Download(void* host, const void* src, size_t bytes) override {
    if (bytes > 0) std::memcpy(host, src, bytes);
    return absl::OkStatus();
  }
  absl::Status Zero(float* x, size_t n) override {
    for (size_t i = 0; i < n; ++i) x[i] = 0.0f;
    return absl::OkStatus();
  }

  absl::Status Copy(const float* src, size_t n, float* dst) override {
    if (n > 0 && src != dst) std::memmove(dst, src, n * sizeof(float));
    return absl::OkStatus();
  }

  absl::Status Gemm(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, const float* a,
                    size_t lda, const float* b, size_t ldb, float beta, float* c,
                    size_t ldc) override {
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        float sum = 0.0f;
        for (size_t p = 0; p < k; ++p) sum += At(a, lda, ta, i, p) * At(b, ldb, tb, p, j);
        float& out = c[i * ldc + j];
        // beta == 0 overwrites (as BLAS: the old value is not read).
        out = beta == 0.0f ? alpha * sum : alpha * sum + beta * out;
      }
    }
    return absl::OkStatus();
  }
  absl::Status GemmStridedBatched(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                                  const float* a, size_t lda, size_t stride_a, const float* b,
                                  size_t ldb, size_t stride_b, float beta, float* c, size_t ldc,
                                  size_t stride_c, size_t batch) override {
    for (size_t i = 0; i < batch; ++i) {
      FEDREC_RETURN_IF_ERROR(Gemm(ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b,
                                  ldb, beta, c + i * stride_c, ldc));
    }
    return absl::OkStatus();
  }

  absl::Status BiasRows(const float* bias, size_t rows, size_t cols, float* y) override {
    for (size_t i = 0; i < rows; ++i) std::memcpy(y + i * cols, bias, cols * sizeof(float));
    return absl::OkStatus();
  }
  absl::Status ColumnSums(const float* x, size_t rows, size_t cols, float* out) override {
    for (size_t j = 0; j < cols; ++j) {
      float sum = out[j];
      for (size_t i = 0; i < rows; ++i) sum += x[i * cols + j];
      out[j] = sum;
    }
    return absl::OkStatus();
  }
  absl::Status Add(const float* a, const float* b, size_t n, float* out) override {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
    return absl::OkStatus();
  }
  absl::Status Multiply(const float* a, const float* b, size_t n, float* out) override {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
    return absl::OkStatus();
  }
  absl::Status Relu(float* x, size_t n) override {
    for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return absl::OkStatus();
  }
  absl::Status ReluBackward(const float* y, const float* mask, size_t n, float* g) override {
    for (size_t i = 0; i < n; ++i) {
      const float v = mask != nullptr ? g[i] * mask[i] : g[i];
      g[i] = y[i] > 0.0f ? v : 0.0f;
    }
    return absl::OkStatus();
  }

  absl::Status ZeroPaddingRows(const uint32_t* first, size_t batch, size_t len, size_t width,
                               float* x) override {
    for (size_t b = 0; b < batch; ++b) {
      for (size_t e = 0; e < first[b] * width; ++e) x[b * len * width + e] = 0.0f;
    }
    return absl::OkStatus();
  }
  absl::Status AddToEveryWindow(const float* rows, size_t batch, size_t len, size_t width,
                                float* x) override {
    for (size_t b = 0; b < batch; ++b) {
      for (size_t e = 0; e < len * width; ++e) x[b * len * width + e] += rows[e];
    }
    return absl::OkStatus();
  }
  absl::Status SumOverWindows(const float* x, size_t batch, size_t len, size_t width,
                              float* out) override {
    for (size_t e = 0; e < len * width; ++e) {
      float sum = out[e];
      for (size_t b = 0; b < batch; ++b) sum += x[b * len * width + e];
      out[e] = sum;
    }
    return absl::OkStatus();
  }
  absl::Status WindowDropoutMasks(const MaskSource* sources, const uint32_t* first, double rate,
                                  size_t batch, size_t len, size_t width, float* mask) override {
    const uint32_t threshold = DropoutThresholdFor(rate);
    const float keep = 1.0f / static_cast<float>(1.0 - rate);
    for (size_t b = 0; b < batch; ++b) {
      float* window = mask + b * len * width;
      const size_t padding = first[b] * width;
      for (size_t e = 0; e < padding; ++e) window[e] = 0.0f;
      DropoutMaskRange(sources[b].stream, sources[b].first_word, threshold, keep, 0,
                       len * width - padding, window + padding);
    }
    return absl::OkStatus();
  }
  absl::Status AttentionDropoutMasks(const MaskSource* sources, const uint32_t* first, double rate,
                                     size_t batch, size_t heads, size_t len, float* mask) override {
    const uint32_t threshold = DropoutThresholdFor(rate);
    const float keep = 1.0f / static_cast<float>(1.0 - rate);
    for (size_t b = 0; b < batch; ++b) {
      const size_t f = first[b], valid = len - f;
      for (size_t h = 0; h < heads; ++h) {
        for (size_t i = 0; i < len; ++i) {
          float* row = mask + ((b * heads + h) * len + i) * len;
          for (size_t j = 0; j < len; ++j) row[j] = 0.0f;
          if (i < f) continue;
          DropoutTriangleRow(sources[b].stream, sources[b].first_word, threshold, keep, valid, h,
                             i - f, row + f);
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status LayerNormForward(const float* x, const float* gamma, const float* beta, size_t rows,
                                size_t d, float* xhat, float* rstd, float* y) override {
    for (size_t i = 0; i < rows; ++i) {
      LayerNormForwardRow<float>(x + i * d, gamma, beta, d, xhat + i * d, rstd + i, y + i * d);
    }
    return absl::OkStatus();
  }
  absl::Status LayerNormBackward(const float* xhat, const float* rstd, const float* gamma,
                                 const float* dy, size_t rows, size_t d, float* dx, float* dgamma,
                                 float* dbeta) override {
    for (size_t i = 0; i < rows; ++i) {
      LayerNormBackwardRow<float>(xhat + i * d, rstd[i], gamma, dy + i * d, d, dx + i * d);
    }
    for (size_t j = 0; j < d; ++j)
      LayerNormParamGradColumn<float>(xhat, dy, rows, d, j, dgamma, dbeta);
    return absl::OkStatus();
  }
  absl::Status CausalSoftmaxForward(const float* scores, size_t windows, size_t len,
                                    const uint32_t* first, float scale, float* p) override {
    for (size_t w = 0; w < windows; ++w) {
      for (size_t i = 0; i < len; ++i) {
        const size_t at = (w * len + i) * len;
        CausalSoftmaxForwardRow<float>(scores + at, len, first != nullptr ? first[w] : 0, i, scale,
                                       p + at);
      }
    }
    return absl::OkStatus();
  }
  absl::Status CausalSoftmaxBackward(const float* p, const float* dpd, const float* mask,
                                     size_t windows, size_t len, const uint32_t* first, float scale,
                                     float* ds) override {
    for (size_t w = 0; w < windows; ++w) {
      for (size_t i = 0; i < len; ++i) {
        const size_t at = (w * len + i) * len;
        CausalSoftmaxBackwardRow<float>(p + at, dpd + at, mask != nullptr ? mask + at : nullptr,
                                        len, first != nullptr ? first[w] : 0, i, scale, ds + at);
      }
    }
    return absl::OkStatus();
  }
  absl::Status Gather(const float* table, size_t d, const uint32_t* ids, size_t n, float scale,
                      float* out) override {
    for (size_t t = 0; t < n; ++t) EmbeddingGatherRow<float>(table, d, ids[t], scale, out + t * d);
    return absl::OkStatus();
  }
  absl::Status GatheredRowDots(const float* h, const float* table, size_t d, const uint32_t* ids,
                               size_t n, float* out) override {
    for (size_t t = 0; t < n; ++t) {
      out[t] = ids[t] == kNoItem ? 0.0f : RowDot<float>(h + t * d, table + ids[t] * d, d);
    }
    return absl::OkStatus();
  }
  absl::Status BceLoss(const float* pos_logits, const float* neg_logits, const uint8_t* valid,
                       size_t n, float* loss, float* dpos, float* dneg) override {
    for (size_t t = 0; t < n; ++t) {
      loss[t] = BcePosition<float>(pos_logits[t], neg_logits[t], valid[t] != 0, dpos + t, dneg + t);
    }
    return absl::OkStatus();
  }
  absl::Status BceHiddenGrad(const float* dpos, const float* dneg, const float* table, size_t d,
                             const uint32_t* pos, const uint32_t* neg, size_t n,
                             float* dh) override {
    for (size_t t = 0; t < n; ++t) {
      if (pos[t] == kNoItem || neg[t] == kNoItem) continue;
      BceHiddenGradRow<float>(dpos[t], table + pos[t] * d, dneg[t], table + neg[t] * d, d,
                              dh + t * d);
    }
    return absl::OkStatus();
  }
  absl::Status ScaleRows(const float* coef, const float* x, size_t n, size_t d,
                         float* out) override {
    for (size_t t = 0; t < n; ++t) {
      for (size_t j = 0; j < d; ++j) out[t * d + j] = coef[t] * x[t * d + j];
    }
    return absl::OkStatus();
  }
  absl::Status ScatterAdd(const uint32_t* rows, const uint32_t* offsets, const uint32_t* positions,
                          size_t slots, const float* src, size_t d, float scale,
                          float* dtable) override {
    for (size_t k = 0; k < slots; ++k) {
      ScatterAddSlot<float>(rows, offsets, positions, k, src, d, scale, dtable);
    }
    return absl::OkStatus();
  }

  absl::Status WindowColumnSums(const float* x, size_t batch, size_t len, size_t width, float* out,
                                size_t out_stride) override {
    for (size_t b = 0; b < batch; ++b) {
      FEDREC_RETURN_IF_ERROR(ColumnSums(x + b * len * width, len, width, out + b * out_stride));
    }
    return absl::OkStatus();
  }
  absl::Status WindowLayerNormParamGrads(const float* xhat, const float* dy, size_t batch,
                                         size_t len, size_t d, float* dgamma, float* dbeta,
                                         size_t out_stride) override {
    for (size_t b = 0; b < batch; ++b) {
      for (size_t j = 0; j < d; ++j) {
        LayerNormParamGradColumn<float>(xhat + b * len * d, dy + b * len * d, len, d, j,
                                        dgamma + b * out_stride, dbeta + b * out_stride);
      }
    }
    return absl::OkStatus();
  }
  absl::Status AddStrided(const float* src, size_t src_stride, float* dst, size_t dst_stride,
                          size_t n, size_t batch) override {
    for (size_t b = 0; b < batch; ++b) {
      for (size_t i = 0; i < n; ++i) dst[b * dst_stride + i] += src[b * src_stride + i];
    }
    return absl::OkStatus();
  }
  absl::Status WindowAffineRows(const float* x, const float* scale, const float* shift,
                                size_t stride, size_t batch, size_t len, size_t width,
                                float* y) override {
    for (size_t b = 0; b < batch; ++b) {
      for (size_t r = 0; r < len; ++r) {
        const size_t row = (b * len + r) * width;
        for (size_t j = 0; j < width; ++j) {
          y[row + j] = AffineEntry(x[row + j], scale[b * stride + j],
                                   shift != nullptr ? shift + b * stride + j : nullptr);
        }
      }
    }
    return absl::OkStatus();
  }
  absl::Status SgdSegments(const float* g, const uint64_t* bounds, const float* scales,
                           size_t segments, float lr, float* p) override {
    for (size_t s = 0; s < segments; ++s) {
      for (uint64_t i = bounds[2 * s]; i < bounds[2 * s + 1]; ++i) p[i] -= lr * (g[i] * scales[s]);
    }
    return absl::OkStatus();
  }
  absl::Status Subtract(const float* a, const float* b, size_t n, float* out) override {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
    return absl::OkStatus();
  }
  absl::Status SegmentSquaredNorms(const float* x, const uint64_t* bounds, size_t segments,
                                   double* out) override {
    for (size_t s = 0; s < segments; ++s) {
      double sum = 0;
      for (uint64_t i = bounds[2 * s]; i < bounds[2 * s + 1]; ++i) {
        sum += static_cast<double>(x[i]) * x[i];
      }
      out[s] = sum;
    }
    return absl::OkStatus();
  }
  absl::Status EncodeAddRuns(const float* x, const EncodeRun* runs, size_t num_runs,
                             const double* factors, const PhiloxStream* streams, double scale,
                             double limit, uint64_t* acc) override {
    for (size_t r = 0; r < num_runs; ++r) {
      const EncodeRun& run = runs[r];
      const double f = factors[run.client];
      if (f == 0) continue;
      for (uint32_t j = 0; j < run.len; ++j) {
        acc[run.at + j] +=
            EncodeAt(streams[run.client], run.dst + j, x[run.src + j], scale * f, limit);
      }
    }
    return absl::OkStatus();
  }

  absl::Status SharedNegativeLossRows(bool gbce, float beta, const float* pos, const uint8_t* valid,
                                      const uint32_t* counts, const float* logq, size_t batch,
                                      size_t len, size_t width, float* nl, float* loss,
                                      float* dpos) override {
    for (size_t r = 0; r < batch * len; ++r) {
      const size_t b = r / len;
      float* row = nl + r * width;
      if (logq != nullptr) {
        for (size_t k = 0; k < counts[b]; ++k) row[k] -= logq[b * width + k];
      }
      loss[r] = SharedNegativesRow<float>(gbce, beta, pos[r], counts[b], width, valid[r] != 0, row,
                                          dpos + r);
    }
    return absl::OkStatus();
  }
  absl::Status StepDropoutMasks(const MaskSource* sources, const uint32_t* first, float rate,
                                size_t batch, size_t steps, size_t width, float* mask) override {
    const float keep = 1.0f / (1.0f - rate);
    for (size_t t = 0; t < steps; ++t) {
      for (size_t b = 0; b < batch; ++b) {
        float* row = mask + (t * batch + b) * width;
        if (t < first[b]) {
          std::fill_n(row, width, 0.0f);
          continue;
        }
        const uint64_t start = sources[b].first_word + (t - first[b]) * width;
        for (size_t j = 0; j < width; ++j) {
          row[j] = FloatDropoutEntry(PhiloxStreamWord(sources[b].stream, start + j), rate, keep);
        }
      }
    }
    return absl::OkStatus();
  }
  absl::Status BprLoss(const float* pos_logits, const float* neg_logits, const uint8_t* valid,
                       size_t n, size_t k, float* loss, float* dpos, float* dneg) override {
    for (size_t t = 0; t < n; ++t) {
      loss[t] = BprPosition<float>(pos_logits[t], neg_logits + t, n, k, valid[t] != 0, dpos + t,
                                   dneg + t);
    }
    return absl::OkStatus();
  }
  absl::Status AddScaledRows(const float* coef, const float* table, size_t d, const uint32_t* ids,
                             size_t n, float* dh) override {
    for (size_t t = 0; t < n; ++t) {
      if (ids[t] == kNoItem) continue;
      const float* row = table + static_cast<size_t>(ids[t]) * d;
      for (size_t j = 0; j < d; ++j) dh[t * d + j] += coef[t] * row[j];
    }
    return absl::OkStatus();
  }

  absl::Status GruForwardStep(const float* gi, const float* gh, const float* h_prev,
                              const uint32_t* first, size_t step, size_t batch, size_t hidden,
                              float* gates, float* ghn, float* h_next) override {
    const size_t h = hidden;
    for (size_t b = 0; b < batch; ++b) {
      if (step < first[b]) {
        std::fill_n(gates + b * 3 * h, 3 * h, 0.0f);
        std::fill_n(ghn + b * h, h, 0.0f);
        std::fill_n(h_next + b * h, h, 0.0f);
        continue;
      }
      for (size_t j = 0; j < h; ++j) {
        GruForwardUnit(gi + b * 3 * h, gh + b * 3 * h, h_prev + b * h, h, j, gates + b * 3 * h,
                       ghn + b * h, h_next + b * h);
      }
    }
    return absl::OkStatus();
  }
  absl::Status GruBackwardStep(const float* dout, const float* gates, const float* ghn,
                               const float* h_prev, const uint32_t* first, size_t step,
                               size_t batch, size_t hidden, float* dh, float* dgi,
                               float* dgh) override {
    const size_t h = hidden;
    for (size_t b = 0; b < batch; ++b) {
      if (step < first[b]) {
        std::fill_n(dh + b * h, h, 0.0f);
        std::fill_n(dgi + b * 3 * h, 3 * h, 0.0f);
        std::fill_n(dgh + b * 3 * h, 3 * h, 0.0f);
        continue;
      }
      for (size_t j = 0; j < h; ++j) {
        GruBackwardUnit(gates + b * 3 * h, ghn + b * h, h_prev + b * h, dout + b * h, h, j,
                        dh + b * h, dgi + b * 3 * h, dgh + b * 3 * h);
      }
    }
    return absl::OkStatus();
  }
  absl::Status SetAt(float* x, const uint64_t* offsets, size_t n, float value) override {
    for (size_t i = 0; i < n; ++i) x[offsets[i]] = value;
    return absl::OkStatus();
  }
  absl::Status FullSoftmaxRows(const uint32_t* targets, const uint8_t* valid,
                               const uint8_t* excluded, size_t rows, size_t cols, float* logits,
                               float* loss) override {
    // The device's block, its lanes run one after another.
    float partial[kFullSoftmaxLanes];
    for (size_t r = 0; r < rows; ++r) {
      float* row = logits + r * cols;
      if (valid[r] == 0) {
        std::fill_n(row, cols, 0.0f);
        loss[r] = 0.0f;
        continue;
      }
      const float target_logit = row[targets[r]];
      for (size_t p = 0; p < kFullSoftmaxLanes; ++p) {
        partial[p] = FullSoftmaxLaneMax(row, excluded, cols, p);
      }
      for (size_t half = kFullSoftmaxLanes / 2; half > 0; half /= 2) {
        for (size_t p = 0; p < half; ++p) FullSoftmaxTree(partial, p, half, true);
      }
      const float max = partial[0];
      for (size_t p = 0; p < kFullSoftmaxLanes; ++p) {
        partial[p] = FullSoftmaxLaneExp(row, excluded, cols, p, max);
      }
      for (size_t half = kFullSoftmaxLanes / 2; half > 0; half /= 2) {
        for (size_t p = 0; p < half; ++p) FullSoftmaxTree(partial, p, half, false);
      }
      const float sum = partial[0];
      for (size_t p = 0; p < kFullSoftmaxLanes; ++p) {
        FullSoftmaxLaneGradient(row, cols, p, 1.0f / sum, targets[r]);
      }
      loss[r] = FullSoftmaxRowLoss(max, sum, target_logit);
    }
    return absl::OkStatus();
  }
  absl::Status CountAboveRows(const float* s, size_t rows, size_t cols, size_t ld,
                              const float* thresholds, uint64_t* greater, uint64_t* ties) override {
    for (size_t i = 0; i < rows; ++i) {
      const float t = thresholds[i];
      for (size_t j = 0; j < cols; ++j) {
        const float v = s[i * ld + j];
        greater[i] += v > t ? 1 : 0;
        ties[i] += v == t ? 1 : 0;
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<TensorOps> NewHostTensorOps() { return std::make_unique<HostTensorOps>(); }

}  // namespace fedrec::kernels
