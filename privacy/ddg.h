// The distributed discrete Gaussian mechanism (DDG) of
//   [KLS21] P. Kairouz, Z. Liu, T. Steinke, "The Distributed Discrete Gaussian
//           Mechanism for Federated Learning with Secure Aggregation",
//           ICML 2021 (arXiv:2102.06387),
// for fedrec's distributed-DP mode: each client adds its own discrete Gaussian
// noise in the integer domain before secure aggregation, so only the noisy sum
// is ever revealed and no party has to be trusted with the noise.
//
// Client (DdgMechanism::Encode), KLS21 Alg. 1, on an update x in R^d:
//   1. clip to ||x||_2 <= c (the caller clips; Encode clips again, a no-op for
//      a clipped x), pad with zeros to D = 2^ceil(log2 d);
//   2. flatten: x <- H S x / sqrt(D), S = diag of random signs from the
//      round's shared rotation seed, H the Walsh-Hadamard matrix (+-1
//      entries): an orthonormal map, the same for every client of the round;
//   3. scale by 1/gamma (gamma: the integer grid step in rotated units);
//   4. conditional randomised rounding: round each coordinate independently
//      and unbiasedly to floor or ceil; retry until ||x~||_2^2 <= Delta_2^2,
//      Delta_2 = min{ c/gamma + sqrt(D),
//                     sqrt(c^2/gamma^2 + D/4 + sqrt(2 ln(1/beta)) (c/gamma + sqrt(D)/2)) }
//      (KLS21 Thm. 1 / Prop. 22; beta = 0 keeps only the first, always-true
//      bound, i.e. plain stochastic rounding). Each try succeeds with
//      probability >= 1 - beta; after max_rounding_tries: ResourceExhausted;
//   5. add N_Z(0, sigma_z^2) to every coordinate, sigma_z = local_stddev / gamma,
//      drawn by the table sampler (privacy/fast_discrete_gaussian.h: within
//      statistical distance eta() of N_Z per draw, charged to delta by the
//      plan) or, for sigma_z beyond its table, by the exact CKS sampler
//      (the noise of ONE client; the sum of n clients carries variance
//      n sigma_z^2, i.e. the central stddev is sqrt(n) local_stddev in the
//      original units; choose local_stddev = central_stddev / sqrt(n));
//   6. reduce mod 2^b (two's complement wrap to [0, 2^b)).
// Secure aggregation sums the clients' vectors mod 2^b (DdgAccumulate).
// Server (Decode): map the sum to [-2^(b-1), 2^(b-1)), multiply by gamma,
// undo the rotation (S H / sqrt(D)), drop the padding: an estimate of
// sum_i x_i with error gamma * (rounding + noise) rotated back.
//
// Modulus and scale (ChooseDdgGamma): KLS21 Sec. 4.2/4.4 and the authors'
// heuristic_scale_factor: choose gamma so that k standard deviations of every
// aggregated coordinate fit in the modulus:
//   2^b = 2 k sqrt( rho (c n)^2 / D + (gamma^2 / 4 + local_stddev^2) n ) / gamma.
// Wrap probability: given the signs, a rotated coordinate of the summed signal
// is a Rademacher sum with variance proxy ||sum x_i||^2 / D <= (c n)^2 / D
// (rho = 1 for the randomised Hadamard, by Hoeffding); each client's rounding
// error is mean-zero in an interval of length 1 (proxy 1/4) and N_Z(0, s^2)
// is s^2-subgaussian [CKS20]. So each aggregated coordinate is subgaussian
// with proxy v = rho (cn/gamma)^2/D + n/4 + n sigma_z^2 and
//   P(coordinate wraps) <= 2 exp(-k^2 / 2),   k = 2^(b-1) / sqrt(v),
// (DdgWrapProbabilityPerCoordinate); over all D coordinates at most D times
// that. This is rigorous for beta = 0; with beta > 0 the conditioning of the
// rounding is ignored, as in the paper's code (a heuristic). A wrap affects
// accuracy, not privacy (reduction mod 2^b is post-processing).
//
// Privacy (DdgRdp): the RDP of one round without subsampling, KLS21 Prop. 14 /
// Eq. 17 as implemented in the authors' accounting_utils.compute_rdp_dgaussian:
// with Delta_2 as above (in the integer domain), Delta_1 = Delta_2 *
// min(sqrt(D), Delta_2) (integer vectors: L1 <= L2^2), s = sqrt(n) sigma_z,
// l2 = Delta_2 / s, l1 = Delta_1 / s and
//   tau = 10 * sum_{k=1}^{n-1} exp(-2 pi^2 sigma_z^2 k / (k + 1)),
//   eps(alpha) = min{ alpha/2 l2^2 + tau D,
//                     alpha/2 (l2^2 + 2 l1 tau + tau^2 D),
//                     alpha/2 (l2 + sqrt(D) tau)^2 }.
// The guarantee is for neighbouring inputs that differ in one client's vector
// (norm <= c) while at least n clients' noise is in the released sum: pass the
// minimum number of surviving noise shares as num_clients (dropouts remove
// noise). Non-integer orders are evaluated at ceil(alpha), which is
// conservative because RDP is non-decreasing in alpha. We require
// sigma_z >= 1/2 (below that tau is large and the bound useless).
//
// Subsampling: the paper's accounting amplifies this curve by Poisson
// subsampling with the GENERAL bound of Zhu and Wang 2019 ("Poisson Subsampled
// Renyi Differential Privacy", ICML, Thm. 5; integer orders), not by the
// sampled-Gaussian analysis of Mironov et al.: DdgPoissonSubsampledRdp.
// DdgEquivalentNoiseMultiplier gives z_eq = 1 / (l2 + sqrt(D) tau), for which
// eps(alpha) <= alpha / (2 z_eq^2) at every order (the third term): the
// one-round curve is dominated by a Gaussian mechanism's, exactly. Feeding
// z_eq to the Poisson-subsampled GAUSSIAN accountant (privacy/rdp.h) is an
// approximation, not a theorem (amplification by subsampling depends on the
// mechanism, not only on its RDP curve); it is what "central DP with the same
// noise" would give and is close when tau ~ 0, but use
// DdgPoissonSubsampledRdp for a rigorous epsilon.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "core/csprng.h"
#include "core/status.h"
#include "privacy/aes_urbg.h"
#include "privacy/discrete_gaussian.h"
#include "privacy/fast_discrete_gaussian.h"
#include "privacy/urbg.h"

namespace fedrec::privacy {

struct DdgParams {
  int64_t dim = 0;                   // d, length of a client's update (before padding), >= 1
  double clip = 0;                   // c > 0: L2 bound of a client's update (original units)
  double gamma = 0;                  // > 0: integer grid step in rotated original units
  int bits = 16;                     // b in [2, 62]: the sum lives in Z_{2^b}
  double beta = 0.6065306597126334;  // exp(-1/2) as in KLS21's experiments; [0, 1)
  int64_t num_clients = 1;           // n >= 1: minimum number of noise shares in the sum
  double local_stddev = 0;           // >= 0: per-client noise stddev in original units
  int max_rounding_tries = 1000;     // >= 1
};

// InvalidArgument "privacy: ddg: <field>: ..." on a bad field, including
// c / gamma >= 2^40 and a noise variance the exact sampler refuses.
absl::Status ValidateDdgParams(const DdgParams& p);

// The smallest power of two >= d (d >= 1).
int64_t DdgPaddedDim(int64_t d);

// Delta_2 of step 4 in the integer domain: the L2 bound of a rounded vector
// whose real-valued version has norm <= scaled_norm, in dimension D.
double DdgRoundedL2Bound(double scaled_norm, double beta, int64_t padded_dim);

// gamma for the parameters (KLS21 Sec. 4.4, heuristic_scale_factor; see the
// header comment): InvalidArgument when 2^(2b) <= n k^2 (no gamma fits).
absl::StatusOr<double> ChooseDdgGamma(double clip, int64_t padded_dim, int64_t num_clients,
                                      int bits, double k_stddevs, double local_stddev,
                                      double rho = 1.0);

// The per-coordinate wrap bound 2 exp(-k^2/2) for the parameters' gamma
// (k = 2^(b-1) / sqrt(v), see the header comment).
double DdgWrapProbabilityPerCoordinate(const DdgParams& p);

// The in-place randomised Walsh-Hadamard rotation x <- H S x / sqrt(D) and
// its inverse x <- S H x / sqrt(D) (x.size() a power of two). The signs S are
// bit j of the Philox stream (seed, "ddg_rotation"). Orthonormal; each is the
// other's inverse up to float rounding.
void RandomizedHadamard(std::span<double> x, uint64_t seed);
void InverseRandomizedHadamard(std::span<double> x, uint64_t seed);

// Step 4 on a scaled rotated vector z: stochastic rounding of every
// coordinate, retried until sum x~_j^2 <= floor(bound_sq) (exact integer
// comparison). ResourceExhausted after max_tries. |z_j| must be < 2^50.
absl::StatusOr<std::vector<int64_t>> ConditionalRandomizedRound(std::span<const double> z,
                                                                double bound_sq, int max_tries,
                                                                SecureUrbg& g);
absl::StatusOr<std::vector<int64_t>> ConditionalRandomizedRound(std::span<const double> z,
                                                                double bound_sq, int max_tries,
                                                                PhiloxUrbg& g);
absl::StatusOr<std::vector<int64_t>> ConditionalRandomizedRound(std::span<const double> z,
                                                                double bound_sq, int max_tries,
                                                                AesCtrUrbg& g);

// sum[i] = (sum[i] + x[i]) mod 2^bits (what secure aggregation computes).
void DdgAccumulate(std::span<uint64_t> sum, std::span<const uint64_t> x, int bits);

// Planning a run (fedrec's distributed mode). The sum must hold at least n
// clients' noise for DdgRdp(num_clients = n) to apply, but under Poisson
// sampling (and dropouts) the number of uploading clients is random. The
// coordinator therefore releases a round only when >= n clients uploaded.
//
// P(Binomial(population, p) < n), by summing the pmf in log space
// (population >= 0, p in [0, 1], n >= 0).
double BinomialLowerTail(int64_t population, double p, int64_t n);
// The largest n >= 0 with P(Binomial(population, p) < n) <= failure: the
// noise shares a round can count on except with probability `failure`.
int64_t MinimumNoiseShares(int64_t population, double p, double failure);
// k for ChooseDdgGamma such that D * 2 exp(-k^2 / 2) <= failure (the bound on
// any coordinate of the padded dimension D wrapping; failure in (0, 1)).
double DdgStddevsFor(int64_t padded_dim, double failure);

// The mechanism for one set of parameters. Immutable; thread-safe to share
// (each thread brings its own URBG).
class DdgMechanism {
 public:
  // fast_noise = false: the exact CKS sampler draws the noise (eta 0).
  static absl::StatusOr<DdgMechanism> Create(const DdgParams& params, bool fast_noise = true);

  // Steps 1-6 for one client; returns D values in [0, 2^b). InvalidArgument
  // when update.size() != dim or it has a non-finite value;
  // ResourceExhausted when conditional rounding fails max_rounding_tries
  // times. The URBG drives rounding and noise: SecureUrbg in production.
  absl::StatusOr<std::vector<uint64_t>> Encode(std::span<const double> update,
                                               uint64_t rotation_seed, SecureUrbg& g) const;
  absl::StatusOr<std::vector<uint64_t>> Encode(std::span<const double> update,
                                               uint64_t rotation_seed, PhiloxUrbg& g) const;
  // The fast path of the client: AES-CTR randomness (fresh key from the OS
  // CSPRNG, or FromPinnedStream under privacy.noise_seed).
  absl::StatusOr<std::vector<uint64_t>> Encode(std::span<const double> update,
                                               uint64_t rotation_seed, AesCtrUrbg& g) const;

  // The server's decoding of a sum mod 2^b (D values) into an estimate of
  // sum_i x_i (d values).
  absl::StatusOr<std::vector<double>> Decode(std::span<const uint64_t> sum,
                                             uint64_t rotation_seed) const;

  const DdgParams& params() const { return params_; }
  int64_t padded_dim() const { return padded_dim_; }
  // Delta_2 (integer domain) and its square as compared by the rounding.
  double l2_bound() const { return l2_bound_; }
  double l2_bound_sq() const { return l2_bound_sq_; }
  // sigma_z^2 = (local_stddev / gamma)^2, the exact variance parameter of
  // each client's discrete Gaussian (a double, taken exactly).
  double noise_sigma2() const { return sampler_.sigma2_double(); }
  // The statistical distance of one noise coordinate to N_Z(0, sigma_z^2):
  // the table sampler's eta, or 0 when the exact sampler draws the noise.
  double noise_eta() const { return use_fast_ ? fast_.eta() : 0.0; }
  bool fast_noise() const { return use_fast_; }

 private:
  DdgMechanism() = default;
  template <class G>
  absl::StatusOr<std::vector<uint64_t>> EncodeImpl(std::span<const double> update,
                                                   uint64_t rotation_seed, G& g) const;

  DdgParams params_;
  int64_t padded_dim_ = 1;
  double l2_bound_ = 0;
  double l2_bound_sq_ = 0;
  DiscreteGaussianSampler sampler_;
  FastDiscreteGaussian fast_;  // shares its table between copies
  bool use_fast_ = false;
};

// The quantities of the privacy bound (see the header comment).
struct DdgPrivacyTerms {
  double l2_sensitivity = 0;  // Delta_2, integer domain
  double l1_sensitivity = 0;  // Delta_1
  double central_stddev = 0;  // sqrt(n) sigma_z, integer domain
  double tau = 0;
  int64_t padded_dim = 0;
};
absl::StatusOr<DdgPrivacyTerms> DdgPrivacy(const DdgParams& p);

// RDP eps(alpha) of ONE round without subsampling (KLS21 Prop. 14 / Eq. 17),
// at ceil(alpha) for each order (> 1). local_stddev = 0 gives +inf.
absl::StatusOr<std::vector<double>> DdgRdp(const DdgParams& p, const std::vector<double>& orders);

// z_eq = 1 / (l2 + sqrt(D) tau): DdgRdp(alpha) <= alpha / (2 z_eq^2) for all
// alpha. Only an approximation when used with Poisson subsampling (header).
absl::StatusOr<double> DdgEquivalentNoiseMultiplier(const DdgParams& p);

// RDP of one round with Poisson sampling rate q in [0, 1]: Zhu-Wang 2019
// Thm. 5 on the DdgRdp curve at integer orders (ceil(alpha)), and never more
// than the unsampled DdgRdp (as the authors' accounting_utils).
absl::StatusOr<std::vector<double>> DdgPoissonSubsampledRdp(const DdgParams& p, double q,
                                                            const std::vector<double>& orders);

}  // namespace fedrec::privacy
