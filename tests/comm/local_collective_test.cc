#include "comm/local_collective.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "comm/factory.h"
#include "comm/mpi_collective.h"
#include "tests/comm/collective_checks.h"

namespace fedrec {
namespace {

using ::testing::HasSubstr;

// Runs body(rank r's Collective) on one thread per rank and joins them.
void RunRanks(int size, const std::function<void(Collective&)>& body) {
  absl::StatusOr<std::unique_ptr<LocalCollectiveGroup>> group = LocalCollectiveGroup::Create(size);
  ASSERT_TRUE(group.ok()) << group.status();
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&body, &group, r] { body((*group)->rank(r)); });
  }
  for (std::thread& t : threads) t.join();
}

constexpr int kWorldSizes[] = {1, 2, 3, 4, 7};

class LocalAllreduceTest : public ::testing::TestWithParam<std::tuple<int, size_t>> {};

TEST_P(LocalAllreduceTest, MatchesClosedForm) {
  const auto [size, length] = GetParam();
  RunRanks(size, [length](Collective& comm) {
    EXPECT_EQ(comm.backend_name(), "local");
    comm_testing::CheckAllreduce(comm, length);
  });
}

INSTANTIATE_TEST_SUITE_P(Grid, LocalAllreduceTest,
                         ::testing::Combine(::testing::ValuesIn(kWorldSizes),
                                            ::testing::ValuesIn(comm_testing::GridLengths())),
                         [](const auto& info) {
                           return "np" + std::to_string(std::get<0>(info.param)) + "_len" +
                                  std::to_string(std::get<1>(info.param));
                         });

class LocalBytesTest : public ::testing::TestWithParam<int> {};

TEST_P(LocalBytesTest, BroadcastGatherAllgather) {
  const int size = GetParam();
  RunRanks(size, [size](Collective& comm) {
    EXPECT_EQ(comm.size(), size);
    comm_testing::CheckBroadcast(comm);
    comm_testing::CheckGather(comm);
    comm_testing::CheckAllgather(comm);
  });
}

TEST_P(LocalBytesTest, BarrierWaitsForEveryRank) {
  const int size = GetParam();
  std::atomic<int> arrived{0};
  RunRanks(size, [&arrived, size](Collective& comm) {
    for (int round = 1; round <= 20; ++round) {
      arrived.fetch_add(1);
      EXPECT_TRUE(comm.Barrier().ok());
      EXPECT_GE(arrived.load(), round * size);  // nobody leaves before all came
      EXPECT_TRUE(comm.Barrier().ok());         // nobody starts the next round early
    }
  });
  EXPECT_EQ(arrived.load(), 20 * size);
}

TEST_P(LocalBytesTest, ReusesTheGroupForManyMixedCollectives) {
  RunRanks(GetParam(), [](Collective& comm) {
    for (int i = 0; i < 50; ++i) {
      std::vector<uint32_t> v(static_cast<size_t>(i % 7), static_cast<uint32_t>(comm.rank()));
      EXPECT_TRUE(comm.AllreduceSum(std::span<uint32_t>(v)).ok());
      const uint32_t want = static_cast<uint32_t>(comm.size() * (comm.size() - 1) / 2);
      for (uint32_t x : v) EXPECT_EQ(x, want);
      std::string b = comm.rank() == i % comm.size() ? std::to_string(i) : "";
      EXPECT_TRUE(comm.Broadcast(&b, i % comm.size()).ok());
      EXPECT_EQ(b, std::to_string(i));
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Grid, LocalBytesTest, ::testing::ValuesIn(kWorldSizes),
                         [](const auto& info) { return "np" + std::to_string(info.param); });

TEST(LocalCollectiveTest, MismatchedLengthsFailOnEveryRank) {
  RunRanks(3, [](Collective& comm) {
    std::vector<uint64_t> v(static_cast<size_t>(comm.rank() + 1), 1);
    absl::Status status = comm.AllreduceSum(std::span<uint64_t>(v));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("different lengths"));
    EXPECT_TRUE(comm.Barrier().ok());  // the group is still in step
  });
}

TEST(LocalCollectiveTest, MismatchedRootsFailOnEveryRank) {
  RunRanks(2, [](Collective& comm) {
    std::string bytes = "x";
    absl::Status status = comm.Broadcast(&bytes, comm.rank());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(comm.Gather("y", comm.rank()).status().code(), absl::StatusCode::kInvalidArgument);
  });
}

TEST(LocalCollectiveTest, RefusesBadSizesAndRoots) {
  EXPECT_EQ(LocalCollectiveGroup::Create(0).status().code(), absl::StatusCode::kInvalidArgument);
  RunRanks(1, [](Collective& comm) {
    std::string bytes;
    EXPECT_EQ(comm.Broadcast(&bytes, 1).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(comm.Gather("", -1).status().code(), absl::StatusCode::kInvalidArgument);
  });
}

// The factory, without an MPI launcher in the environment.
class FactoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) unsetenv(name);
  }
};

TEST_F(FactoryTest, RefusesUnknownBackendListingTheNames) {
  absl::StatusOr<std::unique_ptr<Collective>> c = CreateCollective("gloo");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("unknown backend \"gloo\"; allowed: auto, local, mpi, nccl"));
}

TEST_F(FactoryTest, NcclOutsideMpirunIsRefusedByName) {
  absl::StatusOr<std::unique_ptr<Collective>> c = CreateCollective("nccl");
#if FEDREC_HAVE_NCCL
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);  // as "local"
#else
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("this build has no NCCL"));
#endif
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("backend.comm: 'nccl'"));
}

TEST_F(FactoryTest, AutoAndLocalOutsideMpirunPointToLocalGroups) {
  EXPECT_FALSE(LaunchedUnderMpirun());
  for (const char* name : {"auto", "local"}) {
    absl::StatusOr<std::unique_ptr<Collective>> c = CreateCollective(name);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("LocalCollectiveGroup")) << name;
  }
}

TEST_F(FactoryTest, AutoUnderASingleRankLauncherDoesNotStartMpi) {
  setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
  EXPECT_TRUE(LaunchedUnderMpirun());
  EXPECT_EQ(MpirunWorldSize(), 1);
  absl::StatusOr<std::unique_ptr<Collective>> c = CreateCollective("auto");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  unsetenv("OMPI_COMM_WORLD_SIZE");
}

}  // namespace
}  // namespace fedrec
