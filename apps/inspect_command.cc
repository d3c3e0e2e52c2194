// fedrec inspect CKPT
#include <cstdio>

#include "apps/cli_common.h"
#include "proto/checkpoint.h"

namespace fedrec::cli {
namespace {

struct InspectArgs {
  std::string path;
  bool json = false;
};

absl::Status RunInspect(const InspectArgs& args) {
  FEDREC_ASSIGN_OR_RETURN(CheckpointDescription description, InspectCheckpoint(args.path));
  if (args.json) {
    PrintJson(description.json);
  } else {
    std::fputs(description.text.c_str(), stdout);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterInspectCommand(CLI::App& app, Dispatch& dispatch) {
  static InspectArgs args;
  CLI::App* cmd =
      app.add_subcommand("inspect", "verify a checkpoint and print its header and digest");
  cmd->add_option("checkpoint", args.path, "checkpoint file")->required();
  cmd->add_flag("--json", args.json, "print the description as JSON");
  cmd->callback([&dispatch] { dispatch.run = [] { return RunInspect(args); }; });
}

}  // namespace fedrec::cli
