// Run under mpirun (ctest: comm_mpi_np{2,3,4}). Every rank runs every test;
// rank 0 prints gtest's output, other ranks print only their failures, and
// the exit code is the same on all ranks: non-zero if any rank failed.
#include "comm/mpi_collective.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "comm/deadline.h"
#include "tests/comm/collective_checks.h"

namespace fedrec {
namespace {

// Created in main() before RUN_ALL_TESTS, destroyed (finalising MPI) after.
MpiCollective* g_comm = nullptr;

TEST(MpiCollectiveTest, Basics) {
  EXPECT_EQ(g_comm->backend_name(), "mpi");
  EXPECT_GE(g_comm->size(), 2);
  EXPECT_TRUE(LaunchedUnderMpirun());
  EXPECT_EQ(MpirunWorldSize(), g_comm->size());
  EXPECT_TRUE(g_comm->Barrier().ok());
}

TEST(MpiCollectiveTest, AllreduceGrid) {
  for (size_t length : comm_testing::GridLengths()) comm_testing::CheckAllreduce(*g_comm, length);
}

TEST(MpiCollectiveTest, BroadcastGatherAllgather) {
  comm_testing::CheckBroadcast(*g_comm);
  comm_testing::CheckGather(*g_comm);
  comm_testing::CheckAllgather(*g_comm);
}

// A second collective on the same (already initialised) MPI with a 1000
// element chunk: spans and broadcasts longer than a chunk go in pieces.
TEST(MpiCollectiveTest, SmallChunksGiveTheSameResults) {
  absl::StatusOr<std::unique_ptr<MpiCollective>> small =
      MpiCollective::Create(MPI_COMM_WORLD, 1000);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ((*small)->max_chunk_elements(), 1000u);
  EXPECT_EQ((*small)->rank(), g_comm->rank());
  for (size_t length : {size_t{999}, size_t{1000}, size_t{1001}, size_t{4567}}) {
    comm_testing::CheckAllreduce(**small, length);
  }
  comm_testing::CheckBroadcast(**small);  // 5000-byte messages: 5 chunks
}

TEST(MpiCollectiveTest, RefusesBadArguments) {
  EXPECT_EQ(MpiCollective::Create(MPI_COMM_WORLD, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string bytes;
  EXPECT_EQ(g_comm->Broadcast(&bytes, g_comm->size()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g_comm->Gather("", -1).status().code(), absl::StatusCode::kInvalidArgument);
}

// Every collective is non-blocking and polled under a deadline: with one set,
// the results are the same closed forms.
TEST(MpiCollectiveTest, ATimeoutChangesNoResult) {
  absl::StatusOr<std::unique_ptr<MpiCollective>> timed =
      MpiCollective::Create(MPI_COMM_WORLD, 1000);
  ASSERT_TRUE(timed.ok()) << timed.status();
  (*timed)->set_timeout(TimeoutForRank(std::chrono::milliseconds(60000), g_comm->rank()));
  for (size_t length : {size_t{0}, size_t{5}, size_t{4567}}) {
    comm_testing::CheckAllreduce(**timed, length);
  }
  comm_testing::CheckBroadcast(**timed);
  comm_testing::CheckGather(**timed);
  comm_testing::CheckAllgather(**timed);
  EXPECT_TRUE((*timed)->Barrier().ok());
}

// The last rank reaches a barrier 2 s late; rank 0 waits 0.5 s and names it,
// the other ranks (a 5 s grace longer) complete, and so does the late rank.
TEST(MpiCollectiveTest, RankZeroNamesARankThatDidNotArrive) {
  using std::chrono::milliseconds;
  absl::StatusOr<std::unique_ptr<MpiCollective>> late = MpiCollective::Create();
  ASSERT_TRUE(late.ok()) << late.status();
  const int rank = g_comm->rank();
  const int last = g_comm->size() - 1;
  (*late)->set_timeout(TimeoutForRank(milliseconds(500), rank));
  EXPECT_TRUE((*late)->Barrier().ok());  // everyone on time
  if (rank == last) std::this_thread::sleep_for(milliseconds(2000));
  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = (*late)->Barrier();
  const auto waited = std::chrono::steady_clock::now() - start;
  if (rank == 0) {
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(status.message(), "rank " + std::to_string(last) +
                                    " did not reach the barrier within 0.5 s (stalled or stopped)");
    EXPECT_LT(waited, milliseconds(1500));
    EXPECT_EQ((*late)->Barrier(), status);  // broken from here on, without waiting
  } else {
    EXPECT_TRUE(status.ok()) << status;
  }
  // Every rank's barrier request is complete before `late` is freed.
  EXPECT_TRUE(g_comm->Barrier().ok());
}

// Non-zero ranks: print failed assertions only, prefixed with the rank.
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                 result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.summary());
  }

 private:
  int rank_;
};

}  // namespace
}  // namespace fedrec

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::StatusOr<std::unique_ptr<fedrec::MpiCollective>> comm = fedrec::MpiCollective::Create();
  if (!comm.ok()) {
    std::fprintf(stderr, "comm_mpi_test: %s\n", std::string(comm.status().ToString()).c_str());
    return 1;
  }
  fedrec::g_comm = comm->get();
  const int rank = fedrec::g_comm->rank();
  if (rank != 0) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new fedrec::FailurePrinter(rank));
  }
  const int local = RUN_ALL_TESTS() != 0 ? 1 : 0;
  uint32_t failures = static_cast<uint32_t>(local);
  absl::Status status = fedrec::g_comm->AllreduceSum(std::span<uint32_t>(&failures, 1));
  if (!status.ok()) {
    std::fprintf(stderr, "comm_mpi_test: %s\n", std::string(status.ToString()).c_str());
    return 1;
  }
  if (rank == 0 && failures != 0) {
    std::fprintf(stderr, "comm_mpi_test: %u rank(s) failed\n", failures);
  }
  fedrec::g_comm = nullptr;
  comm->reset();  // finalises MPI
  return failures == 0 ? 0 : 1;
}
