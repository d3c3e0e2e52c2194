#include "core/output_path.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace fedrec {
namespace {

namespace fs = std::filesystem;

absl::Status Writable(const fs::path& dir, const std::string& path, bool is_target) {
  if (::access(dir.c_str(), W_OK | X_OK) == 0) return absl::OkStatus();
  const std::string reason = std::strerror(errno);
  if (is_target) return absl::FailedPreconditionError(path + ": not writable (" + reason + ")");
  return absl::FailedPreconditionError(path + ": cannot create: " + dir.string() +
                                       " is not writable (" + reason + ")");
}

// The nearest existing ancestor of `path` must be a writable directory.
absl::Status CheckParent(const std::string& path) {
  std::error_code ec;
  fs::path parent = fs::absolute(fs::path(path), ec).parent_path();
  if (ec) return absl::InvalidArgumentError(path + ": " + ec.message());
  // fs::exists is false both for a missing entry and for one below a file.
  while (!fs::exists(fs::symlink_status(parent, ec)) && parent.has_relative_path()) {
    parent = parent.parent_path();
  }
  if (!fs::is_directory(parent, ec)) {
    return absl::InvalidArgumentError(path + ": cannot create: " + parent.string() +
                                      " is not a directory");
  }
  return Writable(parent, path, /*is_target=*/false);
}

absl::Status CheckNotEmpty(const std::string& path, std::string_view flag, const char* what) {
  if (!path.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(flag) + ": empty path; name the " + what +
                                    " to write");
}

}  // namespace

absl::Status CheckOutputDirectory(const std::string& path, std::string_view flag) {
  FEDREC_RETURN_IF_ERROR(CheckNotEmpty(path, flag, "directory"));
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) {
      return absl::InvalidArgumentError(std::string(flag) + " " + path +
                                        " names an existing file, not a directory");
    }
    return Writable(path, path, /*is_target=*/true);
  }
  return CheckParent(path);
}

absl::Status CheckOutputFile(const std::string& path, std::string_view flag) {
  FEDREC_RETURN_IF_ERROR(CheckNotEmpty(path, flag, "file"));
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return absl::InvalidArgumentError(std::string(flag) + " " + path +
                                      " names an existing directory, not a file");
  }
  return CheckParent(path);
}

}  // namespace fedrec
