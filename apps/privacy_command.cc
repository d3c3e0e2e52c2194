// fedrec privacy epsilon|sigma: the accountant and the noise calibration of
// privacy/ on the command line, printing JSON.
#include <cstdint>
#include <span>
#include <string>

#include "apps/cli_common.h"
#include "privacy/accountant.h"
#include "privacy/pld.h"

namespace fedrec::cli {
namespace {

struct PrivacyArgs {
  double q = -1;
  double sigma = -1;
  int64_t steps = -1;
  double delta = -1;
  double epsilon = -1;
  std::string accountant = "rdp";
  std::string sampling = "poisson";
  double pld_interval = 1e-4;  // PLD value discretization interval
};

absl::StatusOr<privacy::SamplingScheme> ParseSampling(const std::string& sampling) {
  if (sampling == "poisson") return privacy::SamplingScheme::kPoisson;
  if (sampling == "fixed-size") return privacy::SamplingScheme::kFixedSize;
  return InvalidInput("privacy: --sampling",
                      "must be poisson or fixed-size (got " + sampling + ")");
}

absl::Status CheckAccountant(const PrivacyArgs& a) {
  if (a.accountant != "rdp" && a.accountant != "pld") {
    return InvalidInput("privacy: --accountant", "must be rdp or pld (got " + a.accountant + ")");
  }
  if (a.accountant == "pld" && !(a.pld_interval > 0 && a.pld_interval < 1)) {
    return InvalidInput("privacy: --pld-interval", "must be in (0, 1)");
  }
  return absl::OkStatus();
}

privacy::PldOptions PldOptionsOf(const PrivacyArgs& a) {
  privacy::PldOptions options;
  options.value_discretization_interval = a.pld_interval;
  return options;
}

// Epsilon by the chosen accountant. RDP reports the optimal order; PLD has
// none (null) and reports its discretization interval instead.
absl::StatusOr<privacy::EpsilonAndOrder> EpsilonOf(const PrivacyArgs& a,
                                                   privacy::SamplingScheme scheme, double sigma) {
  if (a.accountant == "pld") {
    const privacy::MechanismRun run{a.q, sigma, a.steps, scheme};
    FEDREC_ASSIGN_OR_RETURN(
        double eps, privacy::PldEpsilon(std::span<const privacy::MechanismRun>(&run, 1), a.delta,
                                        PldOptionsOf(a)));
    return privacy::EpsilonAndOrder{eps, 0};
  }
  return privacy::SubsampledGaussianEpsilon(scheme, a.q, sigma, a.steps, a.delta);
}

nlohmann::json Report(const PrivacyArgs& a, double sigma, const privacy::EpsilonAndOrder& e) {
  nlohmann::json j;
  j["accountant"] = a.accountant;
  j["q"] = a.q;
  j["sigma"] = sigma;
  j["steps"] = a.steps;
  j["delta"] = a.delta;
  j["epsilon"] = e.epsilon;  // +inf (sigma = 0) prints as null
  if (a.accountant == "pld") {
    j["order"] = nullptr;
    j["value_discretization_interval"] = a.pld_interval;
  } else {
    j["order"] = e.order;
  }
  j["sampling"] = a.sampling;
  // Poisson: add/remove one user; fixed-size (without replacement): replace
  // one user, the only adjacency its analysis covers.
  j["adjacency"] = a.sampling == "poisson" ? "add_remove_one" : "replace_one";
  return j;
}

absl::Status RunEpsilon(const PrivacyArgs& a) {
  FEDREC_RETURN_IF_ERROR(privacy::ValidateSamplingRate(a.q, "--q"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateNoiseMultiplier(a.sigma, "--sigma"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateSteps(a.steps, "--steps"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateDelta(a.delta, "--delta"));
  FEDREC_RETURN_IF_ERROR(CheckAccountant(a));
  FEDREC_ASSIGN_OR_RETURN(privacy::SamplingScheme scheme, ParseSampling(a.sampling));
  FEDREC_ASSIGN_OR_RETURN(privacy::EpsilonAndOrder e, EpsilonOf(a, scheme, a.sigma));
  PrintJson(Report(a, a.sigma, e));
  return absl::OkStatus();
}

absl::Status RunSigma(const PrivacyArgs& a) {
  FEDREC_RETURN_IF_ERROR(privacy::ValidateSamplingRate(a.q, "--q"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateSteps(a.steps, "--steps"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateDelta(a.delta, "--delta"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateEpsilon(a.epsilon, "--epsilon"));
  FEDREC_RETURN_IF_ERROR(CheckAccountant(a));
  FEDREC_ASSIGN_OR_RETURN(privacy::SamplingScheme scheme, ParseSampling(a.sampling));
  double sigma = 0;
  if (a.accountant == "pld") {
    if (scheme != privacy::SamplingScheme::kPoisson) {
      // The same refusal as PldEpsilon's, before any calibration work.
      const privacy::MechanismRun run{a.q, 1.0, a.steps, scheme};
      FEDREC_RETURN_IF_ERROR(
          privacy::PldEpsilon(std::span<const privacy::MechanismRun>(&run, 1), a.delta).status());
    }
    privacy::PldCalibrationOptions options;
    options.pld = PldOptionsOf(a);
    FEDREC_ASSIGN_OR_RETURN(
        sigma, privacy::CalibrateNoiseMultiplierPld(a.q, a.steps, a.delta, a.epsilon, options));
  } else {
    privacy::CalibrationOptions options;
    options.scheme = scheme;
    FEDREC_ASSIGN_OR_RETURN(
        sigma, privacy::CalibrateNoiseMultiplier(a.q, a.steps, a.delta, a.epsilon, options));
  }
  FEDREC_ASSIGN_OR_RETURN(privacy::EpsilonAndOrder e, EpsilonOf(a, scheme, sigma));
  nlohmann::json j = Report(a, sigma, e);
  j["target_epsilon"] = a.epsilon;
  PrintJson(j);
  return absl::OkStatus();
}

}  // namespace

void RegisterPrivacyCommand(CLI::App& app, Dispatch& dispatch) {
  static PrivacyArgs args;
  CLI::App* privacy =
      app.add_subcommand("privacy", "differential privacy: epsilon and noise calibration");
  privacy->require_subcommand(1);

  CLI::App* eps = privacy->add_subcommand(
      "epsilon", "epsilon of T rounds of the Poisson-subsampled Gaussian mechanism");
  eps->add_option("--q", args.q, "sampling rate (probability a user takes part), in [0, 1]")
      ->required();
  eps->add_option("--sigma", args.sigma, "noise multiplier (noise std / clip norm), >= 0")
      ->required();
  eps->add_option("--steps", args.steps, "number of rounds, >= 0")->required();
  eps->add_option("--delta", args.delta, "delta, in (0, 1)")->required();
  eps->add_option("--accountant", args.accountant,
                  "rdp (Renyi DP, improved conversion) | pld (privacy loss distribution, tighter)")
      ->capture_default_str();
  eps->add_option("--pld-interval", args.pld_interval,
                  "PLD value discretization interval (larger for epsilon in the tens or more)")
      ->capture_default_str();
  eps->add_option("--sampling", args.sampling,
                  "poisson (add/remove-one) | fixed-size (without replacement, replace-one)")
      ->capture_default_str();
  eps->callback([&dispatch] { dispatch.run = [] { return RunEpsilon(args); }; });

  CLI::App* sig =
      privacy->add_subcommand("sigma", "smallest noise multiplier reaching a target epsilon");
  sig->add_option("--q", args.q, "sampling rate, in [0, 1]")->required();
  sig->add_option("--steps", args.steps, "number of rounds, >= 0")->required();
  sig->add_option("--delta", args.delta, "delta, in (0, 1)")->required();
  sig->add_option("--epsilon", args.epsilon, "target epsilon, > 0")->required();
  sig->add_option("--accountant", args.accountant, "rdp|pld")->capture_default_str();
  sig->add_option("--pld-interval", args.pld_interval, "PLD value discretization interval")
      ->capture_default_str();
  sig->add_option("--sampling", args.sampling, "poisson | fixed-size")->capture_default_str();
  sig->callback([&dispatch] { dispatch.run = [] { return RunSigma(args); }; });
}

}  // namespace fedrec::cli
