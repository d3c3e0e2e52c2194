#include "tests/testing/fedrec_cli.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

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

void WaitUntilUnlocked(const std::string& run) {
  for (int i = 0; i < 300; ++i) {
    const int fd = ::open((run + "/.lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);
    if (free) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace fedrec::testing
