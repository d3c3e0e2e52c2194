// Deadlines on collective waits (comm/collective.h, "Deadlines") in the
// local-threads backend, and the per-rank timeouts of a job (deadline.h).
#include "comm/deadline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "comm/local_collective.h"
#include "tests/comm/collective_checks.h"

namespace fedrec {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct RankOutcome {
  absl::Status status;
  absl::Status later;  // a collective after the first one
  milliseconds took{0};
};

// Runs `body` on one thread per rank of a fresh group of `size`, rank r with
// timeout timeouts[r]; returns every rank's outcome.
std::vector<RankOutcome> RunRanks(int size, const std::vector<milliseconds>& timeouts,
                                  const std::function<void(Collective&, RankOutcome&)>& body) {
  std::unique_ptr<LocalCollectiveGroup> group = *LocalCollectiveGroup::Create(size);
  std::vector<RankOutcome> out(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      Collective& comm = group->rank(r);
      comm.set_timeout(timeouts.at(static_cast<size_t>(r)));
      const Clock::time_point start = Clock::now();
      body(comm, out[static_cast<size_t>(r)]);
      out[static_cast<size_t>(r)].took =
          std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    });
  }
  for (std::thread& t : threads) t.join();
  return out;
}

TEST(LocalDeadline, ALateRankIsNamedByTheOthersAndGetsTheErrorWhenItArrives) {
  const std::vector<RankOutcome> got =
      RunRanks(3, {milliseconds(300), milliseconds(300), milliseconds(300)},
               [](Collective& comm, RankOutcome& o) {
                 if (comm.rank() == 2) std::this_thread::sleep_for(milliseconds(1000));
                 std::vector<uint64_t> v(10, 1);
                 o.status = comm.AllreduceSum(std::span<uint64_t>(v));
                 o.later = comm.Barrier();
               });
  const std::string want = "rank 2 did not reach the allreduce within 0.3 s (stalled or stopped)";
  for (int r = 0; r < 3; ++r) {
    const RankOutcome& o = got[static_cast<size_t>(r)];
    EXPECT_EQ(o.status.code(), absl::StatusCode::kDeadlineExceeded) << "rank " << r;
    EXPECT_EQ(o.status.message(), want) << "rank " << r;
    EXPECT_EQ(o.later, o.status) << "rank " << r << ": the group stays broken";
  }
  // The waiting ranks gave up at their deadline, not when rank 2 came.
  EXPECT_LT(got[0].took, milliseconds(900));
  EXPECT_LT(got[1].took, milliseconds(900));
  EXPECT_GE(got[2].took, milliseconds(1000));
}

TEST(LocalDeadline, EveryMissingRankIsNamed) {
  const std::vector<RankOutcome> got = RunRanks(4, std::vector<milliseconds>(4, milliseconds(200)),
                                                [](Collective& comm, RankOutcome& o) {
                                                  if (comm.rank() >= 2)
                                                    std::this_thread::sleep_for(milliseconds(600));
                                                  o.status = comm.Gather("x", 0).status();
                                                });
  for (const RankOutcome& o : got) {
    EXPECT_EQ(o.status.message(),
              "ranks 2, 3 did not reach the gather within 0.2 s (stalled or stopped)");
  }
}

// With the job's timeouts (rank 0 exact, the others a grace longer), rank 0
// is the one that gives up and its message, naming the late rank, is what
// every rank returns.
TEST(LocalDeadline, RankZeroNamesTheStalledRankBeforeTheOthersGiveUp) {
  std::vector<milliseconds> timeouts;
  for (int r = 0; r < 3; ++r) timeouts.push_back(TimeoutForRank(milliseconds(200), r));
  EXPECT_EQ(timeouts[1], milliseconds(5200));
  const std::vector<RankOutcome> got = RunRanks(3, timeouts, [](Collective& comm, RankOutcome& o) {
    std::string bytes = comm.rank() == 0 ? "command" : "";
    o.status = comm.Broadcast(&bytes, 0);  // every rank is on time here
    EXPECT_EQ(bytes, "command");
    if (comm.rank() == 1) std::this_thread::sleep_for(milliseconds(1000));
    o.status.Update(comm.Allgather("reply").status());
  });
  for (const RankOutcome& o : got) {
    EXPECT_EQ(o.status.message(),
              "rank 1 did not reach the allgather within 0.2 s (stalled or stopped)");
  }
  EXPECT_LT(got[2].took, milliseconds(900));  // rank 2 did not wait out its grace
}

TEST(LocalDeadline, ATimeoutChangesNoResult) {
  for (int size : {1, 2, 3, 4}) {
    RunRanks(size, std::vector<milliseconds>(static_cast<size_t>(size), milliseconds(30000)),
             [](Collective& comm, RankOutcome&) {
               for (size_t length : comm_testing::GridLengths()) {
                 comm_testing::CheckAllreduce(comm, length);
               }
               comm_testing::CheckBroadcast(comm);
               comm_testing::CheckGather(comm);
               comm_testing::CheckAllgather(comm);
               EXPECT_TRUE(comm.Barrier().ok());
             });
  }
}

TEST(LocalDeadline, ZeroTimeoutWaitsForever) {
  const std::vector<RankOutcome> got = RunRanks(
      3, std::vector<milliseconds>(3, milliseconds(0)), [](Collective& comm, RankOutcome& o) {
        if (comm.rank() == 1) std::this_thread::sleep_for(milliseconds(200));
        std::vector<uint32_t> v(3, 2);
        o.status = comm.AllreduceSum(std::span<uint32_t>(v));
        EXPECT_EQ(v, std::vector<uint32_t>(3, 6));
        o.later = comm.Barrier();
      });
  for (const RankOutcome& o : got) {
    EXPECT_TRUE(o.status.ok()) << o.status;
    EXPECT_TRUE(o.later.ok()) << o.later;
    EXPECT_GE(o.took, milliseconds(150));  // waited (threads start a little apart)
  }
}

TEST(LocalDeadline, ARankOnTimeIsNotHurriedByAShortTimeout) {
  // Many collectives, each well inside a short deadline: none breaks.
  RunRanks(3, std::vector<milliseconds>(3, milliseconds(2000)), [](Collective& comm, RankOutcome&) {
    for (int i = 0; i < 200; ++i) {
      std::vector<uint64_t> v(17, static_cast<uint64_t>(comm.rank()));
      ASSERT_TRUE(comm.AllreduceSum(std::span<uint64_t>(v)).ok());
      ASSERT_EQ(v[16], 3u);
    }
  });
}

TEST(Deadline, TimeoutForRankGivesTheOtherRanksAGrace) {
  EXPECT_EQ(TimeoutForRank(milliseconds(60000), 0), milliseconds(60000));
  EXPECT_EQ(TimeoutForRank(milliseconds(30000), 1), milliseconds(35000));    // 5 s at least
  EXPECT_EQ(TimeoutForRank(milliseconds(600000), 3), milliseconds(660000));  // 10%
  EXPECT_EQ(TimeoutForRank(milliseconds(0), 2), milliseconds(0));  // no deadline stays none
}

TEST(Deadline, DurationsReadAsSeconds) {
  EXPECT_EQ(DurationText(milliseconds(60000)), "60 s");
  EXPECT_EQ(DurationText(milliseconds(1500)), "1.5 s");
  EXPECT_EQ(DurationText(milliseconds(250)), "0.25 s");
  EXPECT_EQ(DurationText(milliseconds(1)), "0.001 s");
}

}  // namespace
}  // namespace fedrec
