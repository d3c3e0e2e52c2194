// A GRU layer over one sequence with explicit forward and backpropagation
// through time. PyTorch's gate convention (torch.nn.GRU):
//   r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
//   z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
//   n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
//   h_t = (1 - z_t) * n_t + z_t * h_{t-1}
// Weights are stacked in the order [r; z; n] as in PyTorch:
//   w_ih: (3H x D) row-major, w_hh: (3H x H) row-major, b_ih, b_hh: (3H).
// Sequences are (T x D) inputs and (T x H) outputs, row-major (one time step
// per row).
//
// An optional input mask (T x D, e.g. inverted-dropout factors 0 or 1/(1-p))
// multiplies the input elementwise before the layer reads it; the backward
// pass applies it to dx as well.
//
// Cost: the input projection of all steps is one GEMM (T x D) x (D x 3H), the
// recurrence one GEMV (3H x H) per step; backward batches the weight
// gradients into two GEMMs. A GruLayer object is only the cache of one
// forward pass (what backward needs); its buffers grow to the largest T seen
// and are then reused, so steady-state calls do not allocate.
//
// Templated on the scalar: double for gradient checks, float in the models.
// Not thread-safe: one GruLayer per thread (it lives in a model Workspace).
#pragma once

#include <cstddef>
#include <vector>

#include "models/layers/eigen_types.h"

namespace fedrec {

// Read-only weights of one GRU layer (pointers into a parameter store).
template <typename Scalar>
struct GruWeights {
  int input_dim = 0;             // D
  int hidden_dim = 0;            // H
  const Scalar* w_ih = nullptr;  // (3H x D)
  const Scalar* w_hh = nullptr;  // (3H x H)
  const Scalar* b_ih = nullptr;  // (3H)
  const Scalar* b_hh = nullptr;  // (3H)
};

// Gradient accumulators shaped like GruWeights; Backward ADDS to them.
template <typename Scalar>
struct GruGradients {
  Scalar* w_ih = nullptr;  // (3H x D)
  Scalar* w_hh = nullptr;  // (3H x H)
  Scalar* b_ih = nullptr;  // (3H)
  Scalar* b_hh = nullptr;  // (3H)
};

template <typename Scalar>
class GruLayer {
 public:
  // Runs the layer over x (T x D). h0 (H) is the initial state, nullptr for
  // zeros. input_mask (T x D) or nullptr (no mask). Writes out (T x H), the
  // hidden state after each step. `w`'s arrays must stay valid and unchanged
  // until Backward. T == 0 is allowed (nothing happens).
  void Forward(const GruWeights<Scalar>& w, const Scalar* x, int steps, const Scalar* h0,
               const Scalar* input_mask, Scalar* out);

  // Backpropagation through time for the last Forward. dout (T x H) is
  // d loss / d out. Adds the weight gradients to *grads; writes dx (T x D,
  // nullptr to skip) and dh0 (H, nullptr to skip).
  void Backward(const Scalar* dout, GruGradients<Scalar>* grads, Scalar* dx, Scalar* dh0);

 private:
  GruWeights<Scalar> w_;
  int steps_ = 0;
  bool masked_ = false;
  layers::AlignedVector<Scalar> xm_;     // (T x D) masked input
  layers::AlignedVector<Scalar> mask_;   // (T x D) copy of the mask
  layers::AlignedVector<Scalar> hs_;     // ((T+1) x H): h_0 .. h_T
  layers::AlignedVector<Scalar> gates_;  // (T x 3H): r, z, n after their activations
  layers::AlignedVector<Scalar> ghn_;    // (T x H): W_hn h_{t-1} + b_hn
  layers::AlignedVector<Scalar> gh_;     // (3H) scratch
  layers::AlignedVector<Scalar> dgi_;    // (T x 3H)
  layers::AlignedVector<Scalar> dgh_;    // (T x 3H)
  layers::AlignedVector<Scalar> dh_;     // (H)
};

extern template class GruLayer<float>;
extern template class GruLayer<double>;

}  // namespace fedrec
