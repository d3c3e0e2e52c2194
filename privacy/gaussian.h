// Continuous Gaussian noise for central DP: the coordinator adds
// N(0, stddev^2) to every coordinate of the decoded sum.
//
// Source of randomness (GaussianNoise::Create):
//   * no seed (the default): the OS CSPRNG (SecureUrbg, OpenSSL RAND_bytes):
//     real secret noise;
//   * a pinned `privacy.noise_seed`: a Philox stream keyed
//     (noise_seed, "dp_noise", round, stream, chunk) (core/random.h): the same
//     seed gives the same noise, for reproducible experiments. That noise is
//     NOT secret (anyone with the seed can remove it); the run must say so.
//
// The transform (StandardNormalPair) is Box-Muller, R = sqrt(-2 ln U1),
// theta = 2 pi U2, with a radius uniform U1 that is never 0 and has full
// relative precision at every scale (OpenUniform01: the exponent is drawn
// geometrically from as many 64-bit words as needed, then 52 fresh mantissa
// bits and the cell midpoint). Tail guarantee: for every r up to 37 sigma,
//   P(R > r) = P(U1 < exp(-r^2 / 2))
// is reproduced with relative error <= 2^-52 (the cell width of U1 relative to
// its value) plus libm's log error (< 1 ulp); the radius is capped at
// sqrt(2 * 1022 ln 2) ~= 37.6 only on an event of probability 2^-1022.
// In contrast, plain Box-Muller on a 53-bit uniform truncates the radius at
// sqrt(2 * 53 ln 2) ~= 8.57 (and a zero uniform gives log(0)). The angle U2
// has 53 bits (absolute resolution 2^-53 turns).
//
// Known limitation (see docs/privacy.md): the noise is a double added to a
// double, so the floating-point attack of Mironov (CCS 2012) on the low-order
// bits is not mitigated here; the exact alternative is the discrete Gaussian
// (privacy/discrete_gaussian.h, distributed mode).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>
#include <span>
#include <utility>

#include "core/csprng.h"
#include "core/status.h"
#include "privacy/urbg.h"

namespace fedrec::privacy {

// Which noise of a round a pinned stream belongs to: each (round, stream) pair
// must feed exactly one release, or pinned noise would repeat.
inline constexpr uint32_t kNoiseStreamUpdate = 0;     // the model update's noise
inline constexpr uint32_t kNoiseStreamClipCount = 1;  // adaptive clipping's count

// Uniform in the open interval (0, 1), with full relative precision: the value
// lies in [2^-(z+1), 2^-z) with probability 2^-(z+1) (z = number of leading
// zero bits of an infinite random bit string, read 64 bits at a time) and is
// the midpoint of one of 2^51 equal cells of that binade (51 fresh bits), so
// U is never 0 or 1 and P(U < x) is exact to relative error 2^-51 for all x
// down to 2^-1022. z is capped at 1021 (an event of probability 2^-1022).
template <Urbg64 G>
double OpenUniform01(G& g) {
  int z = 0;
  uint64_t w = g();
  while (w == 0 && z < 1021) {
    z += 64;
    w = g();
  }
  z += std::countl_zero(w);  // w == 0 adds 64; the cap below covers it
  if (z > 1021) z = 1021;
  const uint64_t m = g() >> 13;  // 51 bits
  // 1 + (2m + 1) 2^-52 has 53 significant bits: exact.
  const double mantissa = 1.0 + static_cast<double>(2 * m + 1) * 0x1.0p-52;
  return std::ldexp(mantissa, -(z + 1));
}

// Two independent standard normals (Box-Muller with OpenUniform01 for the
// radius; see the header comment for the tail guarantee). Draws the radius
// words first, then one word for the angle.
template <Urbg64 G>
std::pair<double, double> StandardNormalPair(G& g) {
  const double u1 = OpenUniform01(g);
  const double u2 = static_cast<double>(g() >> 11) * 0x1.0p-53;
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  return {r * std::cos(theta), r * std::sin(theta)};
}

// Adds N(0, stddev^2) to each of `values`. Works with any 64-bit URBG.
template <Urbg64 G>
void AddGaussianNoise(G& g, std::span<double> values, double stddev) {
  size_t i = 0;
  for (; i + 1 < values.size(); i += 2) {
    const auto [a, b] = StandardNormalPair(g);
    values[i] += stddev * a;
    values[i + 1] += stddev * b;
  }
  if (i < values.size()) values[i] += stddev * StandardNormalPair(g).first;
}

// The central-DP noise source of a run. Owns its generator; not thread-safe
// (use one per thread); movable, not copyable (a copy would repeat the
// CSPRNG's buffered secret bits).
class GaussianNoise {
 public:
  // Values per Philox stream in pinned mode: a stream holds 2^32 Philox blocks
  // (2^33 64-bit words); a chunk of 2^26 values needs < 2^27 words. Longer
  // vectors continue on the next stream (StreamKey.step = chunk index).
  static constexpr size_t kValuesPerPinnedChunk = size_t{1} << 26;

  // noise_seed empty: CSPRNG (InternalError when the OS entropy source does
  // not work). noise_seed set: pinned Philox noise.
  static absl::StatusOr<GaussianNoise> Create(std::optional<uint64_t> noise_seed);

  GaussianNoise(GaussianNoise&&) = default;
  GaussianNoise& operator=(GaussianNoise&&) = default;
  GaussianNoise(const GaussianNoise&) = delete;
  GaussianNoise& operator=(const GaussianNoise&) = delete;

  // values[i] += N(0, stddev^2), independently. InvalidArgument unless stddev
  // is finite and >= 0 (stddev 0 adds nothing and draws nothing). In pinned
  // mode the noise is the Philox stream (noise_seed, "dp_noise", round,
  // stream, chunk): calling twice with the same (round, stream) gives the SAME
  // noise (that is the point of pinning; callers must not reuse a pair for two
  // releases). In CSPRNG mode round and stream are ignored.
  absl::Status Add(std::span<double> values, double stddev, uint32_t round,
                   uint32_t stream = kNoiseStreamUpdate);

  // One N(0, stddev^2) sample (for scalar releases such as a noisy count).
  absl::StatusOr<double> Sample(double stddev, uint32_t round, uint32_t stream);

  // True when the noise is pinned by a seed (not secret).
  bool pinned() const { return noise_seed_.has_value(); }
  std::optional<uint64_t> noise_seed() const { return noise_seed_; }

 private:
  GaussianNoise() = default;

  std::optional<uint64_t> noise_seed_;
  SecureUrbg secure_;  // used only when !pinned()
};

}  // namespace fedrec::privacy
