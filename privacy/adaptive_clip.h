// Adaptive clipping: the clip norm tracks a target quantile of the clients'
// update norms, privately, as in
//   [ATMR21] G. Andrew, O. Thakkar, H. B. McMahan, S. Ramaswamy,
//            "Differentially Private Learning with Adaptive Clipping",
//            NeurIPS 2021 (arXiv:1905.03871), Alg. 1 and Thm. 1.
//
// Round t, with clip norm C (the same for the update and for the indicator):
//   1. every participating client i reports b_i = 1[||Delta_i|| <= C] along
//      with its clipped update;
//   2. the server releases the noisy count of (b_i - 1/2):
//        B = sum_i (b_i - 1/2) + N(0, sigma_b^2)
//      (shifting by 1/2 makes the L2 sensitivity 1/2 under add/remove-one,
//      whatever the cohort size), and b_bar = B / m + 1/2, m = the EXPECTED
//      number of clients per round (a fixed denominator, like the update's);
//   3. geometric update: C <- C * exp(-eta_C (b_bar - gamma)).
// With target quantile gamma, C grows while fewer than a gamma fraction of
// clients are unclipped and shrinks otherwise.
//
// Privacy (ATMR21 Thm. 1): the count (sensitivity 1/2, noise sigma_b) is a
// Gaussian mechanism with multiplier 2 sigma_b; released together with the
// update sum (sensitivity C, noise z_Delta C), the pair is one Gaussian
// mechanism with multiplier z where
//   z^-2 = z_Delta^-2 + (2 sigma_b)^-2,   i.e.  z_Delta = (z^-2 - (2 sigma_b)^-2)^(-1/2).
// So a run calibrated to a total multiplier z (the accountant's sigma) adds
// update noise z_Delta C (UpdateNoiseMultiplier) and count noise sigma_b, and
// is accounted exactly as the plain Gaussian mechanism with z: no extra
// epsilon. Requires z < 2 sigma_b. Recommended: gamma = 0.5, eta_C = 0.2,
// sigma_b = m / 20 (then z_Delta exceeds z by < 1% for z <~ 1 and m >= 100).
//
// Scope: central noise on the count (GaussianNoise, stream
// kNoiseStreamClipCount). In distributed-DP mode the count would need its own
// securely aggregated discrete noise: not done here.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/status.h"
#include "privacy/gaussian.h"

namespace fedrec::privacy {

struct AdaptiveClipConfig {
  double initial_clip = 0.1;     // C_0 > 0
  double target_quantile = 0.5;  // gamma in [0, 1]
  double learning_rate = 0.2;    // eta_C > 0
  double count_stddev = 0;       // sigma_b >= 0 (0: no noise; not private)
  double expected_clients = 0;   // m > 0: expected clients per round (q N)
};

// InvalidArgument "privacy: adaptive_clip: <field>: ..." on a bad field.
absl::Status ValidateAdaptiveClipConfig(const AdaptiveClipConfig& config);

// z_Delta = (z^-2 - (2 sigma_b)^-2)^(-1/2) for a total multiplier z > 0.
// sigma_b = 0 is refused (the count would not be private); z >= 2 sigma_b is
// refused (no z_Delta exists). InvalidArgument with the reason.
absl::StatusOr<double> UpdateNoiseMultiplier(double total_multiplier, double count_stddev);

// The clip norm and its update rule. Copyable value type; not thread-safe.
class AdaptiveClip {
 public:
  static absl::StatusOr<AdaptiveClip> Create(const AdaptiveClipConfig& config);

  // The clip norm for the current round.
  double clip() const { return clip_; }
  const AdaptiveClipConfig& config() const { return config_; }
  int64_t rounds() const { return rounds_; }
  // The noisy unclipped fraction b_bar of the last update (NaN before any).
  double last_fraction() const { return last_fraction_; }

  // Steps 2-3 with the count noise drawn by the caller: `count_noise` is the
  // N(0, sigma_b^2) sample. unclipped = #{i : ||Delta_i|| <= clip()},
  // participants = the cohort size (0 <= unclipped <= participants).
  absl::Status UpdateWithNoise(int64_t unclipped, int64_t participants, double count_noise);
  // The same with the count noise from `noise` (round `round`, stream
  // kNoiseStreamClipCount).
  absl::Status Update(int64_t unclipped, int64_t participants, GaussianNoise& noise,
                      uint32_t round);

  // State for the checkpoint: {"clip", "target_quantile", "learning_rate",
  // "count_stddev", "expected_clients", "initial_clip", "rounds",
  // "last_fraction" (null before any update)}; doubles round-trip exactly.
  nlohmann::json ToJson() const;
  // InvalidArgument "privacy: adaptive_clip: state: ..." on a malformed document.
  static absl::StatusOr<AdaptiveClip> FromJson(const nlohmann::json& j);

 private:
  explicit AdaptiveClip(const AdaptiveClipConfig& config)
      : config_(config), clip_(config.initial_clip) {}

  AdaptiveClipConfig config_;
  double clip_;
  int64_t rounds_ = 0;
  double last_fraction_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace fedrec::privacy
