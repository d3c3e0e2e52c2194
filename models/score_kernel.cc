#include "models/score_kernel.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "models/score_kernel_fma.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace fedrec {

namespace {

// The scalar statement of the packet order (score_kernel.h). The vector
// tiles below compute each score lane by lane with exactly these operations.
float PacketDot(const float* h, const float* e, uint32_t d) {
  const uint32_t np = d / 4;
  if (np == 0) {
    float r = h[0] * e[0];
    for (uint32_t k = 1; k < d; ++k) r += h[k] * e[k];
    return r;
  }
  float a[4], b[4];
  for (int l = 0; l < 4; ++l) a[l] = h[l] * e[l];
  if (np >= 2) {
    for (int l = 0; l < 4; ++l) b[l] = h[4 + l] * e[4 + l];
    const uint32_t end2 = np & ~1u;
    for (uint32_t j = 2; j < end2; j += 2) {
      for (uint32_t l = 0; l < 4; ++l) a[l] += h[4 * j + l] * e[4 * j + l];
      for (uint32_t l = 0; l < 4; ++l) b[l] += h[4 * j + 4 + l] * e[4 * j + 4 + l];
    }
    for (int l = 0; l < 4; ++l) a[l] += b[l];
    if (np & 1u) {
      const uint32_t o = 4 * (np - 1);
      for (uint32_t l = 0; l < 4; ++l) a[l] += h[o + l] * e[o + l];
    }
  }
  float r = (a[0] + a[2]) + (a[1] + a[3]);
  for (uint32_t k = 4 * np; k < d; ++k) r += h[k] * e[k];
  return r;
}

#if defined(__SSE2__)
inline __m128 Ld(const float* p) { return _mm_loadu_ps(p); }
inline __m128 Mul(__m128 a, __m128 b) { return _mm_mul_ps(a, b); }
inline __m128 Add(__m128 a, __m128 b) { return _mm_add_ps(a, b); }

// Four scores [s(h0,e0), s(h0,e1), s(h1,e0), s(h1,e1)], each lane the exact
// operation sequence of ScoreDot. Needs d >= 4.
inline __m128 Tile22(const float* h0, const float* h1, const float* e0, const float* e1,
                     uint32_t d) {
  const uint32_t np = d / 4;
  __m128 a00 = Mul(Ld(h0), Ld(e0)), a01 = Mul(Ld(h0), Ld(e1));
  __m128 a10 = Mul(Ld(h1), Ld(e0)), a11 = Mul(Ld(h1), Ld(e1));
  if (np >= 2) {
    __m128 b00 = Mul(Ld(h0 + 4), Ld(e0 + 4)), b01 = Mul(Ld(h0 + 4), Ld(e1 + 4));
    __m128 b10 = Mul(Ld(h1 + 4), Ld(e0 + 4)), b11 = Mul(Ld(h1 + 4), Ld(e1 + 4));
    const uint32_t end2 = np & ~1u;
    for (uint32_t j = 2; j < end2; j += 2) {
      const uint32_t o = 4 * j;
      const __m128 x0 = Ld(h0 + o), x1 = Ld(h1 + o), y0 = Ld(e0 + o), y1 = Ld(e1 + o);
      a00 = Add(a00, Mul(x0, y0));
      a01 = Add(a01, Mul(x0, y1));
      a10 = Add(a10, Mul(x1, y0));
      a11 = Add(a11, Mul(x1, y1));
      const __m128 z0 = Ld(h0 + o + 4), z1 = Ld(h1 + o + 4), w0 = Ld(e0 + o + 4),
                   w1 = Ld(e1 + o + 4);
      b00 = Add(b00, Mul(z0, w0));
      b01 = Add(b01, Mul(z0, w1));
      b10 = Add(b10, Mul(z1, w0));
      b11 = Add(b11, Mul(z1, w1));
    }
    a00 = Add(a00, b00);
    a01 = Add(a01, b01);
    a10 = Add(a10, b10);
    a11 = Add(a11, b11);
    if (np & 1u) {
      const uint32_t o = 4 * (np - 1);
      const __m128 x0 = Ld(h0 + o), x1 = Ld(h1 + o), y0 = Ld(e0 + o), y1 = Ld(e1 + o);
      a00 = Add(a00, Mul(x0, y0));
      a01 = Add(a01, Mul(x0, y1));
      a10 = Add(a10, Mul(x1, y0));
      a11 = Add(a11, Mul(x1, y1));
    }
  }
  // Lane l of every accumulator into one register each, then the
  // horizontal sum (l0 + l2) + (l1 + l3) for the four scores at once.
  _MM_TRANSPOSE4_PS(a00, a01, a10, a11);
  __m128 s = Add(Add(a00, a10), Add(a01, a11));
  for (uint32_t k = 4 * np; k < d; ++k) {
    const __m128 hh = _mm_set_ps(h1[k], h1[k], h0[k], h0[k]);
    const __m128 ee = _mm_set_ps(e1[k], e0[k], e1[k], e0[k]);
    s = Add(s, Mul(hh, ee));
  }
  return s;
}

// Counts lanes of s above / equal to t where mask is all ones.
inline void CountLanes(__m128 s, __m128 t, __m128i mask, __m128i* gt, __m128i* eq) {
  *gt = _mm_sub_epi32(*gt, _mm_and_si128(_mm_castps_si128(_mm_cmpgt_ps(s, t)), mask));
  *eq = _mm_sub_epi32(*eq, _mm_and_si128(_mm_castps_si128(_mm_cmpeq_ps(s, t)), mask));
}

inline uint32_t Lane(__m128i v, int l) {
  alignas(16) uint32_t x[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(x), v);
  return x[l];
}
#endif

void CountSse2(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
               uint32_t end, const float* targets, uint64_t* greater, uint64_t* ties) {
#if defined(__SSE2__)
  if (d >= 4) {
    const __m128i all = _mm_set1_epi32(-1);
    // An odd last user is paired with itself and only lanes 0, 1 count; an
    // odd last item likewise, lanes 0, 2.
    for (uint32_t u = 0; u < users; u += 2) {
      const bool pair = u + 1 < users;
      const float* h0 = states + size_t{u} * d;
      const float* h1 = pair ? h0 + d : h0;
      const float t0 = targets[u], t1 = pair ? targets[u + 1] : t0;
      const __m128 t = _mm_set_ps(t1, t1, t0, t0);
      const __m128i users_mask = pair ? all : _mm_set_epi32(0, 0, -1, -1);
      __m128i gt = _mm_setzero_si128(), eq = _mm_setzero_si128();
      uint32_t i = begin;
      for (; i + 1 < end; i += 2) {
        const float* e0 = rows + size_t{i} * d;
        CountLanes(Tile22(h0, h1, e0, e0 + d, d), t, users_mask, &gt, &eq);
      }
      if (i < end) {
        const float* e0 = rows + size_t{i} * d;
        const __m128i mask = _mm_and_si128(users_mask, _mm_set_epi32(0, -1, 0, -1));
        CountLanes(Tile22(h0, h1, e0, e0, d), t, mask, &gt, &eq);
      }
      greater[u] += uint64_t{Lane(gt, 0)} + Lane(gt, 1);
      ties[u] += uint64_t{Lane(eq, 0)} + Lane(eq, 1);
      if (pair) {
        greater[u + 1] += uint64_t{Lane(gt, 2)} + Lane(gt, 3);
        ties[u + 1] += uint64_t{Lane(eq, 2)} + Lane(eq, 3);
      }
    }
    return;
  }
#endif
  for (uint32_t u = 0; u < users; ++u) {
    const float t = targets[u];
    for (uint32_t i = begin; i < end; ++i) {
      const float s = PacketDot(states + size_t{u} * d, rows + size_t{i} * d, d);
      greater[u] += s > t ? 1 : 0;
      ties[u] += s == t ? 1 : 0;
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define FEDREC_SCORE_AVX2 1
// The same per-score operations as Tile22, two users side by side in the
// two 128-bit halves of a 256-bit register (lanes never mix until the
// transpose, which stays within each half), four items at a time. The
// states of the pair are interleaved per packet so one load fetches both;
// each item packet is broadcast to both halves. Separate multiply and add
// (no FMA: "avx2" does not enable it, and the file forbids contraction).
__attribute__((target("avx2"))) void CountAvx2(const float* states, uint32_t users,
                                               const float* rows, uint32_t d, uint32_t begin,
                                               uint32_t end, const float* targets,
                                               uint64_t* greater, uint64_t* ties) {
  const uint32_t np = d / 4;
  const uint32_t quad_end = begin + (end - begin) / 4 * 4;
  std::vector<float> pair_buf(size_t{8} * np + 8);
  float* hu = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(pair_buf.data()) + 31) &
                                       ~uintptr_t{31});
  uint32_t u = 0;
  for (; u + 1 < users; u += 2) {
    const float* h0 = states + size_t{u} * d;
    const float* h1 = h0 + d;
    for (uint32_t j = 0; j < np; ++j) {
      std::copy_n(h0 + 4 * j, 4, hu + 8 * j);
      std::copy_n(h1 + 4 * j, 4, hu + 8 * j + 4);
    }
    const __m256 t = _mm256_setr_ps(targets[u], targets[u], targets[u], targets[u], targets[u + 1],
                                    targets[u + 1], targets[u + 1], targets[u + 1]);
    __m256i gt = _mm256_setzero_si256(), eq = _mm256_setzero_si256();
// Macros, not lambdas: a lambda would not inherit the target attribute.
#define FEDREC_H(j) _mm256_load_ps(hu + 8 * (j))
#define FEDREC_B(e, j) _mm256_broadcast_ps(reinterpret_cast<const __m128*>((e) + 4 * (j)))
    for (uint32_t i = begin; i < quad_end; i += 4) {
      const float* e0 = rows + size_t{i} * d;
      const float* e1 = e0 + d;
      const float* e2 = e1 + d;
      const float* e3 = e2 + d;
      __m256 a0 = _mm256_mul_ps(FEDREC_H(0), FEDREC_B(e0, 0)),
             a1 = _mm256_mul_ps(FEDREC_H(0), FEDREC_B(e1, 0));
      __m256 a2 = _mm256_mul_ps(FEDREC_H(0), FEDREC_B(e2, 0)),
             a3 = _mm256_mul_ps(FEDREC_H(0), FEDREC_B(e3, 0));
      if (np >= 2) {
        __m256 b0 = _mm256_mul_ps(FEDREC_H(1), FEDREC_B(e0, 1)),
               b1 = _mm256_mul_ps(FEDREC_H(1), FEDREC_B(e1, 1));
        __m256 b2 = _mm256_mul_ps(FEDREC_H(1), FEDREC_B(e2, 1)),
               b3 = _mm256_mul_ps(FEDREC_H(1), FEDREC_B(e3, 1));
        const uint32_t end2 = np & ~1u;
        for (uint32_t j = 2; j < end2; j += 2) {
          const __m256 x = FEDREC_H(j), z = FEDREC_H(j + 1);
          a0 = _mm256_add_ps(a0, _mm256_mul_ps(x, FEDREC_B(e0, j)));
          a1 = _mm256_add_ps(a1, _mm256_mul_ps(x, FEDREC_B(e1, j)));
          a2 = _mm256_add_ps(a2, _mm256_mul_ps(x, FEDREC_B(e2, j)));
          a3 = _mm256_add_ps(a3, _mm256_mul_ps(x, FEDREC_B(e3, j)));
          b0 = _mm256_add_ps(b0, _mm256_mul_ps(z, FEDREC_B(e0, j + 1)));
          b1 = _mm256_add_ps(b1, _mm256_mul_ps(z, FEDREC_B(e1, j + 1)));
          b2 = _mm256_add_ps(b2, _mm256_mul_ps(z, FEDREC_B(e2, j + 1)));
          b3 = _mm256_add_ps(b3, _mm256_mul_ps(z, FEDREC_B(e3, j + 1)));
        }
        a0 = _mm256_add_ps(a0, b0);
        a1 = _mm256_add_ps(a1, b1);
        a2 = _mm256_add_ps(a2, b2);
        a3 = _mm256_add_ps(a3, b3);
        if (np & 1u) {
          const __m256 x = FEDREC_H(np - 1);
          a0 = _mm256_add_ps(a0, _mm256_mul_ps(x, FEDREC_B(e0, np - 1)));
          a1 = _mm256_add_ps(a1, _mm256_mul_ps(x, FEDREC_B(e1, np - 1)));
          a2 = _mm256_add_ps(a2, _mm256_mul_ps(x, FEDREC_B(e2, np - 1)));
          a3 = _mm256_add_ps(a3, _mm256_mul_ps(x, FEDREC_B(e3, np - 1)));
        }
      }
      // Per 128-bit half: lane l of a0..a3 into row l, then
      // (row0 + row2) + (row1 + row3) = [s(u, i..i+3)] for u0 | u1.
      const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpacklo_ps(a2, a3);
      const __m256 t2 = _mm256_unpackhi_ps(a0, a1), t3 = _mm256_unpackhi_ps(a2, a3);
      const __m256 r0 = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 r1 = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 r2 = _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 r3 = _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(3, 2, 3, 2));
      __m256 s = _mm256_add_ps(_mm256_add_ps(r0, r2), _mm256_add_ps(r1, r3));
      for (uint32_t k = 4 * np; k < d; ++k) {
        const __m256 hh = _mm256_setr_ps(h0[k], h0[k], h0[k], h0[k], h1[k], h1[k], h1[k], h1[k]);
        const __m256 ee = _mm256_setr_ps(e0[k], e1[k], e2[k], e3[k], e0[k], e1[k], e2[k], e3[k]);
        s = _mm256_add_ps(s, _mm256_mul_ps(hh, ee));
      }
      gt = _mm256_sub_epi32(gt, _mm256_castps_si256(_mm256_cmp_ps(s, t, _CMP_GT_OQ)));
      eq = _mm256_sub_epi32(eq, _mm256_castps_si256(_mm256_cmp_ps(s, t, _CMP_EQ_OQ)));
    }
    alignas(32) uint32_t g[8], q[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(g), gt);
    _mm256_store_si256(reinterpret_cast<__m256i*>(q), eq);
    greater[u] += uint64_t{g[0]} + g[1] + g[2] + g[3];
    greater[u + 1] += uint64_t{g[4]} + g[5] + g[6] + g[7];
    ties[u] += uint64_t{q[0]} + q[1] + q[2] + q[3];
    ties[u + 1] += uint64_t{q[4]} + q[5] + q[6] + q[7];
  }
#undef FEDREC_H
#undef FEDREC_B
  // The odd user and the last < 4 items: the SSE2 tiles (same scores).
  if (u < users) {
    CountSse2(states + size_t{u} * d, 1, rows, d, begin, end, targets + u, greater + u, ties + u);
  }
  if (quad_end < end && u > 0) {
    CountSse2(states, u, rows, d, quad_end, end, targets, greater, ties);
  }
}
#endif

std::atomic<int> forced_kernel{static_cast<int>(ScoreKernelIsa::kAuto)};

void PacketBlock(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
                 uint32_t end, float* out) {
  const size_t width = end - begin;
#if defined(__SSE2__)
  if (d >= 4) {
    for (uint32_t u = 0; u < users; u += 2) {
      const bool pair = u + 1 < users;
      const float* h0 = states + size_t{u} * d;
      const float* h1 = pair ? h0 + d : h0;
      float* o0 = out + size_t{u} * width;
      float* o1 = pair ? o0 + width : nullptr;
      alignas(16) float s[4];
      uint32_t i = begin;
      for (; i < end; i += 2) {
        const float* e0 = rows + size_t{i} * d;
        const bool two = i + 1 < end;
        _mm_store_ps(s, Tile22(h0, h1, e0, two ? e0 + d : e0, d));
        o0[i - begin] = s[0];
        if (two) o0[i + 1 - begin] = s[1];
        if (o1 != nullptr) {
          o1[i - begin] = s[2];
          if (two) o1[i + 1 - begin] = s[3];
        }
      }
    }
    return;
  }
#endif
  for (uint32_t u = 0; u < users; ++u) {
    for (uint32_t i = begin; i < end; ++i) {
      out[size_t{u} * width + (i - begin)] =
          PacketDot(states + size_t{u} * d, rows + size_t{i} * d, d);
    }
  }
}

}  // namespace

ScoreKernelIsa ScoreKernelInUse() {
  const auto forced = static_cast<ScoreKernelIsa>(forced_kernel.load(std::memory_order_relaxed));
  if (score_fma::Compiled() &&
      (forced == ScoreKernelIsa::kAuto || forced == ScoreKernelIsa::kFma)) {
    return ScoreKernelIsa::kFma;
  }
#ifdef FEDREC_SCORE_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2");
#else
  constexpr bool avx2 = false;
#endif
  if (forced == ScoreKernelIsa::kSse2 || !avx2) return ScoreKernelIsa::kSse2;
  return ScoreKernelIsa::kAvx2;
}

const char* ScoreKernelName(ScoreKernelIsa isa) {
  switch (isa) {
    case ScoreKernelIsa::kFma:
      return "fma";
    case ScoreKernelIsa::kAvx2:
      return "avx2";
    case ScoreKernelIsa::kSse2:
      return "sse2";
    case ScoreKernelIsa::kAuto:
      break;
  }
  return ScoreKernelName(ScoreKernelInUse());
}

void ForceScoreKernelForTesting(ScoreKernelIsa isa) { forced_kernel = static_cast<int>(isa); }

float ScoreDot(const float* state, const float* row, uint32_t d) {
  if (ScoreKernelInUse() == ScoreKernelIsa::kFma) return score_fma::Dot(state, row, d);
  return PacketDot(state, row, d);
}

void CountAgainstTargets(const float* states, uint32_t users, const float* rows, uint32_t d,
                         uint32_t begin, uint32_t end, const float* targets, uint64_t* greater,
                         uint64_t* ties) {
  const ScoreKernelIsa isa = ScoreKernelInUse();
  if (isa == ScoreKernelIsa::kFma) {
    score_fma::Count(states, users, rows, d, begin, end, targets, greater, ties);
    return;
  }
#ifdef FEDREC_SCORE_AVX2
  if (d >= 4 && isa == ScoreKernelIsa::kAvx2) {
    CountAvx2(states, users, rows, d, begin, end, targets, greater, ties);
    return;
  }
#endif
  CountSse2(states, users, rows, d, begin, end, targets, greater, ties);
}

void ScoreBlock(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
                uint32_t end, float* out) {
  if (ScoreKernelInUse() == ScoreKernelIsa::kFma) {
    score_fma::Block(states, users, rows, d, begin, end, out);
    return;
  }
  PacketBlock(states, users, rows, d, begin, end, out);
}

void ScoreRows(const float* state, const float* rows, uint32_t d, uint32_t n, float* out) {
  ScoreBlock(state, 1, rows, d, 0, n, out);
}

}  // namespace fedrec
