#include "core/random.h"

#include <cmath>
#include <cstdlib>
#include <numbers>

namespace fedrec {
namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline void MulHiLo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  *lo = static_cast<uint32_t>(product);
}

}  // namespace

PhiloxCounter Philox4x32_10(PhiloxCounter ctr, PhiloxKey key) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    MulHiLo(kPhiloxM0, ctr[0], &hi0, &lo0);
    MulHiLo(kPhiloxM1, ctr[2], &hi1, &lo1);
    ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
    key[0] += kPhiloxW0;
    key[1] += kPhiloxW1;
  }
  return ctr;
}

RandomStream::RandomStream(const StreamKey& k) {
  const uint64_t mixed = SplitMix64(k.seed ^ Fnv1a64(k.purpose));
  key_ = {static_cast<uint32_t>(mixed), static_cast<uint32_t>(mixed >> 32)};
  counter_ = {0, k.step, k.client, k.round};
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
  // Whole blocks, kLanes at a time, as structure-of-arrays lanes so that the
  // compiler runs the rounds in vector registers; the same bijection as
  // Philox4x32_10 on counters [block + lane, step, client, round].
  constexpr size_t kLanes = 8;
  while (n >= 4 * kLanes) {
    const uint64_t first_block = position_ / 4;
    if (first_block + kLanes - 1 > 0xFFFFFFFFull) break;  // NextU32 aborts below
    uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
    for (size_t l = 0; l < kLanes; ++l) {
      c0[l] = static_cast<uint32_t>(first_block + l);
      c1[l] = counter_[1];
      c2[l] = counter_[2];
      c3[l] = counter_[3];
    }
    uint32_t k0 = key_[0], k1 = key_[1];
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
