// fedrec sweep --config FILE [--set key=value ...] --epsilons 1,2,4,8,inf --out DIR
//
// Privacy/utility curve: one federated run per target epsilon (sigma
// calibrated), test metrics of the best-on-validation model, DIR/sweep.csv
// and DIR/sweep.svg; resumable (coordinator/sweep.h). scripts/plot_sweep.py
// renders DIR/sweep.png from the CSV where matplotlib is installed.
#include "apps/cli_common.h"
#include "coordinator/sweep.h"
#include "core/config.h"
#include "core/interrupt.h"

namespace fedrec::cli {
namespace {

struct SweepArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string epsilons;
  std::string out;
};

absl::Status RunSweepCommand(const SweepArgs& args) {
  FEDREC_ASSIGN_OR_RETURN(std::vector<double> epsilons, ParseEpsilons(args.epsilons));
  FEDREC_ASSIGN_OR_RETURN(Config config, LoadConfig(args.config, args.overrides));
  InstallStopSignals();
  FEDREC_ASSIGN_OR_RETURN(nlohmann::json rows,
                          RunSweep(config, {.epsilons = epsilons, .out_dir = args.out}));
  PrintJson(rows);
  return absl::OkStatus();
}

}  // namespace

void RegisterSweepCommand(CLI::App& app, Dispatch& dispatch) {
  static SweepArgs args;
  CLI::App* cmd = app.add_subcommand(
      "sweep", "privacy/utility sweep: calibrate, train and test one run per target epsilon");
  cmd->add_option("--config", args.config, "TOML run configuration (federated)")->required();
  cmd->add_option("--set", args.overrides, "override a key: section.key=value (repeatable)");
  cmd->add_option("--epsilons", args.epsilons, "target epsilons, e.g. 1,2,4,8,inf")->required();
  cmd->add_option("--out", args.out, "sweep directory (one run per epsilon, sweep.csv)")
      ->required();
  cmd->callback([&dispatch] { dispatch.run = [] { return RunSweepCommand(args); }; });
}

}  // namespace fedrec::cli
