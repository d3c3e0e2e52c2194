// fedrec privacy epsilon|sigma: the accountant and the noise calibration of
// privacy/ on the command line, printing JSON. The queries live in
// privacy/query.h (shared with the Python package); this file is the flags.
#include <string>

#include "apps/cli_common.h"
#include "privacy/query.h"

namespace fedrec::cli {
namespace {

using privacy::PrivacyQuery;

absl::Status RunEpsilon(const PrivacyQuery& a) {
  FEDREC_ASSIGN_OR_RETURN(privacy::PrivacyAnswer answer, privacy::QueryEpsilon(a));
  PrintJson(privacy::PrivacyReportJson(a, answer, /*sigma_query=*/false));
  return absl::OkStatus();
}

absl::Status RunSigma(const PrivacyQuery& a) {
  FEDREC_ASSIGN_OR_RETURN(privacy::PrivacyAnswer answer, privacy::QuerySigma(a));
  PrintJson(privacy::PrivacyReportJson(a, answer, /*sigma_query=*/true));
  return absl::OkStatus();
}

}  // namespace

void RegisterPrivacyCommand(CLI::App& app, Dispatch& dispatch) {
  static PrivacyQuery args;
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
