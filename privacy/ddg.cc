#include "privacy/ddg.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <numbers>
#include <string>

#include "core/random.h"

namespace fedrec::privacy {
namespace {

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError("privacy: ddg: " + field + ": " + what);
}

// Butterflies of the levels h_begin <= h < h_end of the unnormalised
// Walsh-Hadamard transform of x[0, n) (Sylvester order). Cloned for AVX2
// (chosen at load time): additions and subtractions only, so no contraction
// can make the clones differ bitwise. privacy/CMakeLists.txt gives this file
// the dynamic vectoriser cost model (-O2's very-cheap model skips the loop).
__attribute__((target_clones("avx2", "default"))) void FwhtLevels(double* x, size_t n,
                                                                  size_t h_begin, size_t h_end) {
  size_t h = h_begin;
  if (h == 1 && h_end >= 4 && n >= 4) {
    // Levels 1 and 2 together on groups of four: the same additions in the
    // same order as two separate passes (bitwise identical), one pass over
    // memory and no inner loops of length 1 or 2.
    for (size_t i = 0; i < n; i += 4) {
      const double b0 = x[i] + x[i + 1], b1 = x[i] - x[i + 1];
      const double b2 = x[i + 2] + x[i + 3], b3 = x[i + 2] - x[i + 3];
      x[i] = b0 + b2;
      x[i + 1] = b1 + b3;
      x[i + 2] = b0 - b2;
      x[i + 3] = b1 - b3;
    }
    h = 4;
  }
  // Two levels per pass while two remain (one pass over memory instead of
  // two): on each four values at stride h, level h's butterflies then level
  // 2h's, the same additions on the same inputs as two passes.
  for (; 4 * h <= h_end && 4 * h <= n; h <<= 2) {
    for (size_t i = 0; i < n; i += 4 * h) {
      double* __restrict p0 = x + i;
      double* __restrict p1 = x + i + h;
      double* __restrict p2 = x + i + 2 * h;
      double* __restrict p3 = x + i + 3 * h;
      for (size_t j = 0; j < h; ++j) {
        const double a = p0[j], b = p1[j], c = p2[j], d = p3[j];
        const double s0 = a + b, s1 = a - b, s2 = c + d, s3 = c - d;
        p0[j] = s0 + s2;
        p1[j] = s1 + s3;
        p2[j] = s0 - s2;
        p3[j] = s1 - s3;
      }
    }
  }
  for (; h < h_end; h <<= 1) {
    for (size_t i = 0; i < n; i += 2 * h) {
      double* __restrict lo = x + i;
      double* __restrict hi = x + i + h;
      for (size_t j = 0; j < h; ++j) {  // vectorised: lo and hi never overlap
        const double a = lo[j];
        const double b = hi[j];
        lo[j] = a + b;
        hi[j] = a - b;
      }
    }
  }
}

// In-place unnormalised Walsh-Hadamard transform, O(D log D), cache-blocked:
// every level below kBlock runs block by block while the block is in L1,
// then the remaining levels over the whole vector. A butterfly's inputs are
// the same values in either order of the passes, so the result is bitwise
// that of the level-by-level transform.
void Fwht(std::span<double> x) {
  constexpr size_t kBlock = size_t{1} << 11;  // 16 KiB of doubles
  const size_t n = x.size();
  const size_t block = std::min(n, kBlock);
  for (size_t b = 0; b < n; b += block) FwhtLevels(x.data() + b, block, 1, block);
  FwhtLevels(x.data(), n, block, n);
}

// x[j] *= s_j, s_j = +-1 from bit j of the rotation stream: the sign bit is
// flipped by an exclusive or (exactly -x, no branch).
void ApplySigns(std::span<double> x, uint64_t seed) {
  RandomStream stream(StreamKey{seed, "ddg_rotation"});
  for (size_t j = 0; j < x.size(); j += 64) {
    const uint64_t bits = stream.NextU64();
    const size_t end = std::min(x.size(), j + 64);
    for (size_t k = j; k < end; ++k) {
      const uint64_t flip = ((bits >> (k - j)) & 1) << 63;
      x[k] = std::bit_cast<double>(std::bit_cast<uint64_t>(x[k]) ^ flip);
    }
  }
}

// out[k] = floor(z[k]) + [u_k < frac(z[k])], u_k = (words[k] >> 11) 2^-53
// uniform in [0, 1): stochastic rounding, exact (floor, the difference and
// the comparison are exact). Cloned for AVX2 (roundsd instead of a libm
// floor call); every operation is exact, so the clones agree bitwise.
__attribute__((target_clones("avx2", "default"))) void RoundChunk(const double* __restrict z,
                                                                  const uint64_t* __restrict words,
                                                                  int64_t* __restrict out,
                                                                  size_t n) {
  for (size_t k = 0; k < n; ++k) {
    const double fl = std::floor(z[k]);
    const double frac = z[k] - fl;  // exact in [0, 1)
    const double u = static_cast<double>(static_cast<int64_t>(words[k] >> 11)) * 0x1.0p-53;
    out[k] = static_cast<int64_t>(fl) + (u < frac ? 1 : 0);
  }
}

// sum v[k]^2 for |v[k]| <= 2^20 + 1 and n <= 1024: every partial sum is an
// integer < 2^51, so the double sum is exact in any order.
// Four running sums (one would be a latency chain of dependent adds).
__attribute__((target_clones("avx2", "default"))) double SmallSquares(const int64_t* v, size_t n) {
  double sq[4] = {0, 0, 0, 0};
  size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    for (size_t l = 0; l < 4; ++l) {
      const double x = static_cast<double>(v[k + l]);
      sq[l] += x * x;
    }
  }
  for (; k < n; ++k) {
    const double x = static_cast<double>(v[k]);
    sq[0] += x * x;
  }
  return (sq[0] + sq[1]) + (sq[2] + sq[3]);
}

// *max_abs = max |z_j|; false if some |z_j| >= limit or is NaN. One pass,
// four independent maxima (a single running maximum is a latency chain).
// Out of line: measured faster than inlined into RoundImpl.
__attribute__((noinline)) bool AbsMaxBelow(std::span<const double> z, double limit,
                                           double* max_abs) {
  double m0 = 0, m1 = 0, m2 = 0, m3 = 0;
  bool ok = true;
  size_t j = 0;
  for (; j + 4 <= z.size(); j += 4) {
    const double a0 = std::abs(z[j]), a1 = std::abs(z[j + 1]);
    const double a2 = std::abs(z[j + 2]), a3 = std::abs(z[j + 3]);
    m0 = a0 > m0 ? a0 : m0;
    m1 = a1 > m1 ? a1 : m1;
    m2 = a2 > m2 ? a2 : m2;
    m3 = a3 > m3 ? a3 : m3;
    ok &= (a0 < limit) & (a1 < limit) & (a2 < limit) & (a3 < limit);  // false for NaN
  }
  for (; j < z.size(); ++j) {
    const double a = std::abs(z[j]);
    m0 = a > m0 ? a : m0;
    ok &= a < limit;
  }
  *max_abs = std::max(std::max(m0, m1), std::max(m2, m3));
  return ok;
}

// *norm_sq = sum x_j^2 in four interleaved partial sums (a fixed order, so
// deterministic; one running sum would be a latency chain). False if some
// x_j is not finite. Out of line, as AbsMaxBelow.
__attribute__((noinline)) bool SquaredNormIfFinite(std::span<const double> x, double* norm_sq) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int finite = 1;
  size_t j = 0;
  for (; j + 4 <= x.size(); j += 4) {
    const double a = x[j], b = x[j + 1], c = x[j + 2], d = x[j + 3];
    finite &= static_cast<int>(std::isfinite(a)) & static_cast<int>(std::isfinite(b)) &
              static_cast<int>(std::isfinite(c)) & static_cast<int>(std::isfinite(d));
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; j < x.size(); ++j) {
    finite &= static_cast<int>(std::isfinite(x[j]));
    s0 += x[j] * x[j];
  }
  *norm_sq = (s0 + s1) + (s2 + s3);
  return finite != 0;
}

// The rounding's random words do not linger on the stack.
void WipeWords(std::span<uint64_t> words) {
  std::fill(words.begin(), words.end(), 0);
  asm volatile("" : : "r"(words.data()) : "memory");  // the stores are not elided
}

template <class G>
absl::StatusOr<std::vector<int64_t>> RoundImpl(std::span<const double> z, double bound_sq,
                                               int max_tries, G& g) {
  if (!(bound_sq >= 0) || max_tries < 1) {
    return absl::InvalidArgumentError("privacy: ddg: rounding: bad bound or tries");
  }
  double max_abs = 0;
  if (!AbsMaxBelow(z, 0x1.0p50, &max_abs)) {
    return absl::InvalidArgumentError("privacy: ddg: rounding: |value| must be < 2^50");
  }
  // Exact integer comparison: sum x_j^2 <= floor(bound_sq).
  const Uint128 limit = bound_sq >= 0x1.0p127 ? ~Uint128{0} : static_cast<Uint128>(bound_sq);
  // Small values (the DDG case): |x~_j| <= 2^20 + 1, so x~_j^2 < 2^41 and a
  // chunk of kChunk squares sums to < 2^51: exact in double in any order.
  const bool small = max_abs <= 0x1.0p20;
  constexpr size_t kChunk = 1024;
  uint64_t words[kChunk];
  std::vector<int64_t> out(z.size());
  for (int attempt = 0; attempt < max_tries; ++attempt) {
    Uint128 norm_sq = 0;
    for (size_t begin = 0; begin < z.size(); begin += kChunk) {
      const size_t n = std::min(kChunk, z.size() - begin);
      // One word per coordinate, in coordinate order (as drawn one by one).
      FillWords(g, words, n);
      int64_t* oc = out.data() + begin;
      RoundChunk(z.data() + begin, words, oc, n);
      if (small) {
        norm_sq += static_cast<Uint128>(SmallSquares(oc, n));
      } else {
        for (size_t k = 0; k < n; ++k) {
          const uint64_t a = static_cast<uint64_t>(oc[k] < 0 ? -oc[k] : oc[k]);
          norm_sq += static_cast<Uint128>(a) * a;  // < 2^100 each; D < 2^27 terms
        }
      }
    }
    if (norm_sq <= limit) {
      WipeWords(words);
      return out;
    }
  }
  WipeWords(words);
  return absl::ResourceExhaustedError(
      "privacy: ddg: conditional rounding did not meet the L2 bound in " +
      std::to_string(max_tries) + " tries (is the update clipped? is beta too large?)");
}

double LogAddExp(double a, double b) {
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

double LogBinomial(int64_t n, int64_t k) {
  return std::lgamma(double(n) + 1) - std::lgamma(double(k) + 1) - std::lgamma(double(n - k) + 1);
}

// eps(alpha) of KLS21 Prop. 14 / Eq. 17 at integer alpha.
double DdgRdpAt(const DdgPrivacyTerms& t, double alpha) {
  if (t.central_stddev == 0) return std::numeric_limits<double>::infinity();
  const double l2 = t.l2_sensitivity / t.central_stddev;
  const double l1 = t.l1_sensitivity / t.central_stddev;
  const double d = static_cast<double>(t.padded_dim);
  const double term1 = alpha / 2 * l2 * l2 + t.tau * d;
  const double term2 = alpha / 2 * (l2 * l2 + 2 * l1 * t.tau + t.tau * t.tau * d);
  const double s = l2 + std::sqrt(d) * t.tau;
  const double term3 = alpha / 2 * s * s;
  return std::min({term1, term2, term3});
}

absl::Status CheckOrders(const std::vector<double>& orders) {
  if (orders.empty()) return absl::InvalidArgumentError("privacy: ddg: orders: empty");
  for (double a : orders) {
    if (!(a > 1) || !std::isfinite(a)) {
      return absl::InvalidArgumentError("privacy: ddg: orders: every order must be finite and > 1");
    }
  }
  return absl::OkStatus();
}

}  // namespace

int64_t DdgPaddedDim(int64_t d) {
  return d <= 1 ? 1 : static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(d)));
}

double DdgRoundedL2Bound(double scaled_norm, double beta, int64_t padded_dim) {
  const double d = static_cast<double>(padded_dim);
  const double bound1 = scaled_norm + std::sqrt(d);
  if (beta == 0) return bound1;
  const double bound2_sq = scaled_norm * scaled_norm + d / 4 +
                           std::sqrt(2 * std::log(1 / beta)) * (scaled_norm + std::sqrt(d) / 2);
  return std::min(bound1, std::sqrt(bound2_sq));
}

absl::Status ValidateDdgParams(const DdgParams& p) {
  if (p.dim < 1 || p.dim > (int64_t{1} << 27)) return Bad("dim", "must be in [1, 2^27]");
  if (!(p.clip > 0) || !std::isfinite(p.clip)) return Bad("clip", "must be finite and > 0");
  if (!(p.gamma > 0) || !std::isfinite(p.gamma)) return Bad("gamma", "must be finite and > 0");
  if (!(p.clip / p.gamma < 0x1.0p40)) return Bad("gamma", "clip / gamma must be < 2^40");
  if (p.bits < 2 || p.bits > 62) return Bad("bits", "must be in [2, 62]");
  if (!(p.beta >= 0 && p.beta < 1)) return Bad("beta", "must be in [0, 1)");
  if (p.num_clients < 1) return Bad("num_clients", "must be >= 1");
  if (!(p.local_stddev >= 0) || !std::isfinite(p.local_stddev)) {
    return Bad("local_stddev", "must be finite and >= 0");
  }
  const double sigma_z = p.local_stddev / p.gamma;
  if (p.local_stddev > 0 && sigma_z < 0.5) {
    return Bad("local_stddev",
               "local_stddev / gamma must be >= 1/2 (got " + std::to_string(sigma_z) + ")");
  }
  if (p.max_rounding_tries < 1) return Bad("max_rounding_tries", "must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<double> ChooseDdgGamma(double clip, int64_t padded_dim, int64_t num_clients,
                                      int bits, double k_stddevs, double local_stddev, double rho) {
  if (!(clip > 0) || padded_dim < 1 || num_clients < 1 || bits < 2 || bits > 62 ||
      !(k_stddevs > 0) || !(local_stddev >= 0) || !(rho > 0)) {
    return absl::InvalidArgumentError("privacy: ddg: gamma: bad arguments");
  }
  const double n = static_cast<double>(num_clients);
  const double room = std::ldexp(1.0, 2 * bits) - n * k_stddevs * k_stddevs;
  if (!(room > 0)) {
    return absl::InvalidArgumentError(
        "privacy: ddg: gamma: bits = " + std::to_string(bits) +
        " too small: need 2^(2 bits) > num_clients * k^2 (raise bits, lower k or num_clients)");
  }
  const double signal = rho / static_cast<double>(padded_dim) * clip * clip * n * n;
  return 2 * k_stddevs * std::sqrt(signal + n * local_stddev * local_stddev) / std::sqrt(room);
}

double DdgWrapProbabilityPerCoordinate(const DdgParams& p) {
  const double n = static_cast<double>(p.num_clients);
  const double cn = p.clip * n / p.gamma;
  const double sz = p.local_stddev / p.gamma;
  const double v = cn * cn / static_cast<double>(DdgPaddedDim(p.dim)) + n / 4 + n * sz * sz;
  const double k = std::ldexp(1.0, p.bits - 1) / std::sqrt(v);
  return std::min(1.0, 2 * std::exp(-k * k / 2));
}

void RandomizedHadamard(std::span<double> x, uint64_t seed) {
  ApplySigns(x, seed);
  Fwht(x);
  const double scale = 1 / std::sqrt(static_cast<double>(x.size()));
  for (double& v : x) v *= scale;
}

void InverseRandomizedHadamard(std::span<double> x, uint64_t seed) {
  Fwht(x);
  const double scale = 1 / std::sqrt(static_cast<double>(x.size()));
  for (double& v : x) v *= scale;
  ApplySigns(x, seed);
}

absl::StatusOr<std::vector<int64_t>> ConditionalRandomizedRound(std::span<const double> z,
                                                                double bound_sq, int max_tries,
                                                                SecureUrbg& g) {
  return RoundImpl(z, bound_sq, max_tries, g);
}
absl::StatusOr<std::vector<int64_t>> ConditionalRandomizedRound(std::span<const double> z,
                                                                double bound_sq, int max_tries,
                                                                PhiloxUrbg& g) {
  return RoundImpl(z, bound_sq, max_tries, g);
}
absl::StatusOr<std::vector<int64_t>> ConditionalRandomizedRound(std::span<const double> z,
                                                                double bound_sq, int max_tries,
                                                                AesCtrUrbg& g) {
  return RoundImpl(z, bound_sq, max_tries, g);
}

void DdgAccumulate(std::span<uint64_t> sum, std::span<const uint64_t> x, int bits) {
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  const size_t n = std::min(sum.size(), x.size());
  for (size_t i = 0; i < n; ++i) sum[i] = (sum[i] + x[i]) & mask;
}

absl::StatusOr<DdgMechanism> DdgMechanism::Create(const DdgParams& params, bool fast_noise) {
  FEDREC_RETURN_IF_ERROR(ValidateDdgParams(params));
  DdgMechanism m;
  m.params_ = params;
  m.padded_dim_ = DdgPaddedDim(params.dim);
  const double sigma_z = params.local_stddev / params.gamma;
  auto sampler = DiscreteGaussianSampler::FromVariance(sigma_z * sigma_z);
  if (!sampler.ok()) {
    return Bad("local_stddev", "noise variance (local_stddev / gamma)^2: " +
                                   std::string(sampler.status().message()));
  }
  m.sampler_ = *sampler;
  // The table sampler for every sigma_z its table covers (the exact sampler
  // above still validates the variance and is the fallback).
  if (sigma_z > 0 && fast_noise) {
    absl::StatusOr<FastDiscreteGaussian> fast = FastDiscreteGaussian::Create(sigma_z * sigma_z);
    if (fast.ok()) {
      m.fast_ = *std::move(fast);
      m.use_fast_ = true;
    }
  }
  m.l2_bound_ = DdgRoundedL2Bound(params.clip / params.gamma, params.beta, m.padded_dim_);
  m.l2_bound_sq_ = m.l2_bound_ * m.l2_bound_;
  return m;
}

template <class G>
absl::StatusOr<std::vector<uint64_t>> DdgMechanism::EncodeImpl(std::span<const double> update,
                                                               uint64_t rotation_seed, G& g) const {
  if (static_cast<int64_t>(update.size()) != params_.dim) {
    return Bad("update", "length " + std::to_string(update.size()) + " != dim " +
                             std::to_string(params_.dim));
  }
  double norm_sq = 0;
  if (!SquaredNormIfFinite(update, &norm_sq)) return Bad("update", "non-finite value");
  // 1. clip (a no-op for a clipped update) and pad.
  const double norm = std::sqrt(norm_sq);
  const double clip_factor = norm > params_.clip ? params_.clip / norm : 1.0;
  std::vector<double> z(static_cast<size_t>(padded_dim_), 0.0);
  // 3 folded in: scale by clip_factor / gamma before rotating (linear maps commute).
  const double scale = clip_factor / params_.gamma;
  for (size_t j = 0; j < update.size(); ++j) z[j] = update[j] * scale;
  // 2. flatten.
  RandomizedHadamard(z, rotation_seed);
  // 4. conditional randomised rounding (the exact integer check bounds the
  // sensitivity whatever the float error of the rotation).
  FEDREC_ASSIGN_OR_RETURN(std::vector<int64_t> rounded,
                          RoundImpl(z, l2_bound_sq_, params_.max_rounding_tries, g));
  // 5. noise and 6. reduction mod 2^b. |rounded| < 2^41 and |noise| <=
  // max_abs <= 2^62, so the int64 sum cannot overflow.
  const uint64_t mask = (uint64_t{1} << params_.bits) - 1;
  if (use_fast_) {
    fast_.Add(g, rounded);
  } else {
    for (int64_t& v : rounded) v += sampler_.Sample(g);
  }
  std::vector<uint64_t> out(rounded.size());
  for (size_t j = 0; j < rounded.size(); ++j) out[j] = static_cast<uint64_t>(rounded[j]) & mask;
  return out;
}

absl::StatusOr<std::vector<uint64_t>> DdgMechanism::Encode(std::span<const double> update,
                                                           uint64_t rotation_seed,
                                                           SecureUrbg& g) const {
  return EncodeImpl(update, rotation_seed, g);
}
absl::StatusOr<std::vector<uint64_t>> DdgMechanism::Encode(std::span<const double> update,
                                                           uint64_t rotation_seed,
                                                           PhiloxUrbg& g) const {
  return EncodeImpl(update, rotation_seed, g);
}

absl::StatusOr<std::vector<uint64_t>> DdgMechanism::Encode(std::span<const double> update,
                                                           uint64_t rotation_seed,
                                                           AesCtrUrbg& g) const {
  return EncodeImpl(update, rotation_seed, g);
}

absl::StatusOr<std::vector<double>> DdgMechanism::Decode(std::span<const uint64_t> sum,
                                                         uint64_t rotation_seed) const {
  if (static_cast<int64_t>(sum.size()) != padded_dim_) {
    return Bad("sum", "length " + std::to_string(sum.size()) + " != padded dim " +
                          std::to_string(padded_dim_));
  }
  const uint64_t modulus_half = uint64_t{1} << (params_.bits - 1);
  const uint64_t mask = (uint64_t{1} << params_.bits) - 1;
  std::vector<double> x(sum.size());
  for (size_t j = 0; j < sum.size(); ++j) {
    const uint64_t v = sum[j] & mask;
    const int64_t s = v >= modulus_half ? static_cast<int64_t>(v) - static_cast<int64_t>(mask) - 1
                                        : static_cast<int64_t>(v);
    x[j] = static_cast<double>(s) * params_.gamma;
  }
  InverseRandomizedHadamard(x, rotation_seed);
  x.resize(static_cast<size_t>(params_.dim));
  return x;
}

absl::StatusOr<DdgPrivacyTerms> DdgPrivacy(const DdgParams& p) {
  FEDREC_RETURN_IF_ERROR(ValidateDdgParams(p));
  DdgPrivacyTerms t;
  t.padded_dim = DdgPaddedDim(p.dim);
  // The rounding enforces ||x~||^2 <= floor(fl(Delta_2^2)); one ulp above
  // Delta_2 covers the rounding of fl(Delta_2^2).
  t.l2_sensitivity = std::nextafter(DdgRoundedL2Bound(p.clip / p.gamma, p.beta, t.padded_dim),
                                    std::numeric_limits<double>::infinity());
  t.l1_sensitivity =
      t.l2_sensitivity * std::min(std::sqrt(static_cast<double>(t.padded_dim)), t.l2_sensitivity);
  const double sigma_z = p.local_stddev / p.gamma;
  const double n = static_cast<double>(p.num_clients);
  t.central_stddev = std::sqrt(n) * sigma_z;
  const double a = 2 * std::numbers::pi * std::numbers::pi * sigma_z * sigma_z;
  double tau = 0;
  for (int64_t k = 1; k < p.num_clients; ++k) {
    const double term = std::exp(-a * static_cast<double>(k) / static_cast<double>(k + 1));
    tau += term;
    if (term == 0) break;  // terms decrease with k: the rest underflow too
  }
  t.tau = 10 * tau;
  return t;
}

absl::StatusOr<std::vector<double>> DdgRdp(const DdgParams& p, const std::vector<double>& orders) {
  FEDREC_RETURN_IF_ERROR(CheckOrders(orders));
  FEDREC_ASSIGN_OR_RETURN(const DdgPrivacyTerms t, DdgPrivacy(p));
  std::vector<double> rdp;
  rdp.reserve(orders.size());
  for (double a : orders) rdp.push_back(DdgRdpAt(t, std::ceil(a)));
  return rdp;
}

absl::StatusOr<double> DdgEquivalentNoiseMultiplier(const DdgParams& p) {
  FEDREC_ASSIGN_OR_RETURN(const DdgPrivacyTerms t, DdgPrivacy(p));
  if (t.central_stddev == 0) return 0.0;
  return 1 / (t.l2_sensitivity / t.central_stddev +
              std::sqrt(static_cast<double>(t.padded_dim)) * t.tau);
}

absl::StatusOr<std::vector<double>> DdgPoissonSubsampledRdp(const DdgParams& p, double q,
                                                            const std::vector<double>& orders) {
  FEDREC_RETURN_IF_ERROR(CheckOrders(orders));
  if (!(q >= 0 && q <= 1)) return absl::InvalidArgumentError("privacy: ddg: q: must be in [0, 1]");
  FEDREC_ASSIGN_OR_RETURN(const DdgPrivacyTerms t, DdgPrivacy(p));
  std::vector<double> rdp;
  rdp.reserve(orders.size());
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  for (double order : orders) {
    const double alpha_d = std::ceil(order);
    const double unsampled = DdgRdpAt(t, alpha_d);
    if (q == 0) {
      rdp.push_back(0.0);
      continue;
    }
    if (q == 1 || std::isinf(unsampled)) {
      rdp.push_back(unsampled);
      continue;
    }
    const int64_t alpha = static_cast<int64_t>(alpha_d);
    // Zhu & Wang 2019, Thm. 5:
    //   (alpha - 1) eps'(alpha) <= log( (1-q)^(alpha-1) (alpha q - q + 1)
    //       + C(alpha, 2) q^2 (1-q)^(alpha-2) e^{eps(2)}
    //       + 3 sum_{l=3}^{alpha} C(alpha, l) (1-q)^(alpha-l) q^l e^{(l-1) eps(l)} ).
    double log_sum = (alpha_d - 1) * log_1mq + std::log1p(q * (alpha_d - 1));
    log_sum = LogAddExp(
        log_sum, LogBinomial(alpha, 2) + 2 * log_q + (alpha_d - 2) * log_1mq + DdgRdpAt(t, 2));
    for (int64_t l = 3; l <= alpha; ++l) {
      const double ld = static_cast<double>(l);
      log_sum =
          LogAddExp(log_sum, std::log(3.0) + LogBinomial(alpha, l) + (alpha_d - ld) * log_1mq +
                                 ld * log_q + (ld - 1) * DdgRdpAt(t, ld));
    }
    rdp.push_back(std::min(unsampled, log_sum / (alpha_d - 1)));
  }
  return rdp;
}

double BinomialLowerTail(int64_t population, double p, int64_t n) {
  if (n <= 0) return 0.0;
  if (n > population) return 1.0;
  if (p <= 0) return 1.0;  // X = 0 < n
  if (p >= 1) return 0.0;  // X = population >= n
  const double N = static_cast<double>(population);
  const double lp = std::log(p), lq = std::log1p(-p);
  const double lgn = std::lgamma(N + 1);
  // log-sum-exp over k = 0 .. n-1.
  std::vector<double> terms(static_cast<size_t>(n));
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t k = 0; k < n; ++k) {
    const double kk = static_cast<double>(k);
    const double t = lgn - std::lgamma(kk + 1) - std::lgamma(N - kk + 1) + kk * lp + (N - kk) * lq;
    terms[static_cast<size_t>(k)] = t;
    top = std::max(top, t);
  }
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return std::min(1.0, std::exp(top) * sum);
}

int64_t MinimumNoiseShares(int64_t population, double p, double failure) {
  // P(X < n) grows with n: the first n whose tail exceeds `failure`, minus one.
  int64_t lo = 0, hi = population + 1;  // tail(lo) <= failure < tail(hi) (tail(N+1) = 1)
  if (BinomialLowerTail(population, p, hi) <= failure) return hi;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (BinomialLowerTail(population, p, mid) <= failure ? lo : hi) = mid;
  }
  return lo;
}

double DdgStddevsFor(int64_t padded_dim, double failure) {
  return std::sqrt(2.0 * std::log(2.0 * static_cast<double>(padded_dim) / failure));
}

}  // namespace fedrec::privacy
