// The launch seam: RunRanks resolves the backend, prepares once, and runs
// every hosted rank, returning rank 0's error first.
#include "comm/launch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "comm/mpi_collective.h"

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
#if !FEDREC_HAVE_NCCL  // with NCCL: nccl_collective_test.cc
  absl::Status nccl = RunRanks("nccl", 2, prepare, rank_main);
  EXPECT_EQ(nccl.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(nccl.message()), HasSubstr("backend.comm: 'nccl'"));
#endif
  EXPECT_FALSE(LaunchedAsMpiJob());
}

// Sets (or, with nullopt, unsets) environment variables for one scope.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, std::optional<std::string>>> vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      Set(name, value);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) Set(name, value);
  }

 private:
  static void Set(const char* name, const std::optional<std::string>& value) {
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

TEST(LaunchTest, SrunWithPmixIsAnMpiJobSizedBySlurm) {
  // What `srun --mpi=pmix -n 3` puts in a task's environment before MPI_Init.
  ScopedEnv env({{"OMPI_COMM_WORLD_SIZE", std::nullopt},
                 {"OMPI_COMM_WORLD_LOCAL_SIZE", std::nullopt},
                 {"PMI_SIZE", std::nullopt},
                 {"PMIX_RANK", "1"},
                 {"SLURM_STEP_NUM_TASKS", "3"},
                 {"SLURM_NTASKS", "8"},
                 {"SLURM_STEP_TASKS_PER_NODE", "2,1"}});
  EXPECT_TRUE(LaunchedAsMpiJob());
  EXPECT_EQ(MpirunWorldSize(), 3);
  EXPECT_EQ(RanksOnThisNode(), 2);
}

TEST(LaunchTest, SlurmVariablesAloneAreNotAnMpiJob) {
  // A plain sbatch script (or srun without --mpi) runs one local job.
  ScopedEnv env({{"OMPI_COMM_WORLD_SIZE", std::nullopt},
                 {"OMPI_COMM_WORLD_LOCAL_SIZE", std::nullopt},
                 {"PMI_SIZE", std::nullopt},
                 {"PMIX_RANK", std::nullopt},
                 {"SLURM_STEP_NUM_TASKS", "3"},
                 {"SLURM_STEP_TASKS_PER_NODE", "3"}});
  EXPECT_FALSE(LaunchedAsMpiJob());
  EXPECT_EQ(RanksOnThisNode(), 1);
}

// The node-local rank that picks a rank's GPU (NCCL, backend.compute = cuda).
TEST(LaunchTest, NodeLocalRankComesFromTheLauncher) {
  {
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", "3"}, {"SLURM_LOCALID", "1"}});
    EXPECT_EQ(MpirunLocalRank(), 3);  // mpirun's wins
  }
  {
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", std::nullopt},
                   {"MPI_LOCALRANKID", std::nullopt},
                   {"SLURM_LOCALID", "2"}});
    EXPECT_EQ(MpirunLocalRank(), 2);
  }
  {
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", "x1"}});
    EXPECT_EQ(MpirunLocalRank(), -1);
  }
  {
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", std::nullopt},
                   {"MPI_LOCALRANKID", std::nullopt},
                   {"SLURM_LOCALID", std::nullopt}});
    EXPECT_EQ(MpirunLocalRank(), -1);
  }
}

TEST(LaunchTest, MpirunsLocalSizeWinsOverSlurms) {
  ScopedEnv env({{"OMPI_COMM_WORLD_SIZE", "4"},
                 {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                 {"PMIX_RANK", "0"},
                 {"SLURM_STEP_NUM_TASKS", "1"},
                 {"SLURM_STEP_TASKS_PER_NODE", "1"}});
  EXPECT_EQ(MpirunWorldSize(), 4);
  EXPECT_EQ(RanksOnThisNode(), 4);
}

TEST(LaunchTest, TasksPerNodeListsParse) {
  EXPECT_EQ(MaxTasksPerNode("4"), 4);
  EXPECT_EQ(MaxTasksPerNode("2(x3),1"), 2);
  EXPECT_EQ(MaxTasksPerNode("1,3(x2)"), 3);
  EXPECT_EQ(MaxTasksPerNode(""), 0);
  EXPECT_EQ(MaxTasksPerNode("x"), 0);
  EXPECT_EQ(MaxTasksPerNode("2x"), 0);
  EXPECT_EQ(MaxTasksPerNode("0"), 0);
}

}  // namespace
}  // namespace fedrec
