// A GRU layer (models/layers/gru.h) over a batch of windows, written against
// TensorOps (tensor_ops.h): the building block of GRU4Rec on the GPU,
// checked on the CPU (HostTensorOps) against GruLayer.
//
// Layout: time-major, step t of window b at row t B + b (B windows, T
// steps); window b's first first[b] steps are padding, right-aligned as in
// SasRecWindowBatch. Through the padding a window's state stays exactly 0,
// so its valid steps compute what GruLayer computes on them alone from a
// zero initial state, and no gradient reaches a padding step.
//
// Per step: one GEMM for the hidden projection of all B windows
// (B x H by H x 3H) and one kernel for the gates; the input projection of
// every step is one GEMM before the loop. Backward through time is the
// mirror image, with the weight gradients as two GEMMs over all T B rows
// after the loop. Every sum runs in a fixed order: a run repeats bitwise.
//
// Not yet wired into a model: GRU4Rec still trains on the CPU.
//
// Thread safety: one layer per thread (it owns its caches in the ops'
// memory and uses its TensorOps).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/status.h"
#include "models/cuda/tensor_ops.h"

namespace fedrec::kernels {

// One layer's weights in the ops' memory, PyTorch's layout (gru.h):
// w_ih, w_hh (3H x H, row-major), b_ih, b_hh (3H). Input size = H.
struct GruDeviceWeights {
  const float* w_ih = nullptr;
  const float* w_hh = nullptr;
  const float* b_ih = nullptr;
  const float* b_hh = nullptr;
};
// Gradient accumulators shaped like the weights; Backward adds to them.
struct GruDeviceGradients {
  float* w_ih = nullptr;
  float* w_hh = nullptr;
  float* b_ih = nullptr;
  float* b_hh = nullptr;
};

class GruDeviceLayer {
 public:
  GruDeviceLayer(TensorOps* ops, size_t hidden);
  ~GruDeviceLayer();

  // out (T B x H) = the states after every step, for the input x (T B x H,
  // already masked; it must stay valid and unchanged until Backward).
  // first: B words in the ops' memory. Caches what Backward needs.
  absl::Status Forward(const GruDeviceWeights& w, const float* x, const uint32_t* first,
                       size_t batch, size_t steps, float* out);
  // Backpropagation through time for the last Forward: dout (T B x H) is
  // d loss / d out; adds the weight gradients into g and writes dx
  // (T B x H, null to skip).
  absl::Status Backward(const float* dout, const GruDeviceGradients& g, float* dx);

 private:
  struct Buffers;
  TensorOps* ops_;
  size_t hidden_;
  std::unique_ptr<Buffers> buffers_;
};

}  // namespace fedrec::kernels
