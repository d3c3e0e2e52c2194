#include "core/random.h"

#include <cmath>
#include <cstdlib>
#include <numbers>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace fedrec {
namespace {

// The constants of core/philox.h, which holds the one scalar definition of
// the bijection; the lane versions below must agree with it (tests compare).
constexpr uint32_t kPhiloxM0 = philox_internal::kM0;
constexpr uint32_t kPhiloxM1 = philox_internal::kM1;
constexpr uint32_t kPhiloxW0 = philox_internal::kW0;
constexpr uint32_t kPhiloxW1 = philox_internal::kW1;

#if defined(__AVX2__)
// hi and lo halves of the eight 32 x 32 -> 64-bit products a[l] * m: the
// even lanes' products from one unsigned multiply, the odd lanes' from
// another on the shifted words, then merged lane by lane (no cross-lane
// shuffles).
inline void MulHiLo8(__m256i a, __m256i m, __m256i* hi, __m256i* lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// random_internal::Philox8BlocksPortable with AVX2 intrinsics.
void Philox8BlocksAvx2(uint32_t first_block, const PhiloxCounter& c, const PhiloxKey& key,
                       uint32_t* out) {
  __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first_block)),
                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256i c1 = _mm256_set1_epi32(static_cast<int>(c[1]));
  __m256i c2 = _mm256_set1_epi32(static_cast<int>(c[2]));
  __m256i c3 = _mm256_set1_epi32(static_cast<int>(c[3]));
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    __m256i hi0, lo0, hi1, lo1;
    MulHiLo8(c0, m0, &hi0, &lo0);
    MulHiLo8(c2, m1, &hi1, &lo1);
    const __m256i n0 =
        _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    const __m256i n2 =
        _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c1 = lo1;
    c3 = lo0;
    c0 = n0;
    c2 = n2;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  // Lanes (one word of eight blocks each) to blocks (four words each).
  const __m256i t0 = _mm256_unpacklo_epi32(c0, c1);  // blocks 0,1 | 4,5: words 0-1
  const __m256i t1 = _mm256_unpackhi_epi32(c0, c1);  // blocks 2,3 | 6,7: words 0-1
  const __m256i t2 = _mm256_unpacklo_epi32(c2, c3);  // blocks 0,1 | 4,5: words 2-3
  const __m256i t3 = _mm256_unpackhi_epi32(c2, c3);  // blocks 2,3 | 6,7: words 2-3
  const __m256i b04 = _mm256_unpacklo_epi64(t0, t2);
  const __m256i b15 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i b26 = _mm256_unpacklo_epi64(t1, t3);
  const __m256i b37 = _mm256_unpackhi_epi64(t1, t3);
  auto* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o, _mm256_permute2x128_si256(b04, b15, 0x20));
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(b26, b37, 0x20));
  _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(b04, b15, 0x31));
  _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(b26, b37, 0x31));
}
#endif

}  // namespace

namespace random_internal {

// Structure-of-arrays lanes, so that the compiler can run the rounds in
// vector registers whatever the ISA.
void Philox8BlocksPortable(uint32_t first_block, const PhiloxCounter& counter, const PhiloxKey& key,
                           uint32_t* out) {
  constexpr size_t kLanes = 8;
  uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (size_t l = 0; l < kLanes; ++l) {
    c0[l] = first_block + static_cast<uint32_t>(l);
    c1[l] = counter[1];
    c2[l] = counter[2];
    c3[l] = counter[3];
  }
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    for (size_t l = 0; l < kLanes; ++l) {
      const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c0[l];
      const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c2[l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = static_cast<uint32_t>(p1);
      c3[l] = static_cast<uint32_t>(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  for (size_t l = 0; l < kLanes; ++l) {
    out[4 * l] = c0[l];
    out[4 * l + 1] = c1[l];
    out[4 * l + 2] = c2[l];
    out[4 * l + 3] = c3[l];
  }
}

}  // namespace random_internal

PhiloxCounter Philox4x32_10(PhiloxCounter ctr, PhiloxKey key) {
  PhiloxCounter out;
  PhiloxBlock4x32_10(ctr.data(), key.data(), out.data());
  return out;
}

RandomStream::RandomStream(const StreamKey& k) {
  const PhiloxStream s = PhiloxStreamOf(k);
  key_ = {s.key[0], s.key[1]};
  counter_ = {0, s.step, s.client, s.round};
}

void RandomStream::Refill() {
  const uint64_t block_index = position_ / 4;
  if (block_index > 0xFFFFFFFFull) std::abort();  // stream exhausted: a bug
  counter_[0] = static_cast<uint32_t>(block_index);
  block_ = Philox4x32_10(counter_, key_);
}

uint32_t RandomStream::NextU32() {
  if (position_ % 4 == 0) Refill();
  return block_[position_++ % 4];
}

void RandomStream::FillU32(uint32_t* out, size_t n) {
  while (n > 0 && position_ % 4 != 0) {
    *out++ = NextU32();
    --n;
  }
  // Whole blocks, eight at a time: the same bijection as Philox4x32_10 on
  // counters [block + lane, step, client, round].
  constexpr size_t kLanes = 8;
  while (n >= 4 * kLanes) {
    const uint64_t first_block = position_ / 4;
    if (first_block + kLanes - 1 > 0xFFFFFFFFull) break;  // NextU32 aborts below
#if defined(__AVX2__)
    Philox8BlocksAvx2(static_cast<uint32_t>(first_block), counter_, key_, out);
#else
    random_internal::Philox8BlocksPortable(static_cast<uint32_t>(first_block), counter_, key_, out);
#endif
    out += 4 * kLanes;
    n -= 4 * kLanes;
    position_ += 4 * kLanes;
  }
  while (n > 0) {
    *out++ = NextU32();
    --n;
  }
}

uint64_t RandomStream::NextU64() {
  const uint64_t lo = NextU32();
  const uint64_t hi = NextU32();
  return (hi << 32) | lo;
}

double RandomStream::NextDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

float RandomStream::NextFloat() { return static_cast<float>(NextU32() >> 8) * 0x1.0p-24f; }

uint32_t RandomStream::NextBelow(uint32_t bound) {
  // Lemire, "Fast Random Integer Generation in an Interval" (2019).
  uint64_t m = static_cast<uint64_t>(NextU32()) * bound;
  uint32_t low = static_cast<uint32_t>(m);
  if (low < bound) {
    const uint32_t threshold = (0u - bound) % bound;
    while (low < threshold) {
      m = static_cast<uint64_t>(NextU32()) * bound;
      low = static_cast<uint32_t>(m);
    }
  }
  return static_cast<uint32_t>(m >> 32);
}

uint64_t RandomStream::NextBelow64(uint64_t bound) {
  if (bound <= 0xFFFFFFFFull) return NextBelow(static_cast<uint32_t>(bound));
  // Rejection on the smallest power-of-two mask covering bound.
  uint64_t mask = bound - 1;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t x;
  do {
    x = NextU64() & mask;
  } while (x >= bound);
  return x;
}

double RandomStream::NextNormal() {
  // 1 - U is in (0, 1], so the log is finite.
  const double u1 = 1.0 - NextDouble();
  const double u2 = NextDouble();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

void RandomStream::Seek(uint64_t position) {
  position_ = position;
  if (position_ % 4 != 0) Refill();
}

}  // namespace fedrec

namespace fedrec {

FastStream::FastStream(const StreamKey& key) {
  RandomStream seed(key);
  for (uint64_t& w : s_) w = seed.NextU64();
  if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // the one forbidden state
}

}  // namespace fedrec
