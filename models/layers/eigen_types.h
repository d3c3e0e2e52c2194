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
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

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

// A buffer whose start is aligned for Eigen's widest packet (32 bytes with
// AVX, 64 with AVX-512). Eigen peels the unaligned head of a vectorised loop
// over a plain map and computes it with scalar code; for exp, log and tanh
// the scalar and packet versions round differently, so a buffer at an
// arbitrary malloc address (16-byte aligned) would make results depend on
// the address. With every scratch buffer starting aligned, which elements
// are peeled depends only on offsets, the same in every run, thread and
// model copy.
template <typename S>
using AlignedVector = std::vector<S, Eigen::aligned_allocator<S>>;

// The sum of a vector in an order that does not depend on where its data
// lies in memory. Eigen's sum() of a plain (direct-access) map or block
// starts its vector loop at the first element aligned for a full packet (32
// bytes with AVX), so its rounding depends on the buffer's address, and
// malloc aligns only to 16: two runs, threads or model copies could differ
// in the last bit. Through an expression (x * 1, exact) Eigen starts at
// element 0 wherever the data lies. Use it for every sum of a buffer row.
template <typename Derived>
typename Derived::Scalar AddressFreeSum(const Eigen::DenseBase<Derived>& x) {
  return (x.derived().array() * typename Derived::Scalar(1)).sum();
}

// ReLU's backward in place: g[i] = y[i] > 0 ? g[i] * mask[i] : +0, where y
// is the activation after the ReLU (and any dropout) and mask the dropout
// mask (nullptr: none). The same values as Eigen's select, whose loop is
// scalar with a branch per entry. The choice is a bit mask (all ones or
// zero) ANDed onto the value, which the compiler vectorises; a conditional
// expression would be turned back into a branch, since the multiply may not
// be speculated under -ftrapping-math.
template <typename S>
void ReluBackwardInPlace(const S* __restrict y, const S* __restrict mask, S* __restrict g,
                         size_t n) {
  using Bits = std::conditional_t<sizeof(S) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(Bits) == sizeof(S));
  for (size_t i = 0; i < n; ++i) {
    const S v = mask != nullptr ? g[i] * mask[i] : g[i];
    const Bits keep = Bits{0} - static_cast<Bits>(y[i] > S(0));
    g[i] = std::bit_cast<S>(std::bit_cast<Bits>(v) & keep);
  }
}

}  // namespace fedrec::layers
