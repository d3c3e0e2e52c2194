#include "privacy/fast_discrete_gaussian.h"

#include <quadmath.h>

#include <cmath>
#include <string>

#include "privacy/discrete_gaussian.h"

namespace fedrec::privacy {
namespace {

__extension__ typedef __float128 Quad;  // __extension__: no -Wpedantic

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError("privacy: fast discrete gaussian: " + what);
}

// log of the tail bound 2 s^2 / T exp(-T^2 / (2 s^2)) (header comment).
double LogTailBound(double sigma2, double cut) {
  return std::log(2 * sigma2 / cut) - cut * cut / (2 * sigma2);
}

}  // namespace

absl::StatusOr<FastDiscreteGaussian> FastDiscreteGaussian::Create(double sigma2) {
  if (sigma2 == 0) return FastDiscreteGaussian();
  if (!(sigma2 > 0) || !std::isfinite(sigma2)) {
    return Bad("sigma^2 must be finite and >= 0 (got " + std::to_string(sigma2) + ")");
  }
  const double sigma = std::sqrt(sigma2);
  // The smallest T >= 1 with tau <= 2^-128: the bound decreases in T beyond
  // sigma, so start at max(1, floor(12 sigma)) and step up.
  const double log_target = -128 * std::log(2.0);
  double cut_d = std::max(1.0, std::floor(12 * sigma));
  while (LogTailBound(sigma2, cut_d) > log_target) cut_d += std::max(1.0, std::floor(sigma / 64));
  if (cut_d + 1 > static_cast<double>(kMaxEntries)) {
    return Bad("sigma = " + std::to_string(sigma) + " needs a table of " +
               std::to_string(cut_d + 1) + " entries, more than " + std::to_string(kMaxEntries) +
               " (use the exact sampler)");
  }
  const uint64_t cut = static_cast<uint64_t>(cut_d);
  const double tau = std::ldexp(1.0, -128);

  // Unnormalised terms M_j = floor(2^K w_j exp(-j^2 / (2 sigma^2))) as exact
  // integers, K chosen so that their total (< 2^K (1 + 2.6 sigma + 2)) stays
  // below 2^127.
  const double total_bound = 1 + 2.6 * sigma + 2;
  const int frac_bits = 126 - static_cast<int>(std::ceil(std::log2(total_bound)));
  const Quad two_s2 = 2 * static_cast<Quad>(sigma2);  // exact: a double times 2
  std::vector<Uint128> partial(cut + 1);
  Uint128 sum = 0;
  for (uint64_t j = 0; j <= cut; ++j) {
    const Quad jq = static_cast<Quad>(j);
    const Quad w = j == 0 ? 1 : 2;
    const Quad term = ldexpq(w * expq(-(jq * jq) / two_s2), frac_bits);
    sum += static_cast<Uint128>(term);  // truncation: < 1 unit
    partial[j] = sum;
  }
  auto t = std::make_shared<Table>();
  t->sigma2 = sigma2;
  t->cut = cut;
  t->hi.resize(cut + 1 + kScanPad);
  t->lo.resize(cut);
  const Quad total = static_cast<Quad>(sum);
  for (uint64_t i = 0; i < cut; ++i) {
    const Quad f = static_cast<Quad>(partial[i]) / total;  // in [0, 1]
    Uint128 c = ~Uint128{0};
    if (f < 1) c = static_cast<Uint128>(ldexpq(f, 128));
    t->hi[i] = static_cast<uint64_t>(c >> 64);
    t->lo[i] = static_cast<uint64_t>(c);
  }
  std::fill(t->hi.begin() + static_cast<std::ptrdiff_t>(cut), t->hi.end(), ~uint64_t{0});

  // eta = T e + tau, e = 3 eps + 2 tau + 2^-110 + 2^-128 (header comment).
  const double eps = kExpRelativeError + static_cast<double>(cut + 1) * std::ldexp(1.0, -frac_bits);
  const double e = 3 * eps + 2 * tau + std::ldexp(1.0, -110) + std::ldexp(1.0, -128);
  t->eta = static_cast<double>(cut) * e + tau;
  // Rounding the bound up by a relative 2^-40 covers the double arithmetic above.
  t->eta *= 1 + std::ldexp(1.0, -40);

  // Guide: 2^b slots with 2^b >= T + 1, so a slot spans at most one bucket
  // boundary on average. Large tables (sigma beyond ~2000) do not fit the
  // caches: there a slot spans ~8 buckets, whose hi words share one or two
  // cache lines, and the guide shrinks eightfold (fewer misses, measured
  // faster than the full guide).
  const int bits = std::bit_width(cut) - (cut > (uint64_t{1} << 15) ? 3 : 0);
  t->guide_shift = 64 - bits;
  const uint64_t slots = uint64_t{1} << bits;
  t->guide.resize(slots);
  uint64_t i = 0;
  for (uint64_t k = 0; k < slots; ++k) {
    const uint64_t threshold = k << t->guide_shift;
    while (t->hi[i] < threshold) ++i;  // terminates: hi[T] = 2^64 - 1
    t->guide[k] = static_cast<uint32_t>(i);
  }
  FastDiscreteGaussian s;
  s.t_ = std::move(t);
  return s;
}

int64_t FastDiscreteGaussian::Resolve(uint64_t u, uint64_t v, size_t i) const {
  const Table& t = *t_;
  for (size_t j = i; j < t.cut; ++j) {
    if (u < t.hi[j] || (u == t.hi[j] && v < t.lo[j])) return static_cast<int64_t>(j);
  }
  return static_cast<int64_t>(t.cut);
}

}  // namespace fedrec::privacy
