// fedrec train --config FILE [--set key=value ...] --out RUN_DIR [--resume]
// fedrec config show [--config FILE] [--set ...] | config keys
//
// federation.mode = "central" trains in one process (coordinator/central_trainer.h);
// "federated" runs the coordinator and workers as threads, or across ranks
// under mpirun (coordinator/federated_trainer.h). The configuration is resolved and
// validated, and the data loaded, before anything is written.
// --resume continues RUN_DIR with the configuration stored in it; a --config
// given as well must resolve to the same configuration.
#include <cstdio>

#include "apps/cli_common.h"
#include "coordinator/train.h"
#include "core/config.h"
#include "core/interrupt.h"

namespace fedrec::cli {
namespace {

struct ConfigArgs {
  std::string config;
  std::vector<std::string> overrides;
};

struct TrainArgs {
  ConfigArgs config;
  std::string out;
  bool resume = false;
};

void AddConfigFlags(CLI::App* cmd, ConfigArgs* args, bool required) {
  auto* opt = cmd->add_option("--config", args->config, "TOML run configuration");
  if (required) opt->required();
  cmd->add_option("--set", args->overrides, "override a key: section.key=value (repeatable)");
}

absl::Status RunTrain(const TrainArgs& args) {
  if (!args.resume && args.config.config.empty()) {
    return absl::InvalidArgumentError("train: --config is required (or --resume a run)");
  }
  const TrainRequest request{.config_path = args.config.config,
                             .overrides = args.config.overrides,
                             .run = {.out_dir = args.out, .resume = args.resume}};
  InstallStopSignals();
  FEDREC_ASSIGN_OR_RETURN(nlohmann::json summary, RunTraining(request));
  if (summary.is_null()) return absl::OkStatus();  // a worker rank under mpirun
  PrintJson(summary);
  if (summary.value("interrupted", false)) {
    return absl::CancelledError(summary.value("stopped_reason", std::string("interrupted")));
  }
  return absl::OkStatus();
}

absl::Status RunConfigShow(const ConfigArgs& args) {
  FEDREC_ASSIGN_OR_RETURN(Config config, LoadConfig(args.config, args.overrides));
  std::fputs(ToToml(config).c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

void RegisterTrainCommands(CLI::App& app, Dispatch& dispatch) {
  static TrainArgs train;
  CLI::App* cmd = app.add_subcommand("train", "train a model centrally or federated");
  AddConfigFlags(cmd, &train.config, /*required=*/false);
  cmd->add_option("--out", train.out, "run directory")->required();
  cmd->add_flag("--resume", train.resume, "continue the run in --out from its last checkpoint");
  cmd->callback([&dispatch] { dispatch.run = [] { return RunTrain(train); }; });

  CLI::App* config = app.add_subcommand("config", "configuration tools");
  config->require_subcommand(1);
  static ConfigArgs show;
  CLI::App* show_cmd =
      config->add_subcommand("show", "print the fully resolved configuration (defaults filled in)");
  AddConfigFlags(show_cmd, &show, /*required=*/false);
  show_cmd->callback([&dispatch] { dispatch.run = [] { return RunConfigShow(show); }; });
  CLI::App* keys_cmd = config->add_subcommand("keys", "print every config key as a markdown table");
  keys_cmd->callback([&dispatch] {
    dispatch.run = [] {
      std::fputs(ConfigKeysMarkdown().c_str(), stdout);
      return absl::OkStatus();
    };
  });
}

}  // namespace fedrec::cli
