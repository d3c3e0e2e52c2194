// fedrec inspect CKPT
#include "apps/cli_common.h"
#include "proto/checkpoint.h"

namespace fedrec::cli {
namespace {

struct InspectArgs {
  std::string path;
};

absl::Status RunInspect(const InspectArgs& args) {
  FEDREC_ASSIGN_OR_RETURN(nlohmann::json description, DescribeCheckpoint(args.path));
  PrintJson(description);
  return absl::OkStatus();
}

}  // namespace

void RegisterInspectCommand(CLI::App& app, Dispatch& dispatch) {
  static InspectArgs args;
  CLI::App* cmd = app.add_subcommand("inspect", "verify a checkpoint and print its header and digest");
  cmd->add_option("checkpoint", args.path, "checkpoint file")->required();
  cmd->callback([&dispatch] { dispatch.run = [] { return RunInspect(args); }; });
}

}  // namespace fedrec::cli
