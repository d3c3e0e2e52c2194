// RunSecureSum over LocalCollectiveGroup: 1, 2 and 4 worker ranks (plus the
// server, rank 0), worker and client scope, complete and Harary graphs,
// 32- and 64-bit rings; dropouts before upload and before unmasking; aborts
// below the threshold; authentication.
#include "aggregation/secure_sum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include "comm/local_collective.h"

namespace fedrec::secagg {
namespace {

// One simulated participant: where it lives and how it behaves.
struct Spec {
  uint64_t id;
  int rank;  // hosting rank, >= 1 (or 0 in a 1-rank group)
  bool drop_upload = false;
  bool drop_unmask = false;
};

template <typename Word>
std::vector<Word> InputOf(uint64_t id, size_t length) {
  std::mt19937_64 gen(id * 7919 + 1);
  std::vector<Word> v(length);
  for (Word& w : v) w = static_cast<Word>(gen());
  return v;
}

template <typename Word>
struct GroupRun {
  std::vector<absl::StatusOr<SecureSumResult<Word>>> per_rank;
  std::vector<Word> expected;          // plain sum over the participants that upload
  std::vector<uint64_t> expected_ids;  // sorted
};

// Runs one round on `ranks` ranks (threads); participants as in `specs`.
template <typename Word>
GroupRun<Word> RunGroup(int ranks, const std::vector<Spec>& specs, const SecaggParams& params,
                        size_t length, uint64_t round = 3) {
  GroupRun<Word> out;
  out.expected.assign(length, 0);
  std::vector<std::vector<Word>> inputs;
  inputs.reserve(specs.size());
  for (const Spec& s : specs) {
    inputs.push_back(InputOf<Word>(s.id, length));
    if (!s.drop_upload) {
      for (size_t i = 0; i < length; ++i) out.expected[i] += inputs.back()[i];
      out.expected_ids.push_back(s.id);
    }
  }
  std::sort(out.expected_ids.begin(), out.expected_ids.end());
  auto group = LocalCollectiveGroup::Create(ranks);
  EXPECT_TRUE(group.ok());
  out.per_rank.assign(static_cast<size_t>(ranks), absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      std::vector<HostedParticipant<Word>> hosted;
      for (size_t i = 0; i < specs.size(); ++i) {
        if (specs[i].rank != r) continue;
        hosted.push_back({specs[i].id, inputs[i], specs[i].drop_upload, specs[i].drop_unmask});
      }
      out.per_rank[static_cast<size_t>(r)] =
          RunSecureSum<Word>((*group)->rank(r), params, round,
                             std::span<const HostedParticipant<Word>>(hosted), length);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

// Participants: worker scope = one per worker rank (id = worker index);
// client scope = `clients` users dealt round-robin over the worker ranks.
std::vector<Spec> Specs(int workers, bool client_scope, int clients) {
  std::vector<Spec> specs;
  const int ranks = workers + 1;
  if (!client_scope) {
    for (int w = 0; w < workers; ++w) specs.push_back({static_cast<uint64_t>(w), w + 1});
  } else {
    for (int c = 0; c < clients; ++c) {
      specs.push_back({static_cast<uint64_t>(1000 + 37 * c), 1 + c % (ranks - 1)});
    }
  }
  return specs;
}

template <typename Word>
void ExpectExact(const GroupRun<Word>& run, size_t participants) {
  for (size_t r = 0; r < run.per_rank.size(); ++r) {
    ASSERT_TRUE(run.per_rank[r].ok()) << "rank " << r << ": " << run.per_rank[r].status();
    const SecureSumResult<Word>& res = *run.per_rank[r];
    EXPECT_FALSE(res.aborted) << res.abort_reason;
    EXPECT_EQ(res.stats.participants, static_cast<int64_t>(participants));
    EXPECT_EQ(res.stats.survivors, static_cast<int64_t>(run.expected_ids.size()));
    if (r == 0) {
      EXPECT_TRUE(res.sum == run.expected) << "sum differs from the plain sum";
      EXPECT_EQ(res.included_ids, run.expected_ids);
    } else {
      EXPECT_TRUE(res.sum.empty());
    }
  }
}

template <typename Word>
void ExpectAborted(const GroupRun<Word>& run, int64_t participants) {
  for (size_t r = 0; r < run.per_rank.size(); ++r) {
    ASSERT_TRUE(run.per_rank[r].ok()) << "rank " << r << ": " << run.per_rank[r].status();
    EXPECT_TRUE(run.per_rank[r]->aborted) << "rank " << r;
    EXPECT_FALSE(run.per_rank[r]->abort_reason.empty());
    EXPECT_TRUE(run.per_rank[r]->sum.empty());
    EXPECT_TRUE(run.per_rank[r]->included_ids.empty());
    EXPECT_EQ(run.per_rank[r]->stats.participants, participants);
  }
}

// The grid: workers x scope x graph x bits; no dropouts: the result equals
// the plain sum bitwise.
class SecureSumGridTest : public ::testing::TestWithParam<std::tuple<int, bool, std::string, int>> {
};

TEST_P(SecureSumGridTest, EqualsPlainSum) {
  const auto [workers, client_scope, graph, bits] = GetParam();
  SecaggParams params;
  params.bits = bits;
  params.graph = graph;
  const std::vector<Spec> specs = Specs(workers, client_scope, 13);
  const size_t length = 3001;
  if (bits == 32) {
    ExpectExact(RunGroup<uint32_t>(workers + 1, specs, params, length), specs.size());
  } else {
    ExpectExact(RunGroup<uint64_t>(workers + 1, specs, params, length), specs.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Grid, SecureSumGridTest,
                         ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Bool(),
                                            ::testing::Values(std::string("complete"),
                                                              std::string("harary")),
                                            ::testing::Values(32, 64)),
                         [](const auto& info) {
                           return "w" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_client_" : "_worker_") +
                                  std::get<2>(info.param) + "_b" +
                                  std::to_string(std::get<3>(info.param));
                         });

// A single rank: the server hosts the only participants itself.
TEST(SecureSumTest, SingleRankHostsEverything) {
  SecaggParams params;
  std::vector<Spec> specs = {{5, 0}, {9, 0}, {11, 0}};
  ExpectExact(RunGroup<uint32_t>(1, specs, params, 100), 3);
  std::vector<Spec> one = {{5, 0}};
  params.bits = 64;
  ExpectExact(RunGroup<uint64_t>(1, one, params, 100), 1);
}

// 30% of 20 clients drop after key setup (before upload); complete graph,
// t = 11 of 20: the threshold is met and the sum is the plain sum over the
// survivors.
TEST(SecureSumTest, DropoutBeforeUploadAboveThreshold) {
  for (int bits : {32, 64}) {
    SecaggParams params;
    params.bits = bits;
    params.expected_dropout = 0.3;
    std::vector<Spec> specs = Specs(2, true, 20);
    for (size_t i : {1, 4, 7, 10, 13, 16}) specs[i].drop_upload = true;
    if (bits == 32) {
      ExpectExact(RunGroup<uint32_t>(3, specs, params, 2000), 20);
    } else {
      ExpectExact(RunGroup<uint64_t>(3, specs, params, 2000), 20);
    }
  }
}

// Harary graph, degree 12 (neighbourhood 13, t = 7): any 6 dropouts leave
// every neighbourhood at least 7 survivors, wherever the server places them.
TEST(SecureSumTest, DropoutHararyAboveThreshold) {
  SecaggParams params;
  params.graph = "harary";
  params.degree = 12;
  params.expected_dropout = 0.3;
  std::vector<Spec> specs = Specs(4, true, 20);
  for (size_t i : {0, 3, 6, 9, 12, 15}) specs[i].drop_upload = true;
  ExpectExact(RunGroup<uint32_t>(5, specs, params, 1500), 20);
}

// Below the threshold (10 of 20 drop, t = 11): the round aborts on every
// rank and nothing is released.
TEST(SecureSumTest, DropoutBelowThresholdAborts) {
  SecaggParams params;
  std::vector<Spec> specs = Specs(2, true, 20);
  for (size_t i = 0; i < 10; ++i) specs[2 * i].drop_upload = true;
  ExpectAborted(RunGroup<uint32_t>(3, specs, params, 500), 20);
  // Worker scope with 2 workers: t = 2 of 2, one drop aborts.
  std::vector<Spec> workers = Specs(2, false, 0);
  workers[1].drop_upload = true;
  ExpectAborted(RunGroup<uint64_t>(3, workers, SecaggParams{.bits = 64}, 500), 2);
}

// Dropouts before unmasking: the inputs are in the sum and their self masks
// are reconstructed from the other survivors' shares. Mixed with dropouts
// before upload.
TEST(SecureSumTest, DropoutBeforeUnmask) {
  SecaggParams params;
  params.threshold = 0.6;  // t = 12 of 20
  std::vector<Spec> specs = Specs(4, true, 20);
  for (size_t i : {2, 5, 8}) specs[i].drop_unmask = true;
  for (size_t i : {11, 14, 17}) specs[i].drop_upload = true;
  ExpectExact(RunGroup<uint32_t>(5, specs, params, 1000), 20);
  // Too many vanish before unmasking: fewer than t shares of some secret.
  std::vector<Spec> many = Specs(2, true, 20);
  for (size_t i = 0; i < 9; ++i) many[2 * i].drop_unmask = true;
  ExpectAborted(RunGroup<uint32_t>(3, many, params, 100), 20);
}

// authenticate = true: a normal round works and equals the plain sum.
TEST(SecureSumTest, AuthenticatedRound) {
  SecaggParams params;
  params.authenticate = true;
  params.graph = "harary";
  std::vector<Spec> specs = Specs(2, true, 12);
  ExpectExact(RunGroup<uint32_t>(3, specs, params, 700), 12);
}

// A rank-local error reaches every rank as the same error, without hangs.
TEST(SecureSumTest, BadInputIsReportedOnEveryRank) {
  SecaggParams params;
  auto group = LocalCollectiveGroup::Create(3);
  ASSERT_TRUE(group.ok());
  std::vector<absl::Status> status(3);
  std::vector<uint32_t> good(10, 1), bad(9, 1);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      std::vector<HostedParticipant<uint32_t>> hosted;
      if (r == 1) hosted.push_back({1, good});
      if (r == 2) hosted.push_back({2, bad});
      status[static_cast<size_t>(r)] =
          RunSecureSum<uint32_t>((*group)->rank(r), params, 0,
                                 std::span<const HostedParticipant<uint32_t>>(hosted), 10)
              .status();
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& s : status) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  // Params are checked before any communication.
  SecaggParams wrong;
  wrong.bits = 64;
  auto one = LocalCollectiveGroup::Create(1);
  std::vector<HostedParticipant<uint32_t>> none;
  EXPECT_EQ(RunSecureSum<uint32_t>((*one)->rank(0), wrong, 0,
                                   std::span<const HostedParticipant<uint32_t>>(none), 1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// Ids must be unique in the round, across ranks.
TEST(SecureSumTest, DuplicateIdsAcrossRanksAreRefused) {
  std::vector<Spec> specs = {{4, 1}, {4, 2}};
  GroupRun<uint32_t> run = RunGroup<uint32_t>(3, specs, SecaggParams{}, 10);
  for (const auto& r : run.per_rank)
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedrec::secagg
