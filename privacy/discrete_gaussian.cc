#include "privacy/discrete_gaussian.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace fedrec::privacy {
namespace {

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError("privacy: discrete gaussian: " + what);
}

uint64_t FloorSqrt(uint64_t x) {
  uint64_t r = static_cast<uint64_t>(std::sqrt(static_cast<double>(x)));
  // Correct the double estimate to the exact floor.
  while (r > 0 && static_cast<Uint128>(r) * r > x) --r;
  while (static_cast<Uint128>(r + 1) * (r + 1) <= x) ++r;
  return r;
}

// Sum over y in Z of y^power exp(-y^2 / (2 sigma2)), normalised.
double CentralMoment(double sigma2, int power) {
  if (sigma2 == 0) return 0;
  const double sigma = std::sqrt(sigma2);
  const int64_t limit = static_cast<int64_t>(std::ceil(40 * sigma)) + 2;
  double z = 1.0, m = 0.0;  // y = 0 contributes 1 to z, 0 to m
  for (int64_t y = 1; y <= limit; ++y) {
    const double yd = static_cast<double>(y);
    const double w = std::exp(-yd * yd / (2 * sigma2));
    z += 2 * w;
    m += 2 * w * std::pow(yd, power);
  }
  return m / z;
}

}  // namespace

absl::StatusOr<Rational> ExactRational(double x) {
  if (!std::isfinite(x) || x < 0) {
    return Bad("value must be finite and >= 0 (got " + std::to_string(x) + ")");
  }
  if (x == 0) return Rational{0, 1};
  int exp = 0;
  const double frac = std::frexp(x, &exp);                   // x = frac 2^exp, frac in [0.5, 1)
  uint64_t m = static_cast<uint64_t>(std::ldexp(frac, 53));  // exact: 53-bit integer
  int e = exp - 53;                                          // x = m 2^e
  const int tz = std::countr_zero(m);
  m >>= tz;
  e += tz;
  if (e >= 0) {
    if (e + std::bit_width(m) > 64) return Bad("value too large for 64-bit rationals");
    return Rational{m << e, 1};
  }
  if (-e > 63) return Bad("value too small for 64-bit rationals (denominator > 2^63)");
  return Rational{m, uint64_t{1} << -e};
}

double DiscreteGaussianVariance(double sigma2) { return CentralMoment(sigma2, 2); }
double DiscreteGaussianFourthMoment(double sigma2) { return CentralMoment(sigma2, 4); }

absl::StatusOr<DiscreteGaussianSampler> DiscreteGaussianSampler::FromVariance(double sigma2) {
  FEDREC_ASSIGN_OR_RETURN(const Rational r, ExactRational(sigma2));
  return Create(r);
}

absl::StatusOr<DiscreteGaussianSampler> DiscreteGaussianSampler::Create(Rational sigma2) {
  if (sigma2.den == 0) return Bad("sigma^2 denominator is 0");
  DiscreteGaussianSampler s;
  if (sigma2.num == 0) return s;
  const uint64_t g = std::gcd(sigma2.num, sigma2.den);
  const uint64_t p = sigma2.num / g;
  const uint64_t q = sigma2.den / g;
  if (p / q >= (uint64_t{1} << 62)) return Bad("sigma^2 must be < 2^62");
  const uint64_t t = FloorSqrt(p / q) + 1;  // floor(sqrt(p/q)) = floor(sqrt(floor(p/q)))
  Uint128 tq = static_cast<Uint128>(t) * q;
  if (tq >> 64 != 0) {
    return Bad("sigma^2 = " + std::to_string(p) + "/" + std::to_string(q) +
               ": (floor(sigma) + 1) * denominator must be < 2^64; use a coarser rational");
  }
  // D = 2 p q t^2 < 2^128: checked factor by factor.
  Uint128 d = 0;
  const Uint128 pq = static_cast<Uint128>(p) * q;  // < 2^128
  if (__builtin_mul_overflow(pq, static_cast<Uint128>(t), &d) ||
      __builtin_mul_overflow(d, static_cast<Uint128>(t), &d) ||
      __builtin_mul_overflow(d, static_cast<Uint128>(2), &d)) {
    return Bad("sigma^2 = " + std::to_string(p) + "/" + std::to_string(q) +
               ": 2 p q t^2 overflows 128 bits; use a coarser rational");
  }
  const uint64_t max_abs_from_bits = static_cast<uint64_t>(~uint64_t{0} / tq);
  const uint64_t max_abs =
      max_abs_from_bits < (uint64_t{1} << 62) ? max_abs_from_bits : (uint64_t{1} << 62);
  const double sigma = std::sqrt(static_cast<double>(p) / static_cast<double>(q));
  if (static_cast<double>(max_abs) < std::max(64.0 * sigma, 8.0)) {
    return Bad("sigma^2 = " + std::to_string(p) + "/" + std::to_string(q) +
               ": the denominator is too large for an exact sample range of max(64 sigma, 8); "
               "use a coarser rational");
  }
  s.p_ = p;
  s.q_ = q;
  s.t_ = t;
  s.tq_ = tq;
  s.denominator_ = d;
  s.max_abs_ = max_abs;
  return s;
}

}  // namespace fedrec::privacy
