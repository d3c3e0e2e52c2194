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

}  // namespace fedrec::testing
