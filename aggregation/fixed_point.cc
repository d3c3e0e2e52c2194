#include "aggregation/fixed_point.h"

#include <bit>
#include <cmath>

#include "fmt/format.h"

namespace fedrec {

absl::StatusOr<FixedPointCodec> FixedPointCodec::Derive(int bits, double clip_norm,
                                                        uint64_t max_contributions) {
  if (bits != 32 && bits != 64) {
    return absl::InvalidArgumentError(
        fmt::format("aggregation.bits: must be 32 or 64, got {}", bits));
  }
  if (!(clip_norm > 0) || !std::isfinite(clip_norm)) {
    return absl::InvalidArgumentError("aggregation.clip_norm: must be a positive finite number");
  }
  if (max_contributions == 0) max_contributions = 1;
  // Largest k with M (C 2^k + 1) <= 2^(bits-1) - 1, i.e.
  // 2^k <= ((2^(bits-1) - 1) / M - 1) / C. Computed in long double and then
  // verified exactly below, so rounding in the division cannot admit a wrap.
  const long double limit = std::ldexp(1.0L, bits - 1) - 1.0L;
  const long double per_client = limit / static_cast<long double>(max_contributions) - 1.0L;
  FixedPointCodec c;
  c.bits_ = bits;
  c.clip_norm_ = clip_norm;
  c.max_contributions_ = max_contributions;
  c.mask_ = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  if (per_client <= 0) {
    return absl::InvalidArgumentError(fmt::format(
        "aggregation.bits: {} clients per round cannot be summed in Z_2^{} without wrapping; "
        "use aggregation.bits = 64 or a smaller cohort (federation.clients_per_round)",
        max_contributions, bits));
  }
  int k = static_cast<int>(std::floor(std::log2(per_client / static_cast<long double>(clip_norm))));
  auto fits = [&](int kk) {
    const long double s = std::ldexp(1.0L, kk);
    return static_cast<long double>(max_contributions) *
               (static_cast<long double>(clip_norm) * s + 1.0L) <=
           limit;
  };
  while (!fits(k)) --k;
  while (fits(k + 1)) ++k;
  c.scale_log2_ = k;
  c.scale_ = std::ldexp(1.0, k);
  if (clip_norm * c.scale_ < std::ldexp(1.0, kMinResolutionBits)) {
    return absl::InvalidArgumentError(fmt::format(
        "aggregation: Z_2^{} leaves only {:.1f} bits of resolution below the clip norm {} for up "
        "to {} clients per round (Poisson sampling: the whole population can be sampled); use "
        "aggregation.bits = 64 or a fixed cohort (federation.clients_per_round)",
        bits, std::log2(clip_norm * c.scale_), clip_norm, max_contributions));
  }
  return c;
}

double FixedPointCodec::Decode(uint64_t word) const {
  word &= mask_;
  int64_t v;
  if (bits_ == 64) {
    v = static_cast<int64_t>(word);
  } else {
    v = static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(word)));
  }
  return std::ldexp(static_cast<double>(v), -scale_log2_);
}

std::string FixedPointCodec::Describe() const {
  return fmt::format("Z_2^{}, scale 2^{} (resolution {:.2g}) for <= {} clients per round", bits_,
                     scale_log2_, resolution(), max_contributions_);
}

void FixedPointCodec::RoundAddChunk(const float* x, size_t m, double s, double lim,
                                    const uint32_t* words, uint64_t* acc) {
  constexpr double kTwo32 = 4294967296.0;
  for (size_t j = 0; j < m; ++j) {
    double y = static_cast<double>(x[j]) * s;
    y = y < -lim ? -lim : (y > lim ? lim : y);
    double t = (y + kMagic) - kMagic;  // y rounded to an integer
    t -= t > y ? 1.0 : 0.0;            // floor
    const double frac = y - t;
    t += static_cast<double>(words[j]) < frac * kTwo32 ? 1.0 : 0.0;
    acc[j] +=
        static_cast<uint64_t>(std::bit_cast<int64_t>(t + kMagic) - std::bit_cast<int64_t>(kMagic));
  }
}

}  // namespace fedrec
