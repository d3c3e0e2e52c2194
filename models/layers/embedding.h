// Embedding lookup with a row-sparse backward.
#pragma once

#include <cstdint>
#include <span>

#include "models/gradients.h"
#include "models/layers/eigen_types.h"

namespace fedrec::layers {

// out[n x d] = scale * table[ids[t]] for t < n = ids.size().
template <typename S>
void EmbeddingForward(ConstMatrixMap<S> table, std::span<const uint32_t> ids, S scale,
                      MatrixMap<S> out) {
  for (size_t t = 0; t < ids.size(); ++t) out.row(t) = scale * table.row(ids[t]);
}

// dtable[ids[t]] += scale * dout[t]. When `tracker` is not null, every
// written row is first recorded with tracker->MarkRow(tensor, row), which
// keeps the Gradients sparse-row invariant (dtable is then a view of tensor
// `tensor` of tracker->values(), or a double mirror of it in tests).
template <typename S>
void EmbeddingBackward(std::span<const uint32_t> ids, S scale, ConstMatrixMap<S> dout,
                       MatrixMap<S> dtable, Gradients* tracker, size_t tensor) {
  for (size_t t = 0; t < ids.size(); ++t) {
    if (tracker != nullptr) tracker->MarkRow(tensor, ids[t]);
    dtable.row(ids[t]) += scale * dout.row(t);
  }
}

}  // namespace fedrec::layers
