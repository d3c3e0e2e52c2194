// The run directory's TensorBoard event file mirrors metrics.jsonl, also
// across a resume that drops lines; the directory is created as a unit and
// has one writer at a time.
#include "coordinator/run_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> EventFiles(const fs::path& run) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(run / "tb")) files.push_back(e.path());
  return files;
}

TEST(RunDirectoryEvents, MetricsNumbersBecomeScalarsPerStep) {
  const auto step = ScalarsFromMetricsLine({{"round", 7},
                                            {"wall_time", 12.5},
                                            {"loss", 0.25},
                                            {"mode", "federated"},
                                            {"valid", {{"NDCG@10", 0.125}, {"users", 40}}}});
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->step, 7);
  EXPECT_EQ(step->wall_time, 12.5);
  std::vector<std::string> tags;
  for (const ScalarValue& s : step->scalars) tags.push_back(s.tag);
  EXPECT_EQ(tags, (std::vector<std::string>{"loss", "valid/NDCG@10", "valid/users"}));
  EXPECT_EQ(ScalarsFromMetricsLine({{"epoch", 2}, {"loss", 1.0}})->step, 2);
  EXPECT_FALSE(ScalarsFromMetricsLine({{"loss", 1.0}}).has_value());
}

TEST(RunDirectoryEvents, EventFileFollowsMetricsThroughAResume) {
  const testing::TempDir tmp("rundir");
  const std::string run = (tmp.path() / "run").string();
  {
    auto dir = RunDirectory::Create(run, "seed = 1\n");
    ASSERT_TRUE(dir.ok()) << dir.status();
    for (int r = 1; r <= 3; ++r) {
      ASSERT_TRUE(dir->AppendMetrics({{"round", r}, {"loss", 1.0 / r}}).ok());
    }
  }
  ASSERT_EQ(EventFiles(run).size(), 1u);
  auto events = ReadScalarEvents(EventFiles(run)[0].string());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(events->back().step, 3);
  EXPECT_FLOAT_EQ(events->back().value, 1.0f / 3);
  EXPECT_GT(events->back().wall_time, 1.6e9);  // stamped when appended

  {
    // Resumed from round 1's checkpoint: rounds 2 and 3 are recomputed.
    auto dir = RunDirectory::Reopen(run);
    ASSERT_TRUE(dir.ok()) << dir.status();
    ASSERT_TRUE(dir->TruncateMetricsAfter(1).ok());
    ASSERT_TRUE(dir->AppendMetrics({{"round", 2}, {"loss", 0.75}}).ok());
  }
  ASSERT_EQ(EventFiles(run).size(), 1u);
  events = ReadScalarEvents(EventFiles(run)[0].string());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].step, 1);
  EXPECT_EQ((*events)[1].step, 2);
  EXPECT_FLOAT_EQ((*events)[1].value, 0.75f);
}

const std::vector<std::string> kCreationSteps = {"temp_dir", "locked", "checkpoints",
                                                 "run_json", "config", "renamed"};

// The leftovers of a failed or killed creation: no directory, one that a
// fresh Create accepts (only leftovers), or a complete one Reopen accepts.
enum class Outcome { kAbsent, kReusable, kComplete };

Outcome Inspect(const std::string& run) {
  if (!fs::exists(run)) return Outcome::kAbsent;
  if (fs::exists(run + "/config.toml")) return Outcome::kComplete;
  return Outcome::kReusable;
}

// Any temp sibling of `run` left in its parent.
bool HasTempSibling(const fs::path& parent, const std::string& name) {
  for (const auto& e : fs::directory_iterator(parent)) {
    if (e.path().filename().string().starts_with("." + name + ".tmp-")) return true;
  }
  return false;
}

// Runs Create(run) in a child process that dies (_exit, as a SIGKILL would
// leave it: no destructors, no cleanup) right after `step`.
void CreateAndDieAfter(const std::string& run, const std::string& step) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    RunDirectory::SetCreationHookForTesting([step](std::string_view s) {
      if (s == step) ::_exit(0);
      return absl::OkStatus();
    });
    (void)RunDirectory::Create(run, "seed = 1\n");
    ::_exit(3);  // the step never came
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
}

TEST(RunDirectoryCreation, KillDuringCreationLeavesARecoverableDirectory) {
  for (const bool pre_existing : {false, true}) {
    for (const std::string& step : kCreationSteps) {
      if (pre_existing && (step == "temp_dir" || step == "renamed")) continue;  // no such step
      SCOPED_TRACE(step + (pre_existing ? " (pre-created --out)" : ""));
      const testing::TempDir tmp("create");
      const std::string run = (tmp.path() / "run").string();
      if (pre_existing) fs::create_directory(run);
      CreateAndDieAfter(run, step);
      const Outcome outcome = Inspect(run);
      if (!pre_existing) {
        // Renamed into place whole, or not at all.
        EXPECT_EQ(outcome, step == "renamed" ? Outcome::kComplete : Outcome::kAbsent);
      } else {
        EXPECT_EQ(outcome, step == "config" ? Outcome::kComplete : Outcome::kReusable);
      }
      if (outcome == Outcome::kComplete) {
        auto dir = RunDirectory::Reopen(run);
        ASSERT_TRUE(dir.ok()) << dir.status();
        EXPECT_EQ(dir->run_id().size(), 32u);
      } else {
        // The dead process's temp dir does not block a new start; it goes.
        auto dir = RunDirectory::Create(run, "seed = 1\n");
        ASSERT_TRUE(dir.ok()) << dir.status();
        EXPECT_TRUE(fs::exists(run + "/config.toml"));
      }
      EXPECT_FALSE(HasTempSibling(tmp.path(), "run"));
    }
  }
}

TEST(RunDirectoryCreation, FailureDuringCreationLeavesNothingPartial) {
  for (const bool pre_existing : {false, true}) {
    for (const std::string& step : kCreationSteps) {
      if (pre_existing && (step == "temp_dir" || step == "renamed")) continue;
      if (!pre_existing && step == "renamed") continue;  // after the point of no return
      SCOPED_TRACE(step + (pre_existing ? " (pre-created --out)" : ""));
      const testing::TempDir tmp("create");
      const std::string run = (tmp.path() / "run").string();
      if (pre_existing) fs::create_directory(run);
      RunDirectory::SetCreationHookForTesting([step](std::string_view s) {
        return s == step ? absl::ResourceExhaustedError("No space left on device")
                         : absl::OkStatus();
      });
      auto failed = RunDirectory::Create(run, "seed = 1\n");
      RunDirectory::SetCreationHookForTesting(nullptr);
      EXPECT_FALSE(failed.ok());
      if (!pre_existing) {
        EXPECT_EQ(Inspect(run), Outcome::kAbsent);
        EXPECT_FALSE(HasTempSibling(tmp.path(), "run"));
      } else if (step != "config") {
        EXPECT_EQ(Inspect(run), Outcome::kReusable);
      }
      if (Inspect(run) != Outcome::kComplete) {
        EXPECT_TRUE(RunDirectory::Create(run, "seed = 1\n").ok());
      }
    }
  }
}

TEST(RunDirectoryLock, SecondWriterIsRefusedNamingTheHolder) {
  const testing::TempDir tmp("lock");
  const std::string run = (tmp.path() / "run").string();
  std::string run_id;
  {
    auto first = RunDirectory::Create(run, "seed = 1\n");
    ASSERT_TRUE(first.ok()) << first.status();
    run_id = first->run_id();
    const std::string holder =
        "in use by another fedrec process (pid " + std::to_string(::getpid()) + " on host ";
    auto second = RunDirectory::Reopen(run);
    ASSERT_FALSE(second.ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(second.status()));
    EXPECT_THAT(std::string(second.status().message()), ::testing::HasSubstr(holder));
    auto fresh = RunDirectory::Create(run, "seed = 1\n");
    ASSERT_FALSE(fresh.ok());
    EXPECT_THAT(std::string(fresh.status().message()), ::testing::HasSubstr(holder));
    // Moving the directory object moves the lock with it.
    RunDirectory moved(std::move(*first));
    EXPECT_FALSE(RunDirectory::Reopen(run).ok());
  }
  // Released with its owner: the next writer gets it, and the same run id.
  auto again = RunDirectory::Reopen(run);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->run_id(), run_id);
}

TEST(RunDirectoryCreation, PreCreatedEmptyOutIsAccepted) {
  const testing::TempDir tmp("create");
  const std::string run = (tmp.path() / "run").string();
  fs::create_directory(run);
  auto dir = RunDirectory::Create(run, "seed = 1\n");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_TRUE(fs::exists(run + "/run.json"));
  EXPECT_TRUE(fs::is_directory(run + "/checkpoints"));
}

TEST(RunDirectoryCreation, StaleTempSiblingOfADeadProcessIsRemoved) {
  const testing::TempDir tmp("create");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  std::string tag = ThisProcessTag();
  const std::string host = tag.substr(tag.find(' ') + 1);
  const fs::path stale = tmp.path() / (".run.tmp-" + host + "-" + std::to_string(pid));
  fs::create_directories(stale / "checkpoints");
  const fs::path other_host = tmp.path() / ".run.tmp-elsewhere-1";
  fs::create_directories(other_host);
  ASSERT_TRUE(RunDirectory::Create((tmp.path() / "run").string(), "seed = 1\n").ok());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(other_host));  // may belong to a live process elsewhere
}

}  // namespace
}  // namespace fedrec
