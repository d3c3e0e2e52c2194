// fedrec privacy epsilon|sigma: the accountant and the noise calibration of
// privacy/ on the command line (issue #5), printing JSON.
#include <cstdint>
#include <string>

#include "apps/cli_common.h"
#include "privacy/accountant.h"

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
};

absl::StatusOr<privacy::SamplingScheme> ParseSampling(const std::string& sampling) {
  if (sampling == "poisson") return privacy::SamplingScheme::kPoisson;
  if (sampling == "fixed-size") return privacy::SamplingScheme::kFixedSize;
  return InvalidInput("privacy: --sampling",
                      "must be poisson or fixed-size (got " + sampling + ")");
}

absl::Status CheckAccountant(const std::string& accountant) {
  if (accountant == "pld") {
    return absl::UnimplementedError(
        "privacy: the PLD accountant is not implemented yet (issue #5)");
  }
  if (accountant != "rdp") {
    return InvalidInput("privacy: --accountant", "must be rdp or pld (got " + accountant + ")");
  }
  return absl::OkStatus();
}

nlohmann::json Report(const PrivacyArgs& a, double sigma, const privacy::EpsilonAndOrder& e) {
  nlohmann::json j;
  j["accountant"] = a.accountant;
  j["q"] = a.q;
  j["sigma"] = sigma;
  j["steps"] = a.steps;
  j["delta"] = a.delta;
  j["epsilon"] = e.epsilon;  // +inf (sigma = 0) prints as null
  j["order"] = e.order;
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
  FEDREC_RETURN_IF_ERROR(CheckAccountant(a.accountant));
  FEDREC_ASSIGN_OR_RETURN(privacy::SamplingScheme scheme, ParseSampling(a.sampling));
  FEDREC_ASSIGN_OR_RETURN(privacy::EpsilonAndOrder e, privacy::SubsampledGaussianEpsilon(
                                                          scheme, a.q, a.sigma, a.steps, a.delta));
  PrintJson(Report(a, a.sigma, e));
  return absl::OkStatus();
}

absl::Status RunSigma(const PrivacyArgs& a) {
  FEDREC_RETURN_IF_ERROR(privacy::ValidateSamplingRate(a.q, "--q"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateSteps(a.steps, "--steps"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateDelta(a.delta, "--delta"));
  FEDREC_RETURN_IF_ERROR(privacy::ValidateEpsilon(a.epsilon, "--epsilon"));
  FEDREC_RETURN_IF_ERROR(CheckAccountant(a.accountant));
  FEDREC_ASSIGN_OR_RETURN(privacy::SamplingScheme scheme, ParseSampling(a.sampling));
  privacy::CalibrationOptions options;
  options.scheme = scheme;
  FEDREC_ASSIGN_OR_RETURN(
      double sigma, privacy::CalibrateNoiseMultiplier(a.q, a.steps, a.delta, a.epsilon, options));
  FEDREC_ASSIGN_OR_RETURN(privacy::EpsilonAndOrder e,
                          privacy::SubsampledGaussianEpsilon(scheme, a.q, sigma, a.steps, a.delta));
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
  eps->add_option("--accountant", args.accountant, "rdp|pld")->capture_default_str();
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
  sig->add_option("--accountant", args.accountant, "rdp")->capture_default_str();
  sig->add_option("--sampling", args.sampling, "poisson | fixed-size")->capture_default_str();
  sig->callback([&dispatch] { dispatch.run = [] { return RunSigma(args); }; });
}

}  // namespace fedrec::cli
