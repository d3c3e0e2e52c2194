// Fixture helpers for data tests: a fresh temp dir per test and file writers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace fedrec::testing {

// Directories made by TestDir(), removed when the test binary exits (kept
// when FEDREC_KEEP_TEST_DIRS is set, for debugging).
inline std::vector<std::filesystem::path>& CreatedTestDirs() {
  static std::vector<std::filesystem::path> dirs;
  static const bool registered = [] {
    std::atexit([] {
      if (std::getenv("FEDREC_KEEP_TEST_DIRS") != nullptr) return;
      std::error_code ec;
      for (const auto& d : CreatedTestDirs()) std::filesystem::remove_all(d, ec);
    });
    return true;
  }();
  (void)registered;
  return dirs;
}

// A fresh, empty directory named after the running test.
inline std::filesystem::path TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("fedrec_data_" + std::string(info->test_suite_name()) + "_" +
                               info->name() + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  CreatedTestDirs().push_back(dir);
  return dir;
}

inline std::string WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

}  // namespace fedrec::testing
