#include "apps/cli_common.h"

namespace fedrec::cli {
namespace {

// Registers a subcommand that accepts any arguments and explains that it is
// not built yet, naming the issue that builds it. Honest, and keeps the
// command names of the contract reserved.
void AddPending(CLI::App& parent, Dispatch& dispatch, const std::string& name,
                const std::string& description, const std::string& issue) {
  CLI::App* sub =
      parent.add_subcommand(name, description + " (not implemented yet: " + issue + ")");
  sub->allow_extras();
  sub->callback([&dispatch, name, issue] {
    dispatch.run = [name, issue] {
      return absl::UnimplementedError(name + ": not implemented yet (" + issue + ")");
    };
  });
}

}  // namespace

void RegisterPendingCommands(CLI::App& app, Dispatch& dispatch) {
  AddPending(app, dispatch, "sweep", "privacy/utility sweep over target epsilons", "issue #5");
}

}  // namespace fedrec::cli
