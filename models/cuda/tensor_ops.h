// The operations the GPU models are written in, behind one interface with
// two implementations:
//   - CudaTensorOps (cuda_tensor_ops.cu): cuBLAS for the products, the
//     kernels of layer_kernels.h and a few element-wise kernels, on one
//     stream of one device;
//   - HostTensorOps (host_tensor_ops.cc): the same algorithms on the CPU,
//     running the very bodies of layer_kernels.h over every row and plain
//     loops for the rest.
// A model written once against TensorOps (e.g. sasrec_device.h) is checked
// in CI on HostTensorOps against the CPU model, and on a GPU its
// CudaTensorOps run is checked against the HostTensorOps run. Only the thin
// launch layer is left to the GPU tests.
//
// Conventions: matrices are row-major, every pointer lies in the memory the
// implementation computes in (device memory for CudaTensorOps), sizes of 0
// do nothing. Calls are enqueued in order; results are visible to later
// calls, and to the host after Download (which waits). Errors are returned
// as absl::Status (InternalError for a CUDA or cuBLAS failure, with the call
// and the reason; a fault inside a kernel surfaces at the next Download).
// Reductions run in a fixed order: results do not depend on timing.
//
// Thread safety: an implementation is used by one thread at a time; a
// thread that did not create it calls BindToCallingThread first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "core/philox.h"
#include "core/status.h"

namespace fedrec::kernels {

// Memory owned by a TensorOps implementation, freed with the object.
class OpsBuffer {
 public:
  virtual ~OpsBuffer() = default;
  virtual void* data() const = 0;
  template <typename T>
  T* as() const {
    return static_cast<T*>(data());
  }
};

// Where one sequence's dropout masks come from: its stream and the first
// word of the stream the mask takes (masks follow one another in a stream
// in the CPU model's order).
struct MaskSource {
  PhiloxStream stream;
  uint64_t first_word = 0;
};

// A contiguous run of one client's update, encoded into a sum
// (TensorOps::EncodeAddRuns): x[src, src + len) as global coordinates
// [dst, dst + len) (whose words of the client's stream round them), added
// into acc[at, at + len) (at = dst for a sum in the global layout).
struct EncodeRun {
  uint64_t src = 0;
  uint64_t dst = 0;
  uint64_t at = 0;
  uint32_t len = 0;
  uint32_t client = 0;  // index into the call's factors and streams
};

class TensorOps {
 public:
  virtual ~TensorOps() = default;

  // Makes the calling thread ready to use this object (CUDA: selects its
  // device on the thread). Call it first on any thread other than the one
  // that created the object; cheap when nothing changes.
  virtual absl::Status BindToCallingThread() { return absl::OkStatus(); }

  // ------------------------------------------------------------ memory
  // `bytes` of uninitialised memory.
  virtual absl::StatusOr<std::unique_ptr<OpsBuffer>> Allocate(size_t bytes) = 0;
  virtual absl::Status Upload(void* dst, const void* host, size_t bytes) = 0;
  // Waits for every enqueued call, then copies.
  virtual absl::Status Download(void* host, const void* src, size_t bytes) = 0;
  virtual absl::Status Zero(float* x, size_t n) = 0;
  virtual absl::Status Copy(const float* src, size_t n, float* dst) = 0;

  // ---------------------------------------------------------- products
  // C[m x n] = alpha op(A) op(B) + beta C, op(X) = X or X^T; lda, ldb, ldc
  // are row strides of the stored matrices (A is m x k, or k x m when
  // transposed).
  virtual absl::Status Gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha,
                            const float* a, size_t lda, const float* b, size_t ldb, float beta,
                            float* c, size_t ldc) = 0;
  // `batch` independent Gemms; matrix i starts at a + i stride_a (and so
  // on).
  virtual absl::Status GemmStridedBatched(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                                          float alpha, const float* a, size_t lda, size_t stride_a,
                                          const float* b, size_t ldb, size_t stride_b, float beta,
                                          float* c, size_t ldc, size_t stride_c, size_t batch) = 0;

  // ------------------------------------------------------- element-wise
  // y[i][j] = bias[j] for every row i (the start of an affine layer).
  virtual absl::Status BiasRows(const float* bias, size_t rows, size_t cols, float* y) = 0;
  // out[j] += sum_i x[i][j], rows in increasing order (a bias gradient).
  virtual absl::Status ColumnSums(const float* x, size_t rows, size_t cols, float* out) = 0;
  // out = a + b (out may alias either).
  virtual absl::Status Add(const float* a, const float* b, size_t n, float* out) = 0;
  // out = a o b (out may alias either).
  virtual absl::Status Multiply(const float* a, const float* b, size_t n, float* out) = 0;
  // x = max(x, 0) in place.
  virtual absl::Status Relu(float* x, size_t n) = 0;
  // g = y > 0 ? g (o mask) : 0 (layers::ReluBackwardInPlace); mask may be null.
  virtual absl::Status ReluBackward(const float* y, const float* mask, size_t n, float* g) = 0;

  // -------------------------------------------- batches of windows
  // A batch is `batch` windows of `len` rows of width `width`, window b's
  // first first[b] rows padding (first: `batch` words in this memory).
  // Padding rows of x are set to zero.
  virtual absl::Status ZeroPaddingRows(const uint32_t* first, size_t batch, size_t len,
                                       size_t width, float* x) = 0;
  // x[b][r] += rows[r] for every window b (the position embeddings).
  virtual absl::Status AddToEveryWindow(const float* rows, size_t batch, size_t len, size_t width,
                                        float* x) = 0;
  // out[r] += sum_b x[b][r], windows in increasing order.
  virtual absl::Status SumOverWindows(const float* x, size_t batch, size_t len, size_t width,
                                      float* out) = 0;
  // Window b's valid rows as one flat mask of (len - first[b]) width
  // entries from sources[b] (layers::FillDropoutMask), padding rows zero.
  virtual absl::Status WindowDropoutMasks(const MaskSource* sources, const uint32_t* first,
                                          double rate, size_t batch, size_t len, size_t width,
                                          float* mask) = 0;
  // The attention dropout of window b (heads x len x len, [b][h][i][j]):
  // for valid rows i >= first[b], entries j in [first[b], i] are head h's
  // triangle row i - first[b] (layers::FillDropoutMaskTriangle over the
  // len - first[b] valid positions, heads one after another); every other
  // entry is zero.
  virtual absl::Status AttentionDropoutMasks(const MaskSource* sources, const uint32_t* first,
                                             double rate, size_t batch, size_t heads, size_t len,
                                             float* mask) = 0;

  // ------------------------------------------------ layer_kernels.h
  // Layer norm over `rows` rows of width d; y may alias x.
  virtual absl::Status LayerNormForward(const float* x, const float* gamma, const float* beta,
                                        size_t rows, size_t d, float* xhat, float* rstd,
                                        float* y) = 0;
  // dx += ...; dgamma += ...; dbeta += ... (dx must not alias dy).
  virtual absl::Status LayerNormBackward(const float* xhat, const float* rstd, const float* gamma,
                                         const float* dy, size_t rows, size_t d, float* dx,
                                         float* dgamma, float* dbeta) = 0;
  // `windows` len x len score matrices, window w's padding first[w] slots.
  virtual absl::Status CausalSoftmaxForward(const float* scores, size_t windows, size_t len,
                                            const uint32_t* first, float scale, float* p) = 0;
  virtual absl::Status CausalSoftmaxBackward(const float* p, const float* dpd, const float* mask,
                                             size_t windows, size_t len, const uint32_t* first,
                                             float scale, float* ds) = 0;
  // out[t] = scale table[ids[t]], zeros where ids[t] == kNoItem.
  virtual absl::Status Gather(const float* table, size_t d, const uint32_t* ids, size_t n,
                              float scale, float* out) = 0;
  // out[t] = <h[t], table[ids[t]]> (LaneSum order), 0 where ids[t] == kNoItem.
  virtual absl::Status GatheredRowDots(const float* h, const float* table, size_t d,
                                       const uint32_t* ids, size_t n, float* out) = 0;
  // The paper's BCE per position (BcePosition); valid[t] == 0: padding.
  virtual absl::Status BceLoss(const float* pos_logits, const float* neg_logits,
                               const uint8_t* valid, size_t n, float* loss, float* dpos,
                               float* dneg) = 0;
  // dh[t] += dpos[t] table[pos[t]] + dneg[t] table[neg[t]] (padding: ids
  // kNoItem, coefficients 0: nothing added).
  virtual absl::Status BceHiddenGrad(const float* dpos, const float* dneg, const float* table,
                                     size_t d, const uint32_t* pos, const uint32_t* neg, size_t n,
                                     float* dh) = 0;
  // out[t] = coef[t] x[t] (rows of width d).
  virtual absl::Status ScaleRows(const float* coef, const float* x, size_t n, size_t d,
                                 float* out) = 0;
  // dtable[rows[k]] += scale src[t] for the plan's slots (ScatterAddSlot);
  // rows/offsets/positions in this memory, `slots` entries in rows.
  virtual absl::Status ScatterAdd(const uint32_t* rows, const uint32_t* offsets,
                                  const uint32_t* positions, size_t slots, const float* src,
                                  size_t d, float scale, float* dtable) = 0;

  // ------------------------------ per-window gradients (one client each)
  // out[b out_stride + j] += sum_r x[b][r][j], rows in increasing order:
  // window b's own bias gradient.
  virtual absl::Status WindowColumnSums(const float* x, size_t batch, size_t len, size_t width,
                                        float* out, size_t out_stride) = 0;
  // Window b's layer-norm parameter gradients (LayerNormParamGradColumn over
  // its len rows) added at dgamma + b out_stride and dbeta + b out_stride.
  virtual absl::Status WindowLayerNormParamGrads(const float* xhat, const float* dy, size_t batch,
                                                 size_t len, size_t d, float* dgamma, float* dbeta,
                                                 size_t out_stride) = 0;
  // dst[b dst_stride + i] += src[b src_stride + i] for b < batch, i < n.
  virtual absl::Status AddStrided(const float* src, size_t src_stride, float* dst,
                                  size_t dst_stride, size_t n, size_t batch) = 0;

  // y[b][r][j] = x[b][r][j] scale[b stride + j] (+ shift[b stride + j]
  // unless shift is null): window b's own layer-norm affine (y may alias x).
  virtual absl::Status WindowAffineRows(const float* x, const float* scale, const float* shift,
                                        size_t stride, size_t batch, size_t len, size_t width,
                                        float* y) = 0;

  // ------------------------------------------------ clients' updates
  // p[i] -= lr (g[i] scales[s]) for i in [bounds[2s], bounds[2s+1]): one
  // local SGD step per client, the CPU client's roundings.
  virtual absl::Status SgdSegments(const float* g, const uint64_t* bounds, const float* scales,
                                   size_t segments, float lr, float* p) = 0;
  // out = a - b (out may alias either).
  virtual absl::Status Subtract(const float* a, const float* b, size_t n, float* out) = 0;
  // out[s] = sum of x[i]^2 in double over i in [bounds[2s], bounds[2s+1]),
  // in a fixed order (the device's tree differs from the host's loop by
  // rounding only); out in this memory.
  virtual absl::Status SegmentSquaredNorms(const float* x, const uint64_t* bounds, size_t segments,
                                           double* out) = 0;
  // For every run and j < run.len, with c = run.client, f = factors[c]:
  //   acc[run.at + j] += EncodeCoordinate(x[run.src + j], scale f, limit,
  //                                       word run.dst + j of streams[c])
  // mod 2^64 (client_update_kernels.h); clients with f == 0 add nothing.
  // Integer additions: the sum does not depend on the order runs are
  // applied in, so the device may add concurrently.
  virtual absl::Status EncodeAddRuns(const float* x, const EncodeRun* runs, size_t num_runs,
                                     const double* factors, const PhiloxStream* streams,
                                     double scale, double limit, uint64_t* acc) = 0;

  // -------------------------------------------------------------- GRU
  // Step `step` of a GRU over `batch` windows (GruForwardUnit for every
  // window b and unit j): gi, gh, gates (may alias gi): batch x 3 hidden;
  // h_prev, ghn, h_next: batch x hidden. A window still in its padding
  // (step < first[b]) gets h_next = 0 and zero gates.
  virtual absl::Status GruForwardStep(const float* gi, const float* gh, const float* h_prev,
                                      const uint32_t* first, size_t step, size_t batch,
                                      size_t hidden, float* gates, float* ghn, float* h_next) = 0;
  // Its backward (GruBackwardUnit): dh (batch x hidden) in: the gradient at
  // h_step from later steps, out: the direct path's share for h_{step-1};
  // writes dgi, dgh (batch x 3 hidden). Padding: all zero.
  virtual absl::Status GruBackwardStep(const float* dout, const float* gates, const float* ghn,
                                       const float* h_prev, const uint32_t* first, size_t step,
                                       size_t batch, size_t hidden, float* dh, float* dgi,
                                       float* dgh) = 0;

  // ------------------------------------------------------------ GRU4Rec
  // Time-major dropout masks (GruDeviceLayer's layout, batch windows of
  // `steps` rows): row t batch + b at valid step s = t - first[b] of window
  // b holds entries e = s width + j, each one NextFloat of sources[b]'s
  // stream at word first_word + e (FloatDropoutEntry); padding rows zero.
  virtual absl::Status StepDropoutMasks(const MaskSource* sources, const uint32_t* first,
                                        float rate, size_t batch, size_t steps, size_t width,
                                        float* mask) = 0;
  // BprPosition per position t < n with k negatives laid out j-major
  // (neg_logits[j n + t], dneg likewise): loss[t], dpos[t], dneg.
  virtual absl::Status BprLoss(const float* pos_logits, const float* neg_logits,
                               const uint8_t* valid, size_t n, size_t k, float* loss, float* dpos,
                               float* dneg) = 0;
  // dh[t] += coef[t] table[ids[t]] for t < n (rows of width d), nothing
  // where ids[t] == kNoItem.
  virtual absl::Status AddScaledRows(const float* coef, const float* table, size_t d,
                                     const uint32_t* ids, size_t n, float* dh) = 0;

  // ------------------------------------------- sampled heads (shared)
  // SharedNegativesRow for every row r = b len + t of `batch` windows of
  // `len` rows: pos[r], valid[r], window b's counts[b] negatives of
  // `width` in nl[r width ..] (minus logq[b width + k] first when logq is
  // not null), overwritten by their gradients; loss[r], dpos[r].
  virtual absl::Status SharedNegativeLossRows(bool gbce, float beta, const float* pos,
                                              const uint8_t* valid, const uint32_t* counts,
                                              const float* logq, size_t batch, size_t len,
                                              size_t width, float* nl, float* loss,
                                              float* dpos) = 0;

  // ----------------------------------------------------- full softmax
  // The full softmax of `rows` rows of `cols` logits (row r at logits + r
  // cols, overwritten by d loss / d logit): loss[r] = log sum_j e^l_j -
  // l_target[r] over the columns not excluded (excluded: cols flags, or
  // null), in layer_kernels.h's lanes (FullSoftmaxLane*); a row with
  // valid[r] == 0 gets loss 0 and a zero gradient.
  virtual absl::Status FullSoftmaxRows(const uint32_t* targets, const uint8_t* valid,
                                       const uint8_t* excluded, size_t rows, size_t cols,
                                       float* logits, float* loss) = 0;

  // ------------------------------------------------------------ ranking
  // x[offsets[i]] = value for i < n.
  virtual absl::Status SetAt(float* x, const uint64_t* offsets, size_t n, float value) = 0;
  // For each row i < rows of the rows x cols matrix s (row stride ld):
  //   greater[i] += #{j : s[i][j] > thresholds[i]},
  //   ties[i]    += #{j : s[i][j] == thresholds[i]}
  // (NaN entries count in neither). Integer counts: no order to fix.
  virtual absl::Status CountAboveRows(const float* s, size_t rows, size_t cols, size_t ld,
                                      const float* thresholds, uint64_t* greater,
                                      uint64_t* ties) = 0;
};

// Makes a new TensorOps (e.g. one per thread's workspace, all on one device).
using TensorOpsFactory = std::function<absl::StatusOr<std::unique_ptr<TensorOps>>()>;

// The CPU implementation: memory is host memory. Never fails except for
// allocation.
std::unique_ptr<TensorOps> NewHostTensorOps();

}  // namespace fedrec::kernels
