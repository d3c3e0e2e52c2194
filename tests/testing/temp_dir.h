// Temporary directories for tests, named after the running test
// (<tmp>/fedrec_<tag>_<suite>_<test>_<pid>) so that concurrent test binaries
// never share one and a leftover directory says where it came from. Set
// FEDREC_KEEP_TEST_DIRS to keep them for debugging.
#pragma once

#include <filesystem>
#include <string>

namespace fedrec::testing {

// A fresh, empty directory, removed on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string Path(const std::string& name) const;
  // Writes `contents` to path() / name; returns that path.
  std::string File(const std::string& name, const std::string& contents) const;

 private:
  std::filesystem::path path_;
};

// A fresh, empty directory for the running test that lives until the test
// binary exits (for tests that hand paths around without an owner).
std::filesystem::path TestDir(const std::string& tag = "data");

}  // namespace fedrec::testing
