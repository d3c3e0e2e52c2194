// PlanPrivacy: what a federated run's configuration means for privacy, resolved
// once before the first round and identically on every rank.
//
// From the config's privacy.* keys, the federation's size and the model's
// dimension it derives: the accountant's view of one round (LedgerOptions,
// with sigma given or calibrated to privacy.target_epsilon over
// federation.rounds rounds), the DP denominator, the distributed discrete
// Gaussian mechanism with its noise shares and failure probabilities, and
// adaptive clipping's rule. Pure: no I/O, no randomness. Thread-safe.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "privacy/adaptive_clip.h"
#include "privacy/ddg.h"
#include "privacy/ledger.h"

namespace fedrec::privacy {

// A shortfall of noise shares (or a coordinate wrapping mod 2^b) in a round
// may happen with at most this probability; a shortfall withholds the round.
// Withholding is decided on the upload count, so the run's real guarantee is
// that of a run that always has n shares, up to a total-variation slack of
// p per released round: delta grows by T p (1 + e^epsilon) (reported as
// delta_shortfall). With a target, p is lowered so that this stays below
// delta / 100.
inline constexpr double kDdgFailure = 1e-9;

struct PrivacyPlan {
  // Central or distributed DP: the accountant's view of a round and the
  // resolved noise multiplier (given or calibrated). Empty without DP.
  std::optional<LedgerOptions> dp;
  double expected_cohort = 0;  // the DP denominator: q N or the fixed m
  // Distributed DP: the mechanism every rank uses, the noise shares a release
  // needs (rounds with fewer uploads are not released), and the probability
  // per round of that shortfall.
  std::optional<DdgMechanism> ddg;
  int64_t min_noise_shares = 0;
  double shortfall_probability = 0;
  // The noise sampler's statistical distance per coordinate (0 when exact)
  // and a bound on the coordinates all clients draw over the run
  // (federation.rounds x the largest cohort x the padded dimension). By the
  // coupling argument of kDdgFailure, the run's delta grows by at most
  // (1 + e^epsilon) draws eta (DeltaSampler); planning never lets that exceed
  // delta / 100 at the epsilon the run would reach: a run where the table
  // sampler's charge would (e.g. a huge epsilon from a tiny noise multiplier, where e^epsilon
  // swamps any eta) gets the exact sampler instead, and noise_fallback says
  // why (empty when the table sampler is used or sigma is beyond its table).
  double noise_eta = 0;
  double noise_draws = 0;
  std::string noise_fallback;
  double DeltaSampler(double epsilon) const {
    if (noise_eta == 0) return 0.0;  // exact noise: nothing to charge (not inf x 0)
    return (1.0 + std::exp(epsilon)) * noise_draws * noise_eta;
  }
  // Adaptive clipping: the clip norm's rule, and under central DP the
  // update's own noise multiplier z_Delta (ATMR21 Thm. 1: the update with
  // z_Delta and the count with sigma_b together cost what one Gaussian
  // release with the accountant's sigma does).
  std::optional<AdaptiveClipConfig> adaptive_clip;
  double update_noise_multiplier = 0;

  // Distributed DP: the bound on P(some coordinate of a round's sum wraps).
  double WrapProbability() const;
};

// Clients of a round at most: the fixed cohort, or the whole population.
uint64_t MaxCohort(const Config& config, uint64_t population);

// Resolves privacy.* for a federation of `population` clients training a
// model of `model_dim` global parameters. InvalidArgument (naming the key)
// for what cannot be accounted or calibrated.
absl::StatusOr<PrivacyPlan> PlanPrivacy(const Config& config, uint64_t population,
                                        uint64_t model_dim);

}  // namespace fedrec::privacy
