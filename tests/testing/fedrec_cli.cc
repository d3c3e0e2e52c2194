#include "tests/testing/fedrec_cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>

#include "tests/testing/files.h"

namespace fedrec::testing {

std::string FedrecBin() {
  const char* bin = std::getenv("FEDREC_BIN");
  if (bin == nullptr) {
    ADD_FAILURE() << "FEDREC_BIN is not set (run through ctest)";
    return "";
  }
  return bin;
}

CliResult RunShell(const std::string& command, const std::filesystem::path& scratch) {
  const auto out = scratch / ".stdout";
  const auto err = scratch / ".stderr";
  const std::string cmd = command + " >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadText(out);
  r.err = ReadText(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

CliResult RunFedrec(const std::string& args, const std::filesystem::path& scratch) {
  const std::string bin = FedrecBin();
  if (bin.empty()) return {};
  return RunShell("'" + bin + "' " + args, scratch);
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

void ExpectOneLineError(const CliResult& r, const std::string& fragment, int exit_code) {
  EXPECT_EQ(r.exit_code, exit_code) << r.err;
  EXPECT_THAT(r.err, ::testing::StartsWith("fedrec: error: "));
  EXPECT_THAT(r.err, ::testing::HasSubstr(fragment));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace fedrec::testing
