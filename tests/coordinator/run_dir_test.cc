// The run directory's TensorBoard event file mirrors metrics.jsonl, also
// across a resume that drops lines.
#include "coordinator/run_dir.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fedrec
