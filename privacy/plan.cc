#include "privacy/plan.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "privacy/accountant.h"
#include "privacy/pld.h"
#include "privacy/rdp.h"
#include "spdlog/fmt/fmt.h"

namespace fedrec::privacy {

uint64_t MaxCohort(const Config& config, uint64_t population) {
  return config.federation.clients_per_round > 0
             ? std::min<uint64_t>(config.federation.clients_per_round, population)
             : population;
}

namespace {

// privacy.mode = "distributed": the distributed discrete Gaussian of KLS21
// (privacy/ddg.h). Every uploading client adds N_Z(0, (local_stddev/gamma)^2)
// to its rotated, rounded update, local_stddev = z C / sqrt(n), n = the noise
// shares a release needs: the released sum then holds at least the central
// noise z C. z is given or calibrated so that federation.rounds rounds of the
// Poisson-subsampled DDG (Zhu-Wang bound on KLS21's RDP) reach the target.
absl::Status ResolveDistributed(const Config& c, uint64_t population_size, uint64_t model_dim,
                                PrivacyPlan* s, LedgerOptions* o) {
  const int64_t population = static_cast<int64_t>(population_size);
  const double q = c.federation.sampling_rate;
  const double participation = q * (1.0 - c.federation.dropout_rate);
  double failure = kDdgFailure;
  if (c.privacy.target_epsilon && std::isfinite(*c.privacy.target_epsilon)) {
    failure = std::min(failure, o->delta / (100.0 * static_cast<double>(c.federation.rounds) *
                                            (1.0 + std::exp(*c.privacy.target_epsilon))));
  }
  if (c.privacy.min_clients > population) {
    // No round could ever hold that many uploads: every one would be
    // withheld and the run would train nothing.
    return absl::InvalidArgumentError(fmt::format(
        "privacy.min_clients: {} exceeds the {} clients of the population, so every round would "
        "be withheld; set privacy.min_clients <= {} (0 chooses it from the sampling rate)",
        c.privacy.min_clients, population, population));
  }
  s->min_noise_shares = c.privacy.min_clients > 0
                            ? c.privacy.min_clients
                            : MinimumNoiseShares(population, participation, failure);
  if (s->min_noise_shares < 1) {
    return absl::InvalidArgumentError(fmt::format(
        "privacy.mode: 'distributed' needs clients whose noise adds up, but with {} clients, q "
        "{} and dropout rate {} a round cannot count on even one upload (P >= 1 - {}); raise "
        "federation.sampling_rate or set privacy.min_clients",
        population, q, c.federation.dropout_rate, failure));
  }
  s->shortfall_probability = BinomialLowerTail(population, participation, s->min_noise_shares);
  const double clip = c.aggregation.clip_norm;
  const int64_t dim = static_cast<int64_t>(model_dim);
  const int64_t padded = DdgPaddedDim(dim);
  const int bits = static_cast<int>(c.aggregation.bits);
  const double k_stddevs = DdgStddevsFor(padded, kDdgFailure);
  auto params_for = [&](double z) -> absl::StatusOr<DdgParams> {
    DdgParams p;
    p.dim = dim;
    p.clip = clip;
    p.bits = bits;
    p.num_clients = s->min_noise_shares;
    p.local_stddev = z * clip / std::sqrt(static_cast<double>(s->min_noise_shares));
    // The modulus must hold a sum over up to every client of the federation.
    FEDREC_ASSIGN_OR_RETURN(
        p.gamma, ChooseDdgGamma(clip, padded, population, bits, k_stddevs, p.local_stddev));
    FEDREC_RETURN_IF_ERROR(ValidateDdgParams(p));
    return p;
  };
  auto round_rdp = [&](double z) -> absl::StatusOr<std::vector<double>> {
    FEDREC_ASSIGN_OR_RETURN(DdgParams p, params_for(z));
    return DdgPoissonSubsampledRdp(p, q, DefaultRdpOrders());
  };
  double z = c.privacy.noise_multiplier;
  if (z == 0) {
    if (!std::isfinite(*c.privacy.target_epsilon)) {
      return absl::InvalidArgumentError(
          "privacy.target_epsilon: inf needs no noise; set privacy.mode = \"none\"");
    }
    const int64_t rounds = c.federation.rounds;
    absl::StatusOr<double> calibrated =
        SmallestSigmaWithin(*c.privacy.target_epsilon, 1.0, 1e-5, /*halve_below=*/true,
                            [&](double zz) -> absl::StatusOr<double> {
                              FEDREC_ASSIGN_OR_RETURN(std::vector<double> one, round_rdp(zz));
                              return RdpCurveEpsilon(one, rounds, o->delta);
                            });
    if (!calibrated.ok()) {
      return WithContext(calibrated.status(), "privacy: calibrating the distributed noise");
    }
    z = *calibrated;
  }
  FEDREC_ASSIGN_OR_RETURN(DdgParams params, params_for(z));
  FEDREC_ASSIGN_OR_RETURN(s->ddg, DdgMechanism::Create(params));
  FEDREC_ASSIGN_OR_RETURN(o->round_rdp, round_rdp(z));
  o->noise_multiplier = z;
  // The table sampler's eta, charged over every coordinate any client may draw.
  s->noise_eta = s->ddg->noise_eta();
  s->noise_draws = static_cast<double>(c.federation.rounds) *
                   static_cast<double>(MaxCohort(c, population_size)) *
                   static_cast<double>(s->ddg->padded_dim());
  if (s->noise_eta > 0) {
    double eps = 0;
    if (c.privacy.target_epsilon && std::isfinite(*c.privacy.target_epsilon)) {
      eps = *c.privacy.target_epsilon;
    } else {
      FEDREC_ASSIGN_OR_RETURN(eps, RdpCurveEpsilon(o->round_rdp, c.federation.rounds, o->delta));
    }
    const double charge = s->DeltaSampler(eps);
    if (!(charge <= o->delta / 100)) {
      // Fail closed: the exact sampler (eta = 0) keeps the accounting true.
      s->noise_fallback = fmt::format(
          "the table sampler's slack (1 + e^{:.3g}) x {:.3g} draws x eta {:.3g} = {:.3g} would "
          "exceed 1% of privacy.delta = {}",
          eps, s->noise_draws, s->noise_eta, charge, o->delta);
      FEDREC_ASSIGN_OR_RETURN(s->ddg, DdgMechanism::Create(params, /*fast_noise=*/false));
      s->noise_eta = 0;
    }
  }
  o->noise_slack = s->noise_draws * s->noise_eta;
  return absl::OkStatus();
}

// privacy.mode = "central" or "distributed": the accountant's parameters of
// one round, and sigma (given, or calibrated so that federation.rounds rounds
// reach privacy.target_epsilon with the configured accountant).
absl::Status ResolvePrivacy(const Config& c, uint64_t population, uint64_t model_dim,
                            PrivacyPlan* s) {
  if (c.privacy.mode == "none") return absl::OkStatus();
  LedgerOptions o;
  o.accountant = c.privacy.accountant;
  o.mode = c.privacy.mode;
  o.delta = c.privacy.delta;
  o.target_epsilon = c.privacy.target_epsilon;
  o.noise_seed_pinned = c.privacy.noise_seed.has_value();
  const double n = static_cast<double>(population);
  if (c.federation.clients_per_round > 0) {
    o.scheme = SamplingScheme::kFixedSize;
    s->expected_cohort = static_cast<double>(MaxCohort(c, population));
    o.sampling_rate = s->expected_cohort / n;
  } else {
    o.scheme = SamplingScheme::kPoisson;
    o.sampling_rate = c.federation.sampling_rate;
    s->expected_cohort = c.federation.sampling_rate * n;
  }
  o.noise_multiplier = c.privacy.noise_multiplier;
  if (c.privacy.mode == "distributed") {
    FEDREC_RETURN_IF_ERROR(ResolveDistributed(c, population, model_dim, s, &o));
  } else if (o.noise_multiplier == 0) {
    if (!std::isfinite(*c.privacy.target_epsilon)) {
      return absl::InvalidArgumentError(
          "privacy.target_epsilon: inf needs no noise; set privacy.mode = \"none\"");
    }
    const int64_t rounds = c.federation.rounds;
    absl::StatusOr<double> sigma =
        o.accountant == "pld"
            ? CalibrateNoiseMultiplierPld(o.sampling_rate, rounds, o.delta,
                                          *c.privacy.target_epsilon)
            : CalibrateNoiseMultiplier(o.sampling_rate, rounds, o.delta, *c.privacy.target_epsilon,
                                       {.scheme = o.scheme});
    if (!sigma.ok()) return WithContext(sigma.status(), "privacy: calibrating sigma");
    o.noise_multiplier = *sigma;
  }
  // Checks the combination once (e.g. pld with a fixed cohort is refused).
  FEDREC_RETURN_IF_ERROR(PrivacyLedger::Create(o).status());
  s->dp = o;
  s->update_noise_multiplier = o.noise_multiplier;
  return absl::OkStatus();
}

// privacy.adaptive_clip: the clip norm starts at aggregation.clip_norm and
// tracks privacy.clip_quantile of the update norms (ATMR21, Alg. 1). Under
// central DP the count is noised with sigma_b and the update's multiplier
// shrinks to z_Delta so the pair costs exactly the accountant's sigma; without
// DP the count is exact.
absl::Status ResolveAdaptiveClip(const Config& c, uint64_t population, PrivacyPlan* s) {
  if (!c.privacy.adaptive_clip) return absl::OkStatus();
  AdaptiveClipConfig a;
  a.initial_clip = c.aggregation.clip_norm;
  a.target_quantile = c.privacy.clip_quantile;
  a.learning_rate = c.privacy.clip_lr;
  a.expected_clients = c.federation.clients_per_round > 0
                           ? static_cast<double>(MaxCohort(c, population))
                           : c.federation.sampling_rate * static_cast<double>(population);
  if (s->dp) {
    a.count_stddev =
        c.privacy.clip_count_stddev > 0 ? c.privacy.clip_count_stddev : a.expected_clients / 20.0;
    absl::StatusOr<double> z_delta = UpdateNoiseMultiplier(s->dp->noise_multiplier, a.count_stddev);
    if (!z_delta.ok()) return WithContext(z_delta.status(), "privacy.adaptive_clip");
    s->update_noise_multiplier = *z_delta;
  }
  FEDREC_RETURN_IF_ERROR(WithContext(ValidateAdaptiveClipConfig(a), "privacy.adaptive_clip"));
  s->adaptive_clip = a;
  return absl::OkStatus();
}

}  // namespace

double PrivacyPlan::WrapProbability() const {
  return std::min(
      1.0, static_cast<double>(ddg->padded_dim()) * DdgWrapProbabilityPerCoordinate(ddg->params()));
}

absl::StatusOr<PrivacyPlan> PlanPrivacy(const Config& config, uint64_t population,
                                        uint64_t model_dim) {
  PrivacyPlan plan;
  FEDREC_RETURN_IF_ERROR(ResolvePrivacy(config, population, model_dim, &plan));
  FEDREC_RETURN_IF_ERROR(ResolveAdaptiveClip(config, population, &plan));
  return plan;
}

}  // namespace fedrec::privacy
