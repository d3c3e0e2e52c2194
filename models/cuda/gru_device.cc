#include "models/cuda/gru_device.h"

#include <memory>

#include "models/cuda/growing_buffer.h"

namespace fedrec::kernels {

struct GruDeviceLayer::Buffers {
  // gates: the input projection, then the activated gates (T B x 3H);
  // ghn: W_hn h + b_hn per step (T B x H); hs: h_0 = 0, then the state after
  // each step ((T + 1) B x H); gh: one step's hidden projection (B x 3H);
  // dh: the gradient carried to the previous step (B x H); dgi, dgh: the
  // pre-activation gradients of every step (T B x 3H).
  GrowingBuffer gates, ghn, hs, gh, dh, dgi, dgh;
  GruDeviceWeights w;
  const float* x = nullptr;
  const uint32_t* first = nullptr;
  size_t batch = 0, steps = 0;
};

GruDeviceLayer::GruDeviceLayer(TensorOps* ops, size_t hidden)
    : ops_(ops), hidden_(hidden), buffers_(std::make_unique<Buffers>()) {}

GruDeviceLayer::~GruDeviceLayer() = default;

absl::Status GruDeviceLayer::Forward(const GruDeviceWeights& w, const float* x,
                                     const uint32_t* first, size_t batch, size_t steps,
                                     float* out) {
  TensorOps& ops = *ops_;
  Buffers& c = *buffers_;
  const size_t h = hidden_, B = batch, rows = steps * batch;
  c.w = w;
  c.x = x;
  c.first = first;
  c.batch = batch;
  c.steps = steps;
  if (rows == 0) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(float* gates, c.gates.Get<float>(ops, rows * 3 * h));
  FEDREC_ASSIGN_OR_RETURN(float* ghn, c.ghn.Get<float>(ops, rows * h));
  FEDREC_ASSIGN_OR_RETURN(float* hs, c.hs.Get<float>(ops, (rows + B) * h));
  FEDREC_ASSIGN_OR_RETURN(float* gh, c.gh.Get<float>(ops, B * 3 * h));
  // The input projection of every step: bias rows, then the product added
  // (GruLayer's order).
  FEDREC_RETURN_IF_ERROR(ops.BiasRows(w.b_ih, rows, 3 * h, gates));
  FEDREC_RETURN_IF_ERROR(
      ops.Gemm(false, true, rows, 3 * h, h, 1.0f, x, h, w.w_ih, h, 1.0f, gates, 3 * h));
  FEDREC_RETURN_IF_ERROR(ops.Zero(hs, B * h));
  for (size_t t = 0; t < steps; ++t) {
    const float* hp = hs + t * B * h;
    FEDREC_RETURN_IF_ERROR(ops.BiasRows(w.b_hh, B, 3 * h, gh));
    FEDREC_RETURN_IF_ERROR(
        ops.Gemm(false, true, B, 3 * h, h, 1.0f, hp, h, w.w_hh, h, 1.0f, gh, 3 * h));
    float* g = gates + t * B * 3 * h;
    FEDREC_RETURN_IF_ERROR(
        ops.GruForwardStep(g, gh, hp, first, t, B, h, g, ghn + t * B * h, hs + (t + 1) * B * h));
  }
  return ops.Copy(hs + B * h, rows * h, out);
}

absl::Status GruDeviceLayer::Backward(const float* dout, const GruDeviceGradients& g, float* dx) {
  TensorOps& ops = *ops_;
  Buffers& c = *buffers_;
  const size_t h = hidden_, B = c.batch, T = c.steps, rows = T * B;
  if (rows == 0) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(float* gates, c.gates.Get<float>(ops, rows * 3 * h));
  FEDREC_ASSIGN_OR_RETURN(float* ghn, c.ghn.Get<float>(ops, rows * h));
  FEDREC_ASSIGN_OR_RETURN(float* hs, c.hs.Get<float>(ops, (rows + B) * h));
  FEDREC_ASSIGN_OR_RETURN(float* dh, c.dh.Get<float>(ops, B * h));
  FEDREC_ASSIGN_OR_RETURN(float* dgi, c.dgi.Get<float>(ops, rows * 3 * h));
  FEDREC_ASSIGN_OR_RETURN(float* dgh, c.dgh.Get<float>(ops, rows * 3 * h));
  FEDREC_RETURN_IF_ERROR(ops.Zero(dh, B * h));
  for (size_t t = T; t-- > 0;) {
    float* dgh_t = dgh + t * B * 3 * h;
    FEDREC_RETURN_IF_ERROR(ops.GruBackwardStep(dout + t * B * h, gates + t * B * 3 * h,
                                               ghn + t * B * h, hs + t * B * h, c.first, t, B, h,
                                               dh, dgi + t * B * 3 * h, dgh_t));
    // The recurrent path: dh_{t-1} += dgh_t W_hh.
    FEDREC_RETURN_IF_ERROR(
        ops.Gemm(false, false, B, h, 3 * h, 1.0f, dgh_t, 3 * h, c.w.w_hh, h, 1.0f, dh, h));
  }
  // Weight gradients over every step: dW_ih += dgi^T x, dW_hh += dgh^T
  // h_prev, the biases their column sums.
  FEDREC_RETURN_IF_ERROR(
      ops.Gemm(true, false, 3 * h, h, rows, 1.0f, dgi, 3 * h, c.x, h, 1.0f, g.w_ih, h));
  FEDREC_RETURN_IF_ERROR(
      ops.Gemm(true, false, 3 * h, h, rows, 1.0f, dgh, 3 * h, hs, h, 1.0f, g.w_hh, h));
  FEDREC_RETURN_IF_ERROR(ops.ColumnSums(dgi, rows, 3 * h, g.b_ih));
  FEDREC_RETURN_IF_ERROR(ops.ColumnSums(dgh, rows, 3 * h, g.b_hh));
  if (dx == nullptr) return absl::OkStatus();
  return ops.Gemm(false, false, rows, h, 3 * h, 1.0f, dgi, 3 * h, c.w.w_ih, h, 0.0f, dx, h);
}

}  // namespace fedrec::kernels
