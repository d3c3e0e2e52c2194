#include "core/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/logging.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Captures what a reporter writes to a FILE*.
class Capture {
 public:
  Capture() : file_(std::tmpfile()) {}
  ~Capture() { std::fclose(file_); }
  std::FILE* file() { return file_; }
  std::vector<std::string> Lines() {
    std::fflush(file_);
    std::rewind(file_);
    std::string all;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), file_)) > 0) all.append(buf, n);
    std::vector<std::string> lines;
    std::istringstream in(all);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  std::FILE* file_;
};

TEST(Progress, PlainLinesAtEachDecileThenDone) {
  Capture cap;
  {
    ProgressReporter p("load", 100, ProgressOptions{.out = cap.file(), .tty = 0});
    EXPECT_FALSE(p.is_tty());
    for (int i = 0; i < 100; ++i) p.Advance();
    p.Finish();
    EXPECT_EQ(p.done(), 100u);
  }
  const auto lines = cap.Lines();
  ASSERT_EQ(lines.size(), 10u);  // 10%..90%, then "done"
  EXPECT_THAT(lines[0], StartsWith("load: 10/100 (10%)"));
  EXPECT_THAT(lines[4], StartsWith("load: 50/100 (50%)"));
  EXPECT_THAT(lines[4], HasSubstr("/s"));
  EXPECT_THAT(lines[8], StartsWith("load: 90/100 (90%)"));
  EXPECT_THAT(lines[9], StartsWith("load: done 100 in 0:00:"));
  for (const auto& l : lines) EXPECT_EQ(l.find('\r'), std::string::npos);
}

TEST(Progress, BigStepsReportEachDecileOnce) {
  Capture cap;
  ProgressReporter p("x", 1000, ProgressOptions{.out = cap.file(), .tty = 0});
  p.Advance(250);  // crosses 10% and 20% at once: one line
  p.Advance(10);   // still 26%: nothing
  p.Advance(740);  // 100%: left to Finish()
  p.Finish();
  p.Finish();  // idempotent
  const auto lines = cap.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], StartsWith("x: 250/1000 (25%)"));
  EXPECT_THAT(lines[1], StartsWith("x: done 1000"));
}

TEST(Progress, QuietWritesNothingAndStillCounts) {
  Capture cap;
  ProgressReporter p("q", 10, ProgressOptions{.out = cap.file(), .quiet = true, .tty = 0});
  p.Advance(10);
  p.Finish();
  EXPECT_EQ(p.done(), 10u);
  EXPECT_TRUE(cap.Lines().empty());
}

TEST(Progress, TerminalModeRedrawsOneLine) {
  Capture cap;
  ProgressReporter p(
      "train", 10,
      ProgressOptions{.out = cap.file(), .tty = 1, .tty_interval = std::chrono::milliseconds(0)});
  EXPECT_TRUE(p.is_tty());
  for (int i = 0; i < 10; ++i) p.Advance();
  p.Finish();
  const auto lines = cap.Lines();
  ASSERT_EQ(lines.size(), 1u);  // all redraws on one line, then one newline
  EXPECT_THAT(lines[0], HasSubstr("\r\x1b[Ktrain [##########..........] 5/10 (50%)"));
  EXPECT_THAT(lines[0], HasSubstr("\r\x1b[Ktrain: done 10"));
}

// Reads everything written to `file` so far, control characters included.
std::string Raw(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string all;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), file)) > 0) all.append(buf, n);
  std::fseek(file, 0, SEEK_END);
  return all;
}

TEST(Progress, LogLinesAreWrittenAboveTheBarWhichIsRedrawn) {
  Capture cap;
  ProgressReporter p(
      "rounds", 4,
      ProgressOptions{.out = cap.file(), .tty = 1, .tty_interval = std::chrono::milliseconds(0)});
  p.Advance();
  const size_t before = Raw(cap.file()).size();
  WriteAboveProgress(cap.file(), "2026-12-01 [info] round 1\n");
  const std::string written = Raw(cap.file()).substr(before);
  // Clear the bar, the log line, then the bar again (on its own line).
  EXPECT_EQ(written.rfind("\r\x1b[K2026-12-01 [info] round 1\nrounds [#####", 0), 0u) << written;
  p.Finish();
  // Once the bar is finished, log lines are written as they are.
  const size_t after = Raw(cap.file()).size();
  WriteAboveProgress(cap.file(), "plain\n");
  EXPECT_EQ(Raw(cap.file()).substr(after), "plain\n");
}

TEST(Progress, WriteAboveProgressLeavesOtherStreamsAlone) {
  Capture bar;
  Capture other;
  ProgressReporter p(
      "x", 4,
      ProgressOptions{.out = bar.file(), .tty = 1, .tty_interval = std::chrono::milliseconds(0)});
  p.Advance();
  WriteAboveProgress(other.file(), "line\n");
  EXPECT_EQ(Raw(other.file()), "line\n");
}

TEST(Progress, NoteFollowsTheRateOnEveryLaterLine) {
  Capture cap;
  ProgressReporter p("rounds", 10, ProgressOptions{.out = cap.file(), .tty = 0});
  p.Advance(5);
  p.SetNote("valid NDCG@10 0.4168");
  p.Advance(5);
  p.Finish();
  const auto lines = cap.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].find("NDCG"), std::string::npos);
  EXPECT_THAT(lines[1], StartsWith("rounds: done 10"));
  EXPECT_THAT(lines[1], HasSubstr("  valid NDCG@10 0.4168"));
}

TEST(Progress, QuickWorkUnderTheDelayPrintsNothing) {
  Capture cap;
  {
    ProgressReporter p(
        "eval", 100,
        ProgressOptions{.out = cap.file(), .tty = 0, .delay = std::chrono::milliseconds(60000)});
    p.Advance(100);
  }
  EXPECT_TRUE(cap.Lines().empty());
}

TEST(Progress, SlowWorkPastTheDelayIsShown) {
  Capture cap;
  {
    ProgressReporter p(
        "eval", 100,
        ProgressOptions{.out = cap.file(), .tty = 0, .delay = std::chrono::milliseconds(20)});
    p.Advance(5);  // before the delay: nothing
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    p.Advance(45);
    p.Advance(50);
  }
  const auto lines = cap.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], StartsWith("eval: 50/100 (50%)"));
  EXPECT_THAT(lines[1], StartsWith("eval: done 100"));
}

TEST(Progress, ConcurrentAdvanceCountsExactly) {
  Capture cap;
  {
    ProgressReporter p("mt", 80000, ProgressOptions{.out = cap.file(), .tty = 0});
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 10000; ++i) p.Advance();
      });
    }
    for (auto& t : threads) t.join();
    p.Finish();
    EXPECT_EQ(p.done(), 80000u);
  }
  // At most one line per decile (a racing thread may report a later decile
  // and skip an earlier one), then "done".
  const auto lines = cap.Lines();
  EXPECT_LE(lines.size(), 10u);
  EXPECT_GE(lines.size(), 1u);
  EXPECT_THAT(lines.back(), StartsWith("mt: done 80000"));
}

TEST(Progress, Formatting) {
  EXPECT_EQ(FormatDuration(0), "0:00:00");
  EXPECT_EQ(FormatDuration(3725), "1:02:05");
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1234), "1.2k");
  EXPECT_EQ(FormatCount(5.5e6), "5.5M");
}

TEST(Logging, ValidatesLevelsAndWritesFile) {
  EXPECT_TRUE(IsValidLogLevel("debug"));
  EXPECT_TRUE(IsValidLogLevel("warning"));
  EXPECT_FALSE(IsValidLogLevel("loud"));
  absl::Status bad = InitLogging("loud");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("unknown level 'loud'"));

  const testing::TempDir dir("log");
  const auto path = dir.path() / "fedrec.log";
  ASSERT_TRUE(InitLogging("info", path.string()).ok());
  spdlog::debug("hidden");
  spdlog::info("hello {}", 42);
  spdlog::default_logger()->flush();
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(content, HasSubstr("[info] hello 42"));
  EXPECT_EQ(content.find("hidden"), std::string::npos);
  // A log file under a regular file cannot be created.
  const std::string under_file = path.string() + "/sub.log";
  EXPECT_EQ(InitLogging("info", under_file).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(InitLogging("warn").ok());
}

}  // namespace
}  // namespace fedrec
