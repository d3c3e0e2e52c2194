#include "tests/testing/temp_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <vector>

#include "tests/testing/files.h"

namespace fedrec::testing {
namespace {

bool KeepTestDirs() { return std::getenv("FEDREC_KEEP_TEST_DIRS") != nullptr; }

// <tmp>/fedrec_<tag>_<suite>_<test>_<pid>, emptied and created. Outside a
// test (e.g. in SetUpTestSuite) the suite and test names are left out.
std::filesystem::path FreshDir(const std::string& tag) {
  std::string name = "fedrec_" + tag + "_";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += std::string(info->test_suite_name()) + "_" + info->name() + "_";
  }
  name += std::to_string(::getpid());
  std::replace(name.begin(), name.end(), '/', '_');  // parameterized tests: Prefix/Suite, Test/0
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / name;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  return dir;
}

void RemoveDir(const std::filesystem::path& dir) {
  if (KeepTestDirs()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace

TempDir::TempDir(const std::string& tag) : path_(FreshDir(tag)) {}

TempDir::~TempDir() { RemoveDir(path_); }

std::string TempDir::Path(const std::string& name) const { return (path_ / name).string(); }

std::string TempDir::File(const std::string& name, const std::string& contents) const {
  return WriteText(path_ / name, contents);
}

std::filesystem::path TestDir(const std::string& tag) {
  static std::mutex mu;
  static std::vector<std::filesystem::path> dirs;
  static const bool registered = [] {
    std::atexit([] {
      for (const auto& d : dirs) RemoveDir(d);
    });
    return true;
  }();
  (void)registered;
  std::filesystem::path dir = FreshDir(tag);
  std::lock_guard lock(mu);
  dirs.push_back(dir);
  return dir;
}

}  // namespace fedrec::testing
