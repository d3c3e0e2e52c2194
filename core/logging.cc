#include "core/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/progress.h"

namespace fedrec {
namespace {

constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e [%l] %v";

std::optional<spdlog::level::level_enum> ParseLevel(const std::string& level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "info") return spdlog::level::info;
  if (level == "warn" || level == "warning") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  if (level == "critical") return spdlog::level::critical;
  if (level == "off") return spdlog::level::off;
  return std::nullopt;
}

// stderr, written above a progress bar drawn there (core/progress.h), so a
// log line never lands in the middle of the bar.
class StderrAboveProgressSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    WriteAboveProgress(stderr, std::string_view(formatted.data(), formatted.size()));
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

bool IsValidLogLevel(const std::string& level) { return ParseLevel(level).has_value(); }

absl::Status InitLogging(const std::string& level, const std::optional<std::string>& log_file) {
  const auto parsed = ParseLevel(level);
  if (!parsed) {
    std::string allowed;
    for (const char* name : kLogLevels) {
      if (!allowed.empty()) allowed += ", ";
      allowed += name;
    }
    return InvalidInput("--log-level", "unknown level '" + level + "' (allowed: " + allowed + ")");
  }
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<StderrAboveProgressSink>());
  if (log_file) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(*log_file));
    } catch (const spdlog::spdlog_ex& e) {
      return absl::FailedPreconditionError(*log_file + ": cannot open log file: " + e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("fedrec", sinks.begin(), sinks.end());
  logger->set_pattern(kPattern);
  logger->set_level(*parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

}  // namespace fedrec
