// Runs the real `fedrec` binary (path in $FEDREC_BIN, which ctest sets for
// every test) and captures its exit code, stdout and stderr.
#pragma once

#include <filesystem>
#include <string>

namespace fedrec::testing {

struct CliResult {
  int exit_code = -1;  // -1: did not exit normally (or was not run)
  std::string out;
  std::string err;
};

// $FEDREC_BIN; a test failure and "" when it is not set.
std::string FedrecBin();

// Runs `command` through the shell with stdin from /dev/null; stdout and
// stderr pass through files in `scratch`, removed afterwards.
CliResult RunShell(const std::string& command, const std::filesystem::path& scratch);

// Runs `fedrec ARGS`; `args` is appended to the binary's path as a shell
// command line.
CliResult RunFedrec(const std::string& args, const std::filesystem::path& scratch);

// Waits (up to 30 s) until no process holds the lock of run directory
// `run` (or it has none). `timeout -s KILL` can return while the process it
// killed is still being torn down and holds the lock.
void WaitUntilUnlocked(const std::string& run);

// `s` in single quotes, for paths in a shell command line (no quote inside).
std::string Quote(const std::string& s);

// Expects the one-line refusal of the edge: exit code `exit_code`, stderr
// exactly one line "fedrec: error: ..." holding `fragment`.
void ExpectOneLineError(const CliResult& r, const std::string& fragment, int exit_code = 2);

}  // namespace fedrec::testing
