// The `fedrec` command line (README "Command line"; DESIGN.md contract).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "apps/cli_common.h"
#include "core/isa.h"
#include "core/logging.h"
#include "proto/checkpoint.h"

namespace fedrec::cli {

void PrintJson(const nlohmann::json& j) { std::cout << j.dump(2) << "\n" << std::flush; }

}  // namespace fedrec::cli

namespace {

// What the exception in flight is, in one line.
std::string DescribeCurrentException() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return "out of memory (std::bad_alloc)";
  } catch (const std::exception& e) {
    return std::string("uncaught exception: ") + e.what();
  } catch (...) {
    return "uncaught exception of unknown type";
  }
}

// The last resort: nothing fedrec did not foresee (std::bad_alloc from an
// allocation no size check covered, std::system_error from a thread that
// could not start, ...) ends with libstdc++'s two-line abort and exit 134.
// It is an internal error: one line, exit code 1. std::terminate is reached
// by exceptions escaping other threads, which main's catch cannot see.
int ReportInternalError() {
  const std::string what =
      std::current_exception() ? DescribeCurrentException() : std::string("terminate called");
  std::fprintf(stderr, "fedrec: error: internal: %s\n", what.c_str());
  std::fflush(stderr);
  return 1;
}

[[noreturn]] void OnTerminate() { std::_Exit(ReportInternalError()); }

// The first word of the command line that is neither a global flag nor a
// flag's value, when it names no command ("" otherwise).
std::string UnknownCommand(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--log-level") {
      ++i;
      continue;
    }
    if (arg.starts_with("-")) continue;
    try {
      app.get_subcommand(arg);
      return std::string();
    } catch (const CLI::OptionNotFound&) {
      return arg;
    }
  }
  return std::string();
}

std::string CommandNames(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return names;
}

int Main(int argc, char** argv) {
  using fedrec::cli::Dispatch;
  CLI::App app{"fedrec: federated recommender training with secure aggregation and DP"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fedrec " + fedrec::FedrecVersion() + " (ISA " +
                                        fedrec::BuildIsaDescription() + ")");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();

  Dispatch dispatch;
  fedrec::cli::RegisterDataCommands(app, dispatch);
  fedrec::cli::RegisterEvalCommand(app, dispatch);
  fedrec::cli::RegisterInspectCommand(app, dispatch);
  fedrec::cli::RegisterTrainCommands(app, dispatch);
  fedrec::cli::RegisterRecommendCommand(app, dispatch);
  fedrec::cli::RegisterPrivacyCommand(app, dispatch);
  fedrec::cli::RegisterSweepCommand(app, dispatch);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes are replaced by the contract's: usage errors are
    // user errors (2), reported on one line.
    std::string what = e.what();
    // CLI11 reports an unknown command as a missing one; name it.
    if (app.get_subcommands().empty()) {
      if (const std::string unknown = UnknownCommand(app, argc, argv); !unknown.empty()) {
        what = "unknown command '" + unknown + "' (commands: " + CommandNames(app) + ")";
      }
    }
    std::fprintf(stderr, "fedrec: error: command line: %s\n",
                 fedrec::EscapeForMessage(what).c_str());
    return 2;
  }

  absl::Status status = fedrec::InitLogging(log_level);
  if (status.ok() && dispatch.run) status = dispatch.run();
  if (!status.ok() && !fedrec::IsReportedByAnotherRank(status)) {
    // Messages echo user input; its raw bytes must not break the one line.
    const std::string message(status.message().data(), status.message().size());
    const char* kind = status.code() == absl::StatusCode::kCancelled ? "interrupted" : "error";
    std::fprintf(stderr, "fedrec: %s: %s\n", kind, fedrec::EscapeForMessage(message).c_str());
  }
  return fedrec::ExitCodeFor(status);
}

}  // namespace

int main(int argc, char** argv) {
  std::set_terminate(OnTerminate);
  try {
    return Main(argc, argv);
  } catch (...) {
    return ReportInternalError();
  }
}
