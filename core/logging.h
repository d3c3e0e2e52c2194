// Logging setup: spdlog's default logger writes timestamped lines to stderr
// and, optionally, to a log file. Rooms log through spdlog::info(...) etc.
// after InitLogging() has run once at program start (apps/).
#pragma once

#include <optional>
#include <string>

#include "core/status.h"

namespace fedrec {

// Level names accepted by InitLogging, from most to least verbose.
inline constexpr const char* kLogLevels[] = {"trace", "debug",    "info", "warn",
                                             "error", "critical", "off"};

// Configures the default spdlog logger:
//   - sink 1: stderr, pattern "YYYY-MM-DD HH:MM:SS.mmm [level] message",
//     written above a progress bar drawn on stderr (WriteAboveProgress);
//   - sink 2 (if log_file is set): the same lines appended to that file.
// `level` is one of kLogLevels ("warning" is accepted as "warn"). Returns
// InvalidArgument for an unknown level ("--log-level: unknown level 'x'
// (allowed: ...)") and FailedPrecondition if the file cannot be opened; the
// previous logger stays in place on error. Safe to call again (replaces the
// logger); not safe to call concurrently with logging from other threads.
absl::Status InitLogging(const std::string& level,
                         const std::optional<std::string>& log_file = std::nullopt);

// True if `level` is a valid level name for InitLogging.
bool IsValidLogLevel(const std::string& level);

}  // namespace fedrec
