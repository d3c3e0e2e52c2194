// Reading and writing whole files in tests.
#pragma once

#include <filesystem>
#include <string>

namespace fedrec::testing {

// Writes `text` to `path` (binary, truncating, not atomic: also for corrupted
// fixtures); returns the path as a string.
std::string WriteText(const std::filesystem::path& path, const std::string& text);

// The whole file; empty when it cannot be read.
std::string ReadText(const std::filesystem::path& path);

}  // namespace fedrec::testing
