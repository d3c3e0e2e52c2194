// Shared plumbing of the `fedrec` subcommands: every command is a function
// returning absl::Status; main() turns a failure into one line
// "fedrec: error: <where>: <what>" and exit code 2 (user error) or 1.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "core/thread_pool.h"

namespace fedrec::cli {

using CommandFn = std::function<absl::Status()>;

// Holds the command chosen on the command line; set by the subcommand
// callbacks, run by main() after parsing succeeded.
struct Dispatch {
  CommandFn run;
};

// The check of every --threads flag: 0 (all cores) up to kMaxThreads, so a
// typo is refused naming the flag and the maximum instead of failing in
// thread creation.
inline CLI::Validator ThreadCountRange() { return CLI::Range(size_t{0}, kMaxThreads); }

// Prints `j` to stdout as indented JSON followed by a newline.
void PrintJson(const nlohmann::json& j);

void RegisterDataCommands(CLI::App& app, Dispatch& dispatch);
void RegisterEvalCommand(CLI::App& app, Dispatch& dispatch);
void RegisterInspectCommand(CLI::App& app, Dispatch& dispatch);
// train and config show|keys.
void RegisterTrainCommands(CLI::App& app, Dispatch& dispatch);
void RegisterRecommendCommand(CLI::App& app, Dispatch& dispatch);
// privacy epsilon|sigma.
void RegisterPrivacyCommand(CLI::App& app, Dispatch& dispatch);
// sweep: privacy/utility curves.
void RegisterSweepCommand(CLI::App& app, Dispatch& dispatch);

}  // namespace fedrec::cli
