// A fast sampler of the discrete Gaussian N_Z(0, sigma^2) for one fixed sigma,
// by inversion of a 128-bit fixed-point table of the distribution of |Y|,
// with a statistical distance eta per draw to the exact distribution that is
// bounded rigorously (below) and charged to the run's delta (privacy/plan.h).
// The exact CKS sampler (privacy/discrete_gaussian.h) stays the oracle.
//
// Sampling. |Y| has P(|Y| = 0) = 1/z and P(|Y| = i) = 2 exp(-i^2/(2 sigma^2))/z
// (z the normaliser); the sign is a fair bit, independent (|Y| = 0 ignores
// it). The table holds C_i ~ 2^128 P(|Y| <= i) for 0 <= i < T as 128-bit
// integers (hi and lo words), and C_T = 2^128. A draw takes a uniform 128-bit
// U (lazily: the low 64 bits only when the high 64 bits tie with some hi_i,
// probability < (T+1) 2^-64) and returns the smallest i with U < C_i: exactly
// the dyadic distribution Q(|Y| = i) = (C_i - C_{i-1}) 2^-128. A guide table
// indexed by the top bits of U starts the scan at most one bucket early on
// average (the cutpoint method), so a draw costs one word of randomness, 1/64
// word for the sign, and two table reads.
//
// The cut T is the smallest integer with the tail bound
//   tau := P(|Y| > T) <= 2 sigma^2 / T * exp(-T^2 / (2 sigma^2)) <= 2^-128
// (sum_{y > T} exp(-y^2/2s^2) <= int_T^inf exp(-t^2/2s^2) dt
//  <= (s^2/T) exp(-T^2/2s^2), and z >= 1): about 14 sigma. |Y| > T is never
// drawn; its mass is part of eta (no exact tail sampler is needed).
//
// The bound eta (DESIGN: docs/privacy.md has the derivation in full). With
//   eps_exp = 2^-100  an allowance for the relative error of one expq() term
//                     (quad precision has 2^-113; 2^13 ulps of slack),
//   K                 the fixed-point fraction bits of the unnormalised terms
//                     (M_j = floor(2^K w_j exp(-j^2/2s^2)), w_0 = 1, w_j = 2),
//   eps = eps_exp + (T + 1) 2^-K  the relative error of a partial sum of the
//                     M_j (exact integer sums of terms each within
//                     eps_exp relative plus one unit) and of their total,
// each cumulative entry satisfies
//   |C_i 2^-128 - P(|Y| <= i)| <= e := 3 eps + 2 tau + 2^-110 + 2^-128
// (3 eps + 2 tau: the ratio of two sums with relative errors eps and a total
// missing tau; 2^-110: four quad roundings converting and dividing;
// 2^-128: truncating to an integer). Q and P differ on bucket i < T by at
// most e_i + e_{i-1}, on bucket T by at most e_{T-1} + tau, and P puts tau
// beyond T, so
//   TV(Q, P) <= sum_{i < T} e + tau = T e + tau =: eta,
// and the fair sign bit keeps this for the signed values. Measured: eta = 1.7e-29 at sigma = 0.5,
// 6e-26 at sigma = 1000, 7.8e-21 at sigma = 65536 (it grows about as T^2)
// (eta() has the value).
//
// Large sigma: the table has T + 1 <= kMaxEntries entries (sigma up to about
// 1.5e5; 16 bytes an entry plus a 4-byte guide slot or two, ~48 MiB at the
// limit, built once per run and shared read-only). Create refuses larger
// sigma (InvalidArgument); DdgMechanism then falls back to the exact sampler.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "privacy/urbg.h"

namespace fedrec::privacy {

class FastDiscreteGaussian {
 public:
  static constexpr uint64_t kMaxEntries = uint64_t{1} << 21;
  // Sentinel entries past hi[T] for Batched's unrolled first steps.
  static constexpr size_t kScanPad = 3;
  // The relative error allowed for one quad-precision exp term (see header).
  static constexpr double kExpRelativeError = 0x1.0p-100;

  // An empty sampler (the point mass at 0).
  FastDiscreteGaussian() = default;

  // sigma2 > 0 finite with T + 1 <= kMaxEntries, or 0 (the point mass at 0).
  // InvalidArgument "privacy: fast discrete gaussian: ..." otherwise.
  static absl::StatusOr<FastDiscreteGaussian> Create(double sigma2);

  // One sample (two words of randomness; Fill amortises the sign).
  template <Urbg64 G>
  int64_t Sample(G& g) const {
    if (t_ == nullptr) return 0;
    const int64_t m = Magnitude(g);
    const int64_t s = -static_cast<int64_t>(g() & 1);
    return (m ^ s) - s;
  }

  // values[i] = a sample, for every i: one word per sample plus one word of
  // signs per 64 samples.
  template <Urbg64 G>
  void Fill(G& g, std::span<int64_t> values) const {
    if (t_ == nullptr) {
      for (int64_t& v : values) v = 0;
      return;
    }
    Batched(g, values, [](int64_t& out, int64_t y) { out = y; });
  }

  // values[i] += a sample (the DDG client's noise step, no temporary).
  template <Urbg64 G>
  void Add(G& g, std::span<int64_t> values) const {
    if (t_ == nullptr) return;
    Batched(g, values, [](int64_t& out, int64_t y) { out += y; });
  }

  // The bound on the total variation distance of one draw to N_Z(0, sigma^2).
  double eta() const { return t_ == nullptr ? 0.0 : t_->eta; }
  // |samples| <= cut() (T).
  int64_t cut() const { return t_ == nullptr ? 0 : static_cast<int64_t>(t_->cut); }
  double sigma2() const { return t_ == nullptr ? 0.0 : t_->sigma2; }
  // Q(|Y| <= i) * 2^128 as (hi, lo) words, i < cut() (tests).
  std::pair<uint64_t, uint64_t> CumulativeAt(int64_t i) const {
    return {t_->hi[static_cast<size_t>(i)], t_->lo[static_cast<size_t>(i)]};
  }

 private:
  struct Table {
    double sigma2 = 0;
    uint64_t cut = 0;      // T
    double eta = 0;        // TV bound per draw
    int guide_shift = 64;  // 64 - log2(guide size)
    // T + 1 + kScanPad entries; hi[T..] = 2^64 - 1 (sentinels: the scan
    // stops at T, and Batched reads up to kScanPad entries past it).
    std::vector<uint64_t> hi;
    std::vector<uint64_t> lo;     // T entries (read only on a tie of the hi words)
    std::vector<uint32_t> guide;  // guide[k] = first i with hi[i] >= k << guide_shift
  };

  template <Urbg64 G>
  int64_t Magnitude(G& g) const {
    const Table& t = *t_;
    const uint64_t u = g();
    const uint64_t* hi = t.hi.data();
    size_t i = t.guide[u >> t.guide_shift];
    // hi[i'] < u for every i' before the guide's start; hi[T] is the maximum.
    while (u > hi[i]) ++i;
    if (u == hi[i]) [[unlikely]]
      return Resolve(u, g(), i);
    return static_cast<int64_t>(i);
  }

  // Batches of 64: all words first, then the guide reads (independent loads
  // the core overlaps, with the table rows prefetched), then the scans. For
  // tables beyond the caches this memory-level parallelism is most of the
  // speed; the output is the same as drawing sample by sample would give
  // except for the order in which words are consumed.
  template <Urbg64 G, class Op>
  void Batched(G& g, std::span<int64_t> values, Op op) const {
    const Table& t = *t_;
    const uint64_t* hi = t.hi.data();
    const uint32_t* guide = t.guide.data();
    uint64_t u[64];
    uint32_t start[64];
    for (size_t i = 0; i < values.size(); i += 64) {
      const size_t n = std::min<size_t>(64, values.size() - i);
      const uint64_t signs = g();
      FillWords(g, u, n);
      for (size_t k = 0; k < n; ++k) {
        start[k] = guide[u[k] >> t.guide_shift];
        __builtin_prefetch(hi + start[k]);
      }
      for (size_t k = 0; k < n; ++k) {
        // hi is nondecreasing, so the count of hi[j..j+3] below u is how
        // far the scan moves when it moves less than 4: counted without a
        // branch (a slot spans about one bucket in the body of the
        // distribution, where the loop's exit would be mispredicted).
        const uint64_t x = u[k];
        size_t j = start[k];
        const size_t steps = static_cast<size_t>(x > hi[j]) + static_cast<size_t>(x > hi[j + 1]) +
                             static_cast<size_t>(x > hi[j + 2]) +
                             static_cast<size_t>(x > hi[j + 3]);
        j += steps;
        if (steps == kScanPad + 1) [[unlikely]] {
          while (x > hi[j]) ++j;
        }
        // A tie draws one more word: rare (< (T + 1) 2^-64 per sample).
        const int64_t m = x == hi[j] ? Resolve(x, g(), j) : static_cast<int64_t>(j);
        const int64_t s = -static_cast<int64_t>((signs >> k) & 1);
        op(values[i + k], (m ^ s) - s);
      }
    }
  }

  // The tie u == hi[i]: the smallest j >= i with (u, v) < C_j, else T.
  int64_t Resolve(uint64_t u, uint64_t v, size_t i) const;

  std::shared_ptr<const Table> t_;
};

}  // namespace fedrec::privacy
