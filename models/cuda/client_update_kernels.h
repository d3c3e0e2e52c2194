// Bodies of the client-update operations (TensorOps::EncodeAddRuns and
// SegmentSquaredNorms) for host AND device, like layer_kernels.h: the
// device's kernels and HostTensorOps call the same code.
//
// A GPU client's fixed-point encoding is aggregation/fixed_point.h's
// stochastic rounding (round(clamp(x s, +-limit)), up with probability
// frac(y) from one 32-bit uniform) with one difference: the uniform for
// coordinate i of the global layout is word i of the client's Philox stream
// (seed, "encode", round, client), not the next draw of a sequential
// stream, so every coordinate is encoded independently and in any order.
// Pure functions: safe from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/philox.h"

namespace fedrec::kernels {

// round(clamp(x s, +-limit)) as a two's-complement word: floor, then up by
// one when word < frac 2^32. |limit| must be below 2^62.
FEDREC_HOST_DEVICE inline uint64_t EncodeCoordinate(float x, double s, double limit,
                                                    uint32_t word) {
  constexpr double kTwo32 = 4294967296.0;
  double y = static_cast<double>(x) * s;
  y = y < -limit ? -limit : (y > limit ? limit : y);
  int64_t t = static_cast<int64_t>(y);                    // toward zero
  t -= static_cast<int64_t>(y < static_cast<double>(t));  // floor
  const double frac = y - static_cast<double>(t);
  t += static_cast<int64_t>(static_cast<double>(word) < frac * kTwo32);
  return static_cast<uint64_t>(t);
}

// x scale (+ *shift): one entry of WindowAffineRows (the layer norm's
// affine with per-window parameters).
FEDREC_HOST_DEVICE inline float AffineEntry(float x, float scale, const float* shift) {
  return shift != nullptr ? x * scale + *shift : x * scale;
}

// The word EncodeAddRuns adds at global coordinate `dst` for value x.
FEDREC_HOST_DEVICE inline uint64_t EncodeAt(const PhiloxStream& stream, uint64_t dst, float x,
                                            double s, double limit) {
  return EncodeCoordinate(x, s, limit, PhiloxStreamWord(stream, dst));
}

}  // namespace fedrec::kernels
