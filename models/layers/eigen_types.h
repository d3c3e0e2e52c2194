// Row-major Eigen maps over plain buffers: the currency of models/layers/.
//
// Every layer takes its inputs and outputs as maps of row-major (rows x cols)
// matrices over caller-owned memory, so the caller (a model) decides where
// activations live (a reusable workspace) and no layer allocates. Layers are
// templated on the scalar: models instantiate float, gradient checks double.
//
// Conventions of every Backward in this folder:
//   - gradients of parameters are ACCUMULATED (+=), so a batch can sum into
//     one buffer;
//   - gradients of inputs are ACCUMULATED too (dx += ...), so residual
//     branches just add into the same buffer; the caller zeroes it first;
//   - Forward fills a cache struct (caller-owned buffers) that Backward reads.
#pragma once

#include <Eigen/Core>

namespace fedrec::layers {

template <typename S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using MatrixMap = Eigen::Map<Matrix<S>>;
template <typename S>
using ConstMatrixMap = Eigen::Map<const Matrix<S>>;
// A (1 x n) row vector over a buffer (biases, LayerNorm gamma/beta).
template <typename S>
using RowVectorMap = Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>>;
template <typename S>
using ConstRowVectorMap = Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>;

// A read-only map of the same memory.
template <typename S>
ConstMatrixMap<S> AsConst(const MatrixMap<S>& m) {
  return ConstMatrixMap<S>(m.data(), m.rows(), m.cols());
}

}  // namespace fedrec::layers
