#include "privacy/query.h"

#include <span>

#include "privacy/accountant.h"
#include "privacy/pld.h"

namespace fedrec::privacy {
namespace {

absl::StatusOr<SamplingScheme> ParseSampling(const std::string& sampling) {
  if (sampling == "poisson") return SamplingScheme::kPoisson;
  if (sampling == "fixed-size") return SamplingScheme::kFixedSize;
  return InvalidInput("privacy: --sampling",
                      "must be poisson or fixed-size (got " + sampling + ")");
}

absl::Status CheckAccountant(const PrivacyQuery& a) {
  if (a.accountant != "rdp" && a.accountant != "pld") {
    return InvalidInput("privacy: --accountant", "must be rdp or pld (got " + a.accountant + ")");
  }
  if (a.accountant == "pld" && !(a.pld_interval > 0 && a.pld_interval < 1)) {
    return InvalidInput("privacy: --pld-interval", "must be in (0, 1)");
  }
  return absl::OkStatus();
}

PldOptions PldOptionsOf(const PrivacyQuery& a) {
  PldOptions options;
  options.value_discretization_interval = a.pld_interval;
  return options;
}

// Epsilon by the chosen accountant. RDP reports the optimal order; PLD has
// none (0 here, null in the report).
absl::StatusOr<PrivacyAnswer> EpsilonAt(const PrivacyQuery& a, SamplingScheme scheme,
                                        double sigma) {
  if (a.accountant == "pld") {
    const MechanismRun run{a.q, sigma, a.steps, scheme};
    FEDREC_ASSIGN_OR_RETURN(
        double eps, PldEpsilon(std::span<const MechanismRun>(&run, 1), a.delta, PldOptionsOf(a)));
    return PrivacyAnswer{sigma, eps, 0};
  }
  FEDREC_ASSIGN_OR_RETURN(EpsilonAndOrder e,
                          SubsampledGaussianEpsilon(scheme, a.q, sigma, a.steps, a.delta));
  return PrivacyAnswer{sigma, e.epsilon, e.order};
}

}  // namespace

absl::StatusOr<PrivacyAnswer> QueryEpsilon(const PrivacyQuery& a) {
  FEDREC_RETURN_IF_ERROR(ValidateSamplingRate(a.q, "--q"));
  FEDREC_RETURN_IF_ERROR(ValidateNoiseMultiplier(a.sigma, "--sigma"));
  FEDREC_RETURN_IF_ERROR(ValidateSteps(a.steps, "--steps"));
  FEDREC_RETURN_IF_ERROR(ValidateDelta(a.delta, "--delta"));
  FEDREC_RETURN_IF_ERROR(CheckAccountant(a));
  FEDREC_ASSIGN_OR_RETURN(SamplingScheme scheme, ParseSampling(a.sampling));
  return EpsilonAt(a, scheme, a.sigma);
}

absl::StatusOr<PrivacyAnswer> QuerySigma(const PrivacyQuery& a) {
  FEDREC_RETURN_IF_ERROR(ValidateSamplingRate(a.q, "--q"));
  FEDREC_RETURN_IF_ERROR(ValidateSteps(a.steps, "--steps"));
  FEDREC_RETURN_IF_ERROR(ValidateDelta(a.delta, "--delta"));
  FEDREC_RETURN_IF_ERROR(ValidateEpsilon(a.epsilon, "--epsilon"));
  FEDREC_RETURN_IF_ERROR(CheckAccountant(a));
  FEDREC_ASSIGN_OR_RETURN(SamplingScheme scheme, ParseSampling(a.sampling));
  double sigma = 0;
  if (a.accountant == "pld") {
    if (scheme != SamplingScheme::kPoisson) {
      // The same refusal as PldEpsilon's, before any calibration work.
      const MechanismRun run{a.q, 1.0, a.steps, scheme};
      FEDREC_RETURN_IF_ERROR(PldEpsilon(std::span<const MechanismRun>(&run, 1), a.delta).status());
    }
    PldCalibrationOptions options;
    options.pld = PldOptionsOf(a);
    FEDREC_ASSIGN_OR_RETURN(sigma,
                            CalibrateNoiseMultiplierPld(a.q, a.steps, a.delta, a.epsilon, options));
  } else {
    CalibrationOptions options;
    options.scheme = scheme;
    FEDREC_ASSIGN_OR_RETURN(sigma,
                            CalibrateNoiseMultiplier(a.q, a.steps, a.delta, a.epsilon, options));
  }
  return EpsilonAt(a, scheme, sigma);
}

nlohmann::json PrivacyReportJson(const PrivacyQuery& a, const PrivacyAnswer& answer,
                                 bool sigma_query) {
  nlohmann::json j;
  j["accountant"] = a.accountant;
  j["q"] = a.q;
  j["sigma"] = answer.sigma;
  j["steps"] = a.steps;
  j["delta"] = a.delta;
  j["epsilon"] = answer.epsilon;  // +inf (sigma = 0) prints as null
  if (a.accountant == "pld") {
    j["order"] = nullptr;
    j["value_discretization_interval"] = a.pld_interval;
  } else {
    j["order"] = answer.order;
  }
  j["sampling"] = a.sampling;
  // Poisson: add/remove one user; fixed-size (without replacement): replace
  // one user, the only adjacency its analysis covers.
  j["adjacency"] = a.sampling == "poisson" ? "add_remove_one" : "replace_one";
  if (sigma_query) j["target_epsilon"] = a.epsilon;
  return j;
}

}  // namespace fedrec::privacy
