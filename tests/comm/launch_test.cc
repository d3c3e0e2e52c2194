// The launch seam: RunRanks resolves the backend, prepares once, and runs
// every hosted rank, returning rank 0's error first.
#include "comm/launch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace fedrec {
namespace {

using ::testing::HasSubstr;

TEST(LaunchTest, LocalRunsEveryRankAfterOnePrepare) {
  std::atomic<int> prepared{0};
  LaunchPlan seen;
  std::vector<uint64_t> sums(4, 0);
  absl::Status st = RunRanks(
      "auto", 4,
      [&](const LaunchPlan& plan) {
        ++prepared;
        seen = plan;
        return absl::OkStatus();
      },
      [&](Collective& comm) -> absl::Status {
        std::vector<uint64_t> v = {static_cast<uint64_t>(comm.rank()) + 1};
        absl::Status s = comm.AllreduceSum(std::span<uint64_t>(v));
        sums[static_cast<size_t>(comm.rank())] = v[0];
        return s;
      });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(prepared.load(), 1);
  EXPECT_EQ(seen.backend, "local");
  EXPECT_EQ(seen.world_size, 4);
  EXPECT_TRUE(seen.Hosts(0) && seen.Hosts(3));
  EXPECT_EQ(sums, std::vector<uint64_t>(4, 10));
}

TEST(LaunchTest, RankZerosErrorWinsThenTheLowestRank) {
  auto run = [](int failing_mask) {
    return RunRanks(
        "local", 3, [](const LaunchPlan&) { return absl::OkStatus(); },
        [&](Collective& comm) -> absl::Status {
          if (failing_mask & (1 << comm.rank())) {
            return absl::InternalError("rank " + std::to_string(comm.rank()));
          }
          return absl::OkStatus();
        });
  };
  EXPECT_EQ(run(0b111).message(), "rank 0");
  EXPECT_EQ(run(0b110).message(), "rank 1");
  EXPECT_TRUE(run(0).ok());
}

TEST(LaunchTest, APrepareErrorStartsNoRank) {
  bool ran = false;
  absl::Status st = RunRanks(
      "local", 2, [](const LaunchPlan&) { return absl::InvalidArgumentError("no data"); },
      [&](Collective&) {
        ran = true;
        return absl::OkStatus();
      });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ran);
}

TEST(LaunchTest, UnknownAndUnbuiltBackendsAreRefusedByName) {
  auto prepare = [](const LaunchPlan&) { return absl::OkStatus(); };
  auto rank_main = [](Collective&) { return absl::OkStatus(); };
  absl::Status gloo = RunRanks("gloo", 2, prepare, rank_main);
  EXPECT_EQ(gloo.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(gloo.message()), HasSubstr("unknown backend \"gloo\""));
  absl::Status nccl = RunRanks("nccl", 2, prepare, rank_main);
  EXPECT_EQ(nccl.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(nccl.message()), HasSubstr("backend.comm: 'nccl'"));
  EXPECT_FALSE(LaunchedAsMpiJob());
}

}  // namespace
}  // namespace fedrec
