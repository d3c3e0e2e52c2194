// Fixed-point encoding of client updates into the ring Z_(2^bits).
//
// Aggregation in fedrec is integer addition mod 2^bits (DESIGN.md, "Exact
// integer aggregation"): each client's clipped update x (L2 norm <= C, so
// every coordinate |x_i| <= C) is scaled by s and stochastically rounded to
// an integer, stored in two's complement mod 2^bits. Integer addition is
// associative, so the sum is bitwise identical for any worker count, backend
// or order.
//
// Scale derivation (no wrap, ever). With at most M contributions per round
// and weights w <= 1, one client's word is |round(w x_i s)| <= C s + 1
// (stochastic rounding moves a value by less than 1), so the sum satisfies
//     |sum| <= M (C s + 1).
// The sum is decoded as a signed bits-bit integer, which is exact while
// |sum| <= 2^(bits-1) - 1. We take the largest power of two
//     s = 2^k  with  M (C s + 1) <= 2^(bits-1) - 1,
// a power of two so that decoding (a multiply by 2^-k) is exact in double.
// Resolution: one client's value is off by less than 1/s per coordinate
// (unbiased: E[round(y)] = y), so a decoded sum of m updates is within m/s of
// the float sum per coordinate, and its mean within 1/s.
//
// M is the largest possible cohort: the fixed cohort size, or under Poisson
// sampling the whole population (every client could be sampled). Derive()
// refuses (InvalidArgument) a configuration whose scale would leave fewer
// than kMinResolutionBits bits below the clip norm (C s < 2^kMinResolutionBits):
// such a sum could only be kept from wrapping by rounding updates to noise.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/random.h"
#include "core/status.h"

namespace fedrec {

class FixedPointCodec {
 public:
  static constexpr int kMinResolutionBits = 8;

  // bits: 32 or 64; clip_norm > 0; max_contributions >= 1.
  static absl::StatusOr<FixedPointCodec> Derive(int bits, double clip_norm,
                                                uint64_t max_contributions);

  int bits() const { return bits_; }
  // log2 of the scale s (may be negative for very large clip norms).
  int scale_log2() const { return scale_log2_; }
  double scale() const { return scale_; }
  // 1/s: the largest rounding error of one encoded coordinate.
  double resolution() const { return 1.0 / scale_; }
  uint64_t max_contributions() const { return max_contributions_; }
  double clip_norm() const { return clip_norm_; }
  // Bitmask of the ring (2^bits - 1).
  uint64_t mask() const { return mask_; }

  // round(x * s) with stochastic rounding, as a ring element in the low
  // `bits` bits. |x| must be <= clip_norm. Rounds up with probability
  // ceil(frac * 2^32) / 2^32 from one rng.NextU32() per non-integer x*s
  // (unbiased up to 2^-32 of the resolution); an exact integer, in
  // particular 0, draws nothing. Rng: RandomStream or FastStream.
  template <typename Rng>
  uint64_t Encode(double x, Rng& rng) const {
    const double y = x * scale_;
    const double lo = std::floor(y);
    int64_t v = static_cast<int64_t>(lo);
    const double frac = y - lo;
    if (frac > 0 && static_cast<double>(rng.NextU32()) < frac * 4294967296.0) ++v;
    return static_cast<uint64_t>(v) & mask_;
  }

  // Bulk form used for client updates: acc[i] += Encode(x[i] * factor) for
  // i < n (the product clamped to [-clip_norm, clip_norm]), mod 2^64 (the
  // caller reduces to 2^bits). Branch-free, one 32-bit uniform per value,
  // two values per 64-bit draw, so a rounded value costs a few cycles.
  // The same probabilities as Encode; the stream is consumed differently.
  template <typename Rng>
  void EncodeAdd(const float* x, size_t n, double factor, Rng& rng, uint64_t* acc) const {
    const double s = scale_ * factor;
    const double lim = clip_norm_ * scale_;
    // Words first, in the order of the one-value-at-a-time loop (one 64-bit
    // draw per two values, low half first, a new draw at every even index),
    // then a loop without a serial dependency that the compiler vectorises.
    // Chunks start at even indices, so the pairing is that of the whole span.
    constexpr size_t kChunk = 512;
    uint32_t words[kChunk];
    for (size_t i0 = 0; i0 < n; i0 += kChunk) {
      const size_t m = n - i0 < kChunk ? n - i0 : kChunk;
      for (size_t j = 0; j < m; j += 2) {
        const uint64_t b = rng.NextU64();
        words[j] = static_cast<uint32_t>(b);
        if (j + 1 < m) words[j + 1] = static_cast<uint32_t>(b >> 32);
      }
      if (lim < kExactFloorLimit) {
        RoundAddChunk(x + i0, m, s, lim, words, acc + i0);
      } else {
        RoundAddChunkScalar(x + i0, m, s, lim, words, acc + i0);
      }
    }
  }

  // The ring element as a signed integer, times 1/s.
  double Decode(uint64_t word) const;

  // One line for logs: "Z_2^32, scale 2^21 (resolution 4.8e-07) for <= 943 clients".
  std::string Describe() const;

 private:
  // Below 2^50 in magnitude, adding and subtracting 1.5 * 2^52 rounds a
  // double to an integer exactly, and the integer's bits are those of the
  // sum minus those of 1.5 * 2^52: floor and conversion without a libm call
  // or a scalar double-to-int64 instruction.
  static constexpr double kExactFloorLimit = 0x1p50;
  static constexpr double kMagic = 0x1.8p52;

  // acc[j] += round(clamp(x[j] * s, +-lim)) with the carry from words[j]:
  // floor t, frac = y - t, up by one when words[j] < frac * 2^32. Exactly the
  // scalar loop's result for |y| <= lim < 2^50.
  // (aggregation/fixed_point.cc, compiled so that this loop is vectorised.)
  static void RoundAddChunk(const float* x, size_t m, double s, double lim, const uint32_t* words,
                            uint64_t* acc);

  // The same for a range too wide for the exact-floor trick (64-bit rings).
  static void RoundAddChunkScalar(const float* x, size_t m, double s, double lim,
                                  const uint32_t* words, uint64_t* acc) {
    constexpr double kTwo32 = 4294967296.0;
    for (size_t j = 0; j < m; ++j) {
      double y = static_cast<double>(x[j]) * s;
      y = y < -lim ? -lim : (y > lim ? lim : y);
      int64_t t = static_cast<int64_t>(y);                    // toward zero
      t -= static_cast<int64_t>(y < static_cast<double>(t));  // floor
      const double frac = y - static_cast<double>(t);
      t += static_cast<int64_t>(static_cast<double>(words[j]) < frac * kTwo32);
      acc[j] += static_cast<uint64_t>(t);
    }
  }

  int bits_ = 32;
  int scale_log2_ = 0;
  double scale_ = 1;
  double clip_norm_ = 1;
  uint64_t max_contributions_ = 1;
  uint64_t mask_ = 0xffffffffu;
};

}  // namespace fedrec
