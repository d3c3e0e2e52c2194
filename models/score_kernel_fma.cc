#include "models/score_kernel_fma.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <vector>

#if defined(__FMA__) && defined(__AVX2__)
#include <immintrin.h>
#define FEDREC_SCORE_FMA_COMPILED 1
#endif

namespace fedrec::score_fma {

float Dot(const float* state, const float* row, uint32_t d) {
  float acc = 0.0f;
  for (uint32_t k = 0; k < d; ++k) acc = std::fma(state[k], row[k], acc);
  return acc;
}

#ifdef FEDREC_SCORE_FMA_COMPILED

bool Compiled() { return true; }

namespace {

// Items per panel: two 8-float registers side by side. A tile is up to
// kMaxUsers users x one panel (2 * kMaxUsers accumulators, two item
// registers and one broadcast state value fit the 16 ymm registers), or 1-2
// users x 4-2 panels (PanelsPerTile), so there are always enough chains.
constexpr uint32_t kPanel = 16;
constexpr int kMaxUsers = 6;
// Items packed at a time: 256 rows of d = 32 floats are 32 KiB, so a
// sub-block stays in L1/L2 while every user of the call passes over it.
constexpr uint32_t kSubBlock = 256;

// Writes the 8 x 8 block src[r * src_stride + c] (rows r = 8 items, columns
// c = 8 consecutive k) transposed: dst[c * kPanel + r].
inline void Transpose8x8(const float* src, size_t src_stride, float* dst) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + static_cast<size_t>(i) * src_stride);
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(dst + 0 * kPanel, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * kPanel, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * kPanel, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * kPanel, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * kPanel, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * kPanel, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * kPanel, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * kPanel, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// Copies items [first, first + n) of `rows` into panels of kPanel items,
// k-major within a panel (panel[k * kPanel + j] = item j's k-th value), the
// last panel padded with zero rows whose scores are never read. Full panels
// move in 8 x 8 transposes (a copy: the values are unchanged).
void Pack(const float* rows, uint32_t d, uint32_t first, uint32_t n, float* packed) {
  const uint32_t panels = (n + kPanel - 1) / kPanel;
  const uint32_t d8 = d / 8 * 8;
  for (uint32_t p = 0; p < panels; ++p) {
    float* panel = packed + size_t{p} * kPanel * d;
    const float* block = rows + size_t{first + p * kPanel} * d;
    const uint32_t width = std::min(kPanel, n - p * kPanel);
    uint32_t k0 = 0;
    if (width == kPanel) {
      for (; k0 < d8; k0 += 8) {
        Transpose8x8(block + k0, d, panel + size_t{k0} * kPanel);
        Transpose8x8(block + size_t{8} * d + k0, d, panel + size_t{k0} * kPanel + 8);
      }
    }
    for (uint32_t j = 0; j < width; ++j) {
      const float* row = block + size_t{j} * d;
      for (uint32_t k = k0; k < d; ++k) panel[size_t{k} * kPanel + j] = row[k];
    }
    for (uint32_t j = width; j < kPanel; ++j) {
      for (uint32_t k = 0; k < d; ++k) panel[size_t{k} * kPanel + j] = 0.0f;
    }
  }
}

// acc[r][2q], acc[r][2q + 1] = the 16 scores of user r (states + r * d)
// against panel q of the NP consecutive panels at `panels`, each lane the
// chain of score_kernel_fma.h.
template <int MR, int NP>
inline void Tile(const float* states, uint32_t d, const float* panels, __m256 (&acc)[MR][2 * NP]) {
  const size_t panel_stride = size_t{kPanel} * d;
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < 2 * NP; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  for (uint32_t k = 0; k < d; ++k) {
    __m256 e[2 * NP];
#pragma GCC unroll 8
    for (int c = 0; c < 2 * NP; ++c) {
      e[c] = _mm256_loadu_ps(panels + static_cast<size_t>(c / 2) * panel_stride +
                             size_t{k} * kPanel + static_cast<size_t>(c % 2) * 8);
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 x = _mm256_broadcast_ss(states + static_cast<size_t>(r) * d + k);
#pragma GCC unroll 8
      for (int c = 0; c < 2 * NP; ++c) acc[r][c] = _mm256_fmadd_ps(x, e[c], acc[r][c]);
    }
  }
}

// Panels per tile for MR users: enough independent accumulators (at least
// 8) to hide the FMA latency when few users share a tile.
constexpr int PanelsPerTile(int mr) { return mr >= 3 ? 1 : (mr == 2 ? 2 : 4); }

// Calls consume(acc, panel index) for every panel of the n packed items,
// acc holding MR users' 2 registers for that panel.
template <int MR, typename Consume>
inline void ForEachPanel(const float* states, uint32_t d, const float* packed, uint32_t n,
                         Consume consume) {
  constexpr int kNp = PanelsPerTile(MR);
  const uint32_t panels = (n + kPanel - 1) / kPanel;
  uint32_t p = 0;
  for (; p + kNp <= panels; p += kNp) {
    __m256 acc[MR][2 * kNp];
    Tile<MR, kNp>(states, d, packed + size_t{p} * kPanel * d, acc);
#pragma GCC unroll 4
    for (int q = 0; q < kNp; ++q) {
      __m256 one[MR][2];
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        one[r][0] = acc[r][2 * q];
        one[r][1] = acc[r][2 * q + 1];
      }
      consume(one, p + static_cast<uint32_t>(q));
    }
  }
  for (; p < panels; ++p) {
    __m256 acc[MR][2];
    Tile<MR, 1>(states, d, packed + size_t{p} * kPanel * d, acc);
    consume(acc, p);
  }
}

inline uint32_t LaneMask(uint32_t width) { return width >= kPanel ? 0xFFFFu : (1u << width) - 1u; }

inline uint32_t Bits16(__m256 lo, __m256 hi) {
  return static_cast<uint32_t>(_mm256_movemask_ps(lo)) |
         (static_cast<uint32_t>(_mm256_movemask_ps(hi)) << 8);
}

// Counts, for MR users, the n packed items scoring above / equal to each
// user's target (ordered compares: a NaN score counts as neither).
template <int MR>
void CountTiles(const float* states, uint32_t d, const float* packed, uint32_t n,
                const float* targets, uint64_t* greater, uint64_t* ties) {
  uint32_t gt[MR] = {}, eq[MR] = {};
  ForEachPanel<MR>(states, d, packed, n, [&](const __m256(&acc)[MR][2], uint32_t p) {
    const uint32_t mask = LaneMask(n - p * kPanel);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 t = _mm256_set1_ps(targets[r]);
      gt[r] += std::popcount(mask & Bits16(_mm256_cmp_ps(acc[r][0], t, _CMP_GT_OQ),
                                           _mm256_cmp_ps(acc[r][1], t, _CMP_GT_OQ)));
      eq[r] += std::popcount(mask & Bits16(_mm256_cmp_ps(acc[r][0], t, _CMP_EQ_OQ),
                                           _mm256_cmp_ps(acc[r][1], t, _CMP_EQ_OQ)));
    }
  });
  for (int r = 0; r < MR; ++r) {
    greater[r] += gt[r];
    ties[r] += eq[r];
  }
}

// Stores the scores of MR users against the n packed items: user r's at
// out + r * stride.
template <int MR>
void StoreTiles(const float* states, uint32_t d, const float* packed, uint32_t n, float* out,
                size_t stride) {
  ForEachPanel<MR>(states, d, packed, n, [&](const __m256(&acc)[MR][2], uint32_t p) {
    const uint32_t width = std::min(kPanel, n - p * kPanel);
    for (int r = 0; r < MR; ++r) {
      float* o = out + static_cast<size_t>(r) * stride + size_t{p} * kPanel;
      if (width == kPanel) {
        _mm256_storeu_ps(o, acc[r][0]);
        _mm256_storeu_ps(o + 8, acc[r][1]);
      } else {
        alignas(32) float lanes[kPanel];
        _mm256_store_ps(lanes, acc[r][0]);
        _mm256_store_ps(lanes + 8, acc[r][1]);
        std::copy_n(lanes, width, o);
      }
    }
  });
}

// This thread's packing space for the panels of min(n, kSubBlock) items,
// kept across calls: a short call (a user's sampled candidates) neither
// allocates nor zeroes a whole sub-block. Pack writes every entry it covers.
float* PackScratch(uint32_t n, uint32_t d) {
  thread_local std::vector<float> scratch;
  const size_t panels = (std::min(n, kSubBlock) + kPanel - 1) / kPanel;
  const size_t need = panels * kPanel * d;
  if (scratch.size() < need) scratch.resize(need);
  return scratch.data();
}

// Runs `tiles(users_in_group, first_user)` over groups of kMaxUsers users,
// dispatching the group size to a compile-time tile height.
template <typename Tiles>
void ForEachUserGroup(uint32_t users, Tiles tiles) {
  for (uint32_t u = 0; u < users; u += kMaxUsers) {
    switch (std::min<uint32_t>(kMaxUsers, users - u)) {
      case 6:
        tiles.template operator()<6>(u);
        break;
      case 5:
        tiles.template operator()<5>(u);
        break;
      case 4:
        tiles.template operator()<4>(u);
        break;
      case 3:
        tiles.template operator()<3>(u);
        break;
      case 2:
        tiles.template operator()<2>(u);
        break;
      default:
        tiles.template operator()<1>(u);
        break;
    }
  }
}

}  // namespace

void Count(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
           uint32_t end, const float* targets, uint64_t* greater, uint64_t* ties) {
  float* packed = PackScratch(end - begin, d);
  for (uint32_t first = begin; first < end; first += kSubBlock) {
    const uint32_t n = std::min(kSubBlock, end - first);
    Pack(rows, d, first, n, packed);
    ForEachUserGroup(users, [&]<int MR>(uint32_t u) {
      CountTiles<MR>(states + size_t{u} * d, d, packed, n, targets + u, greater + u, ties + u);
    });
  }
}

void Block(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
           uint32_t end, float* out) {
  const size_t width = end - begin;
  float* packed = PackScratch(end - begin, d);
  for (uint32_t first = begin; first < end; first += kSubBlock) {
    const uint32_t n = std::min(kSubBlock, end - first);
    Pack(rows, d, first, n, packed);
    ForEachUserGroup(users, [&]<int MR>(uint32_t u) {
      StoreTiles<MR>(states + size_t{u} * d, d, packed, n,
                     out + size_t{u} * width + (first - begin), width);
    });
  }
}

#else  // no FMA in this build's ISA: plain loops of the same chain (unused).

bool Compiled() { return false; }

void Count(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
           uint32_t end, const float* targets, uint64_t* greater, uint64_t* ties) {
  for (uint32_t u = 0; u < users; ++u) {
    for (uint32_t i = begin; i < end; ++i) {
      const float s = Dot(states + size_t{u} * d, rows + size_t{i} * d, d);
      greater[u] += s > targets[u] ? 1 : 0;
      ties[u] += s == targets[u] ? 1 : 0;
    }
  }
}

void Block(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
           uint32_t end, float* out) {
  for (uint32_t u = 0; u < users; ++u) {
    for (uint32_t i = begin; i < end; ++i) {
      out[size_t{u} * (end - begin) + (i - begin)] =
          Dot(states + size_t{u} * d, rows + size_t{i} * d, d);
    }
  }
}

#endif

}  // namespace fedrec::score_fma
