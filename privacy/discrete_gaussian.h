// Exact sampling from the discrete Gaussian N_Z(0, sigma^2),
//   P[Y = y] = exp(-y^2 / (2 sigma^2)) / sum_{z in Z} exp(-z^2 / (2 sigma^2)),
// by the algorithm of
//   [CKS20] C. Canonne, G. Kamath, T. Steinke, "The Discrete Gaussian for
//           Differential Privacy", NeurIPS 2020 (arXiv:2004.00010), Alg. 1-3:
// Bernoulli(exp(-gamma)) from Bernoulli(rational) draws (Alg. 1), the discrete
// Laplace by a geometric (Alg. 2), and rejection from the discrete Laplace with
// scale t = floor(sigma) + 1 (Alg. 3). Every probability is a ratio of
// integers and every draw is an exact uniform integer: no floating point.
//
// sigma^2 is a rational p/q. A double is an exact dyadic rational, so
// FromVariance(double) takes a double's value exactly (no rounding).
//
// Integer sizes: the rejection step tests Bernoulli(exp(-N/D)) with
//   N = (|Y| t q - p)^2,  D = 2 p q t^2,
// computed in unsigned 128-bit arithmetic. Create() refuses parameters for
// which D would not fit, and bounds candidates by |Y| <= max_abs() with
// max_abs() * t * q < 2^64 (so N fits). A candidate beyond max_abs() is
// rejected, so Sample() is EXACTLY the discrete Gaussian conditioned on
// |Y| <= max_abs(); Create() requires max_abs() >= max(64 sigma, 8), so the
// excluded event has probability < 3 exp(-2048) < 1e-888 (the total variation
// distance to N_Z(0, sigma^2)). This is the only departure from the exact
// distribution, and an int64 output must truncate somewhere anyway.
//
// Randomness: any 64-bit URBG (privacy/urbg.h): SecureUrbg in production, a
// PhiloxUrbg for pinned experiments and tests. Expected cost: a small
// constant number of 64-bit words per sample for every sigma (CKS20 Sec. 5).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>

#include "core/status.h"
#include "privacy/urbg.h"

namespace fedrec::privacy {

__extension__ typedef unsigned __int128 Uint128;  // __extension__: no -Wpedantic

// A non-negative rational num / den (den > 0).
struct Rational {
  uint64_t num = 0;
  uint64_t den = 1;
};

// The exact value of a finite x >= 0 as a reduced num/den with 64-bit parts
// (den a power of two). InvalidArgument for NaN, infinity, x < 0, or values
// whose exact form needs more than 64 bits (x >= 2^64, or tiny x).
absl::StatusOr<Rational> ExactRational(double x);

// Variance and fourth moment of N_Z(0, sigma2), by summation (to double
// precision; for tests and utility estimates: not used by the sampler).
double DiscreteGaussianVariance(double sigma2);
double DiscreteGaussianFourthMoment(double sigma2);

// ---- Exact Bernoulli and uniform building blocks (templates over the URBG).

// Uniform integer in [0, n), n > 0, exact (rejection on the smallest
// power-of-two range covering n).
template <Urbg64 G>
Uint128 UniformBelow(G& g, Uint128 n) {
  if (n <= 1) return 0;
  const Uint128 m = n - 1;
  const uint64_t hi_m = static_cast<uint64_t>(m >> 64);
  if (hi_m == 0) {
    const uint64_t lo_m = static_cast<uint64_t>(m);
    const uint64_t mask = ~uint64_t{0} >> std::countl_zero(lo_m);
    for (;;) {
      const uint64_t x = g() & mask;
      if (x <= lo_m) return x;
    }
  }
  const uint64_t mask = ~uint64_t{0} >> std::countl_zero(hi_m);
  for (;;) {
    const Uint128 x = (static_cast<Uint128>(g() & mask) << 64) | g();
    if (x <= m) return x;
  }
}

// Bernoulli(num / den), 0 <= num <= den, den > 0.
template <Urbg64 G>
bool BernoulliRational(G& g, Uint128 num, Uint128 den) {
  return UniformBelow(g, den) < num;
}

// Bernoulli(exp(-x)) for x = num / den in [0, 1] [CKS20, Alg. 1, first part]:
// K <- 1; while Bernoulli(x / K) = 1: K <- K + 1; return K odd.
// Bernoulli(x / K) is drawn as Bernoulli(1 / K) AND Bernoulli(x) (independent),
// so no product den * K is formed.
template <Urbg64 G>
bool BernoulliExpMinusAtMostOne(G& g, Uint128 num, Uint128 den) {
  uint64_t k = 1;
  while (UniformBelow(g, k) == 0 && BernoulliRational(g, num, den)) ++k;
  return (k & 1) == 1;
}

// Bernoulli(exp(-x)) for any rational x = num / den >= 0, den > 0
// [CKS20, Alg. 1]: floor(x) Bernoulli(exp(-1)) draws (stopping at the first
// failure), then Bernoulli(exp(-(x - floor(x)))).
template <Urbg64 G>
bool BernoulliExpMinus(G& g, Uint128 num, Uint128 den) {
  const Uint128 whole = num / den;
  for (Uint128 i = 0; i < whole; ++i) {
    if (!BernoulliExpMinusAtMostOne(g, 1, 1)) return false;
  }
  return BernoulliExpMinusAtMostOne(g, num % den, den);
}

// The discrete Laplace with integer scale t >= 1, P[Y = y] proportional to
// exp(-|y| / t) [CKS20, Alg. 2 with s = 1], restricted to |Y| <= max_abs:
// returns false (no sample) when the candidate exceeds max_abs (the caller
// rejects and retries, which conditions on |Y| <= max_abs).
template <Urbg64 G>
bool DiscreteLaplace(G& g, uint64_t t, uint64_t max_abs, int64_t* out) {
  for (;;) {
    const uint64_t u = static_cast<uint64_t>(UniformBelow(g, t));
    if (!BernoulliExpMinus(g, u, t)) continue;
    // V ~ Geometric(1 - exp(-1)): the number of Bernoulli(exp(-1)) successes
    // before the first failure; stop counting once U + t V > max_abs.
    const uint64_t v_max = (max_abs - (u > max_abs ? max_abs : u)) / t;
    uint64_t v = 0;
    bool too_large = u > max_abs;
    while (BernoulliExpMinusAtMostOne(g, 1, 1)) {
      if (++v > v_max) {
        too_large = true;
        break;
      }
    }
    const bool negative = (g() & 1) != 0;
    if (too_large) return false;
    const uint64_t magnitude = u + t * v;
    if (negative && magnitude == 0) continue;
    *out = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
    return true;
  }
}

// A sampler of N_Z(0, sigma^2) for one sigma^2 (see the header comment for
// exactness and the integer bounds). Immutable after Create; thread-safe to
// share (each thread brings its own URBG).
class DiscreteGaussianSampler {
 public:
  // The point mass at 0 (sigma^2 = 0).
  DiscreteGaussianSampler() = default;

  // sigma2 = num / den >= 0 (num = 0: the point mass at 0). InvalidArgument
  // for den = 0 or parameters whose integer arithmetic would not fit in 128
  // bits (sigma^2 >= 2^62, or a numerator/denominator so large that
  // max_abs() < max(64 sigma, 8)); the message says which. Every double in
  // [2^-8, 2^58) is accepted.
  static absl::StatusOr<DiscreteGaussianSampler> Create(Rational sigma2);
  // The exact value of the double sigma2 (ExactRational).
  static absl::StatusOr<DiscreteGaussianSampler> FromVariance(double sigma2);

  // One sample.
  template <Urbg64 G>
  int64_t Sample(G& g) const {
    if (p_ == 0) return 0;
    for (;;) {
      int64_t y;
      if (!DiscreteLaplace(g, t_, max_abs_, &y)) continue;
      const uint64_t abs_y = static_cast<uint64_t>(y < 0 ? -y : y);
      // bias = (|Y| - sigma^2 / t)^2 / (2 sigma^2) = (|Y| t q - p)^2 / (2 p q t^2).
      const Uint128 ytq = static_cast<Uint128>(abs_y) * tq_;  // < 2^64 by max_abs_
      const Uint128 diff = ytq >= p_ ? ytq - p_ : p_ - ytq;   // < 2^64
      if (BernoulliExpMinus(g, diff * diff, denominator_)) return y;
    }
  }

  // values[i] = Sample(g) for every i.
  template <Urbg64 G>
  void Fill(G& g, std::span<int64_t> values) const {
    for (int64_t& v : values) v = Sample(g);
  }

  Rational sigma2() const { return {static_cast<uint64_t>(p_), static_cast<uint64_t>(q_)}; }
  double sigma2_double() const { return static_cast<double>(p_) / static_cast<double>(q_); }
  // Samples satisfy |Y| <= max_abs() (>= max(64 sigma, 8)).
  uint64_t max_abs() const { return max_abs_; }
  // The discrete Laplace scale t = floor(sigma) + 1.
  uint64_t laplace_scale() const { return t_; }

 private:
  Uint128 p_ = 0;  // sigma^2 = p / q, reduced
  Uint128 q_ = 1;
  uint64_t t_ = 1;           // floor(sqrt(p / q)) + 1
  Uint128 tq_ = 1;           // t * q < 2^64
  Uint128 denominator_ = 1;  // 2 p q t^2 < 2^128
  uint64_t max_abs_ = 0;
};

}  // namespace fedrec::privacy
