// The NCCL backend (comm/nccl_collective.h). Its refusals run on every
// machine: a rank is given a device index beyond what its node sees, which
// is a missing GPU with or without a GPU in the machine. The sums run only
// where enough CUDA devices are visible (one per rank) and skip otherwise.
#include "comm/nccl_collective.h"

#include <cuda_runtime_api.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "comm/factory.h"
#include "comm/launch.h"
#include "comm/local_collective.h"
#include "core/status.h"
#include "tests/comm/collective_checks.h"

namespace fedrec {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int Visible() {
  absl::StatusOr<int> visible = VisibleCudaDeviceCount();
  EXPECT_TRUE(visible.ok()) << visible.status();
  return visible.ok() ? *visible : 0;
}

// Creates an NcclCollective on every rank of a local group (rank r on
// device_of(r)) and runs body on those that were created; returns each
// rank's Create status.
std::vector<absl::Status> OnNcclRanks(int size, const std::function<int(int)>& device_of,
                                      const std::function<void(NcclCollective&)>& body) {
  absl::StatusOr<std::unique_ptr<LocalCollectiveGroup>> group = LocalCollectiveGroup::Create(size);
  EXPECT_TRUE(group.ok()) << group.status();
  std::vector<absl::Status> created(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      Collective& control = (*group)->rank(r);
      control.set_timeout(std::chrono::seconds(60));  // a hang fails instead
      absl::StatusOr<std::unique_ptr<NcclCollective>> nccl =
          NcclCollective::Create(control, device_of(r));
      created[r] = nccl.status();
      if (nccl.ok()) body(**nccl);
    });
  }
  for (std::thread& t : threads) t.join();
  return created;
}

TEST(NcclCollective, EveryRankIsRefusedTogetherNamingTheRanksWithoutAGpu) {
  const int visible = Visible();
  // Rank r asks for device visible + r: none exists, on any machine.
  std::vector<absl::Status> created = OnNcclRanks(
      2, [visible](int r) { return visible + r; }, [](NcclCollective&) {});
  for (const absl::Status& s : created) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_EQ(s.message(), created[0].message()) << "every rank returns the same refusal";
  }
  EXPECT_FALSE(IsReportedByAnotherRank(created[0]));
  EXPECT_TRUE(IsReportedByAnotherRank(created[1])) << "rank 0 reports it";
  const std::string message(created[0].message());
  EXPECT_THAT(message, HasSubstr("backend.comm: 'nccl': rank 0 has no GPU"));
  EXPECT_THAT(message, HasSubstr("needs one GPU per rank"));
  EXPECT_THAT(message, HasSubstr("rank 0 has no GPU (device index " + std::to_string(visible)));
  EXPECT_THAT(message, HasSubstr("rank 1 has no GPU"));
  EXPECT_THAT(message, HasSubstr("backend.comm = mpi"));
}

TEST(NcclCollective, ARefusalListsThreeRanksAndCountsTheRest) {
  const int visible = Visible();
  std::vector<absl::Status> created = OnNcclRanks(
      5, [visible](int r) { return visible + r; }, [](NcclCollective&) {});
  const std::string message(created[4].message());
  EXPECT_THAT(message, HasSubstr("rank 2 has no GPU"));
  EXPECT_THAT(message, Not(HasSubstr("rank 3 has no GPU")));
  EXPECT_THAT(message, HasSubstr("and 2 more ranks"));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(NcclCollective, OnlyTheRanksWithoutAGpuAreNamed) {
  const int visible = Visible();
  if (visible < 1) GTEST_SKIP() << "no CUDA device visible: every rank lacks a GPU here";
  std::vector<absl::Status> created = OnNcclRanks(
      2, [visible](int r) { return r == 0 ? 0 : visible; }, [](NcclCollective&) {});
  EXPECT_EQ(created[0].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(created[0].message(), created[1].message());
  EXPECT_THAT(std::string(created[0].message()), Not(HasSubstr("rank 0 has no GPU")));
  EXPECT_THAT(std::string(created[0].message()), HasSubstr("rank 1 has no GPU"));
}

TEST(NcclCollective, LaunchRefusesTooFewGpusBeforePreparing) {
  const int visible = Visible();
  std::atomic<bool> prepared = false;
  absl::Status s = RunRanks(
      "nccl", visible + 1,
      [&](const LaunchPlan&) {
        prepared = true;
        return absl::OkStatus();
      },
      [](Collective&) { return absl::OkStatus(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("needs one GPU per rank"));
  EXPECT_FALSE(prepared);
}

TEST(NcclCollective, FactoryOutsideMpirunPointsToLocalGroups) {
  absl::StatusOr<std::unique_ptr<Collective>> c = CreateCollective("nccl");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("backend.comm: 'nccl' outside mpirun"));
}

// The shared closed-form checks (collective_checks.h) on as many ranks as
// there are GPUs, up to 4.
TEST(NcclCollective, SumsAndBytesMatchTheClosedForms) {
  const int visible = Visible();
  if (visible < 1) GTEST_SKIP() << "no CUDA device visible";
  const int size = std::min(visible, 4);
  std::vector<absl::Status> created = OnNcclRanks(
      size, [](int r) { return r; },
      [size](NcclCollective& comm) {
        EXPECT_EQ(comm.backend_name(), "nccl");
        EXPECT_EQ(comm.size(), size);
        for (size_t length : comm_testing::GridLengths()) {
          comm_testing::CheckAllreduce(comm, length);
        }
        comm_testing::CheckBroadcast(comm);
        comm_testing::CheckGather(comm);
        comm_testing::CheckAllgather(comm);
      });
  for (const absl::Status& s : created) EXPECT_TRUE(s.ok()) << s;
  std::printf("NCCL %s, %d rank(s)\n", NcclCollective::NcclVersion().c_str(), size);
}

TEST(NcclCollective, DeviceWordsAreSummedInPlaceWithWraparound) {
  const int visible = Visible();
  if (visible < 1) GTEST_SKIP() << "no CUDA device visible";
  const int size = std::min(visible, 4);
  OnNcclRanks(
      size, [](int r) { return r; },
      [size](NcclCollective& comm) {
        constexpr size_t kWords = 1000;
        std::vector<uint32_t> host(kWords);
        for (size_t i = 0; i < kWords; ++i) host[i] = 0xFFFFFFFFu - static_cast<uint32_t>(i);
        uint32_t* device = nullptr;
        ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), kWords * sizeof(uint32_t)),
                  cudaSuccess);
        ASSERT_EQ(cudaMemcpy(device, host.data(), kWords * 4, cudaMemcpyHostToDevice), cudaSuccess);
        ASSERT_TRUE(comm.AllreduceSumOnDevice(device, kWords).ok());
        ASSERT_EQ(cudaMemcpy(host.data(), device, kWords * 4, cudaMemcpyDeviceToHost), cudaSuccess);
        cudaFree(device);
        for (size_t i = 0; i < kWords; ++i) {
          // size copies of (2^32 - 1 - i) sum to -size (i + 1) mod 2^32.
          ASSERT_EQ(host[i], static_cast<uint32_t>(0u - static_cast<uint32_t>(size) * (i + 1)))
              << "word " << i;
        }
        EXPECT_TRUE(comm.AllreduceSumOnDevice(static_cast<uint64_t*>(nullptr), 0).ok());
      });
}

}  // namespace
}  // namespace fedrec
