// Philox4x32-10 for host AND device code: the one definition of the bijection
// behind core/random.h's RandomStream, in a header that nvcc and the host
// compiler both read (no std:: types, no exceptions, no allocation).
//
// What it owns:
//   - PhiloxBlock4x32_10: the bijection itself (Salmon et al., SC 2011).
//   - PhiloxStream: the plain-data form of a RandomStream's key and counter
//     words 1..3, which a kernel receives by value.
//   - PhiloxStreamWord: word w of that stream, exactly what the w-th call of
//     RandomStream::NextU32() returns (and what FillU32 writes at position w,
//     wherever a fill starts, mid-block included).
//
// Stream layout (as core/random.h): word w is word (w mod 4) of the block
// with counter [w / 4, step, client, round] under key
// SplitMix64(seed ^ Fnv1a64(purpose)) split into (low, high) 32-bit words.
// The purpose string is hashed on the host (PhiloxStreamOf in
// core/random.h); a kernel only ever sees the resulting PhiloxStream.
//
// Everything here is a pure function: safe from any number of threads.
#pragma once

#include <cstdint>

// Marks a function callable from host and device code when nvcc compiles the
// translation unit; expands to nothing for the host compiler.
#if defined(__CUDACC__)
#define FEDREC_HOST_DEVICE __host__ __device__
#else
#define FEDREC_HOST_DEVICE
#endif

namespace fedrec {

namespace philox_internal {
inline constexpr uint32_t kM0 = 0xD2511F53u;
inline constexpr uint32_t kM1 = 0xCD9E8D57u;
inline constexpr uint32_t kW0 = 0x9E3779B9u;  // golden ratio
inline constexpr uint32_t kW1 = 0xBB67AE85u;  // sqrt(3) - 1

// SplitMix64's finaliser (Steele et al., 2014): the key derivation.
FEDREC_HOST_DEVICE constexpr uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace philox_internal

// out[0..4) = Philox4x32-10(counter[0..4), key[0..2)). out may alias
// counter.
FEDREC_HOST_DEVICE inline void PhiloxBlock4x32_10(const uint32_t* counter, const uint32_t* key,
                                                  uint32_t* out) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(philox_internal::kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(philox_internal::kM1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += philox_internal::kW0;
    k1 += philox_internal::kW1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

// A RandomStream's identity as plain data: key words and the fixed counter
// words (counter = [block, step, client, round]).
struct PhiloxStream {
  uint32_t key[2] = {0, 0};
  uint32_t step = 0;
  uint32_t client = 0;
  uint32_t round = 0;
};

// The stream of (seed, purpose hash, round, client, step); purpose_hash is
// Fnv1a64(purpose) (core/random.h), computed on the host.
FEDREC_HOST_DEVICE constexpr PhiloxStream MakePhiloxStream(uint64_t seed, uint64_t purpose_hash,
                                                           uint32_t round, uint32_t client,
                                                           uint32_t step) {
  const uint64_t mixed = philox_internal::SplitMix64(seed ^ purpose_hash);
  PhiloxStream s;
  s.key[0] = static_cast<uint32_t>(mixed);
  s.key[1] = static_cast<uint32_t>(mixed >> 32);
  s.step = step;
  s.client = client;
  s.round = round;
  return s;
}

// out[0..4) = block `block` of the stream (words 4 block .. 4 block + 3).
FEDREC_HOST_DEVICE inline void PhiloxStreamBlock(const PhiloxStream& s, uint32_t block,
                                                 uint32_t* out) {
  const uint32_t counter[4] = {block, s.step, s.client, s.round};
  PhiloxBlock4x32_10(counter, s.key, out);
}

// Word w of the stream: word w % 4 of block w / 4. Precondition: w / 4 <
// 2^32 (RandomStream aborts past that; here the block index would wrap).
FEDREC_HOST_DEVICE inline uint32_t PhiloxStreamWord(const PhiloxStream& s, uint64_t w) {
  uint32_t block[4];
  PhiloxStreamBlock(s, static_cast<uint32_t>(w >> 2), block);
  return block[w & 3];
}

}  // namespace fedrec
