// Counter-based random streams (Philox4x32-10, Salmon et al., SC 2011).
//
// Every random draw in fedrec comes from a stream named by a StreamKey
// (seed, purpose, round, client, step). The stream's output is a pure function
// of the key and the position in the stream, so results never depend on
// thread scheduling or on which worker hosts a client, and a stream can be
// resumed from a saved position.
//
// Layout of one Philox block:
//   key     (2 x 32 bit) = SplitMix64(seed ^ Fnv1a64(purpose))
//   counter (4 x 32 bit) = [block index, step, client, round]
// so each stream holds 2^32 blocks (2^34 32-bit words) before it would wrap;
// RandomStream refuses to wrap (it aborts: that is a programming error).
//
// These streams are for simulation (sampling, dropout masks, rounding). They
// are NOT for secrets: use core/csprng.h for keys and DP noise.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/philox.h"

namespace fedrec {

using PhiloxKey = std::array<uint32_t, 2>;
using PhiloxCounter = std::array<uint32_t, 4>;

// The Philox4x32 bijection with 10 rounds: one 128-bit output block
// (PhiloxBlock4x32_10 of core/philox.h, the definition device code shares).
PhiloxCounter Philox4x32_10(PhiloxCounter counter, PhiloxKey key);

namespace random_internal {
// Philox4x32_10 of the eight counters [first_block + l, c[1], c[2], c[3]],
// l = 0..7, as 32 words in block order (out[4 l + j] is word j of block l),
// by a portable lane loop. RandomStream::FillU32 uses AVX2 intrinsics
// instead where the build has them; this one is kept so that tests can
// compare the two in every build. first_block + 7 < 2^32.
void Philox8BlocksPortable(uint32_t first_block, const PhiloxCounter& c, const PhiloxKey& key,
                           uint32_t* out);
}  // namespace random_internal

// 64-bit FNV-1a of a string; used to turn a purpose name into key material.
constexpr uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct StreamKey {
  uint64_t seed = 0;
  std::string_view purpose;  // e.g. "cohort", "dropout", "eval_negatives"
  uint32_t round = 0;
  uint32_t client = 0;
  uint32_t step = 0;
};

// The stream of `key` as plain data for device code: PhiloxStreamWord(
// PhiloxStreamOf(key), w) is the w-th word RandomStream(key) draws.
inline PhiloxStream PhiloxStreamOf(const StreamKey& key) {
  return MakePhiloxStream(key.seed, Fnv1a64(key.purpose), key.round, key.client, key.step);
}

// A position-addressable random stream. Cheap to construct (no state beyond
// the key and a 4-word buffer); not thread-safe: use one per thread or task.
class RandomStream {
 public:
  explicit RandomStream(const StreamKey& key);

  uint32_t NextU32();
  uint64_t NextU64();
  // out[0..n) = the next n words: exactly n calls of NextU32(), computed
  // several Philox blocks at a time (dropout masks draw millions of words).
  void FillU32(uint32_t* out, size_t n);
  // Uniform in [0, 1) with 53 random bits.
  double NextDouble();
  // Uniform in [0, 1) with 24 random bits.
  float NextFloat();
  // Uniform integer in [0, bound), bound > 0, without modulo bias (Lemire).
  uint32_t NextBelow(uint32_t bound);
  uint64_t NextBelow64(uint64_t bound);
  // Standard normal (Box-Muller on two 53-bit uniforms; simulation only).
  double NextNormal();
  bool NextBernoulli(double p) { return NextDouble() < p; }

  // Number of 32-bit words drawn so far; Seek() restores a saved position.
  uint64_t position() const { return position_; }
  void Seek(uint64_t position);

 private:
  void Refill();

  PhiloxKey key_{};
  PhiloxCounter counter_{};  // counter_[0] is the block index
  PhiloxCounter block_{};
  uint64_t position_ = 0;
};

// A keyed stream for bulk draws where Philox per word is too slow (the
// stochastic rounding of every coordinate of every client update): the
// xoshiro256++ generator (Blackman & Vigna, 2019), its 256-bit state seeded
// from the first words of RandomStream(key). Still a pure function of the
// key, so results never depend on scheduling; not position-addressable; not
// for secrets. Period 2^256 - 1, far beyond one client's draws.
class FastStream {
 public:
  explicit FastStream(const StreamKey& key);
  // From an explicit non-zero state (known-answer tests).
  explicit FastStream(const std::array<uint64_t, 4>& state)
      : s_{state[0], state[1], state[2], state[3]} {}

  uint64_t NextU64() {
    const uint64_t result = Rotl(s_[0] + s_[3], 23) + s_[0];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  uint32_t NextU32() { return static_cast<uint32_t>(NextU64() >> 32); }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace fedrec
