// The evaluation protocol ranked on a TensorOps backend
// (models/cuda/device_ranking.h), run on HostTensorOps against the CPU
// model's own scores, for SASRec and GRU4Rec: every query's counts for the
// full protocol (several item blocks, histories longer than max_len,
// repeats, NaN scores) and for sampled candidates, and Evaluate through a
// device model against the CPU path.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/random.h"
#include "models/cuda/device_gru4rec_model.h"
#include "models/cuda/device_ranking.h"
#include "models/cuda/device_sasrec_model.h"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/sasrec_device.h"
#include "models/evaluation.h"
#include "models/sasrec_impl.h"
#include "tests/testing/fixtures.h"

namespace fedrec {
namespace {

using ::fedrec::testing::SequenceDataset;

constexpr uint32_t kItems = 150;

// Users of 1 to 20 items (some too short to evaluate), with repeats.
Dataset MixedDataset(uint32_t users, uint64_t seed) {
  std::vector<std::vector<uint32_t>> seqs(users);
  for (uint32_t u = 0; u < users; ++u) {
    RandomStream s({.seed = seed, .purpose = "test_seq", .client = u});
    const uint32_t len = 1 + s.NextBelow(20);
    for (uint32_t t = 0; t < len; ++t) {
      const bool repeat = t > 0 && s.NextBelow(4) == 0;
      seqs[u].push_back(repeat ? seqs[u][s.NextBelow(t)] : s.NextBelow(kItems));
    }
  }
  return SequenceDataset(seqs, kItems);
}

std::unique_ptr<SasRecModel> Model(bool pre_ln, bool separate_output) {
  SasRecOptions o;
  o.num_items = kItems;
  o.dim = 16;
  o.blocks = 2;
  o.heads = 2;
  o.max_len = 8;
  o.dropout = 0.3;  // off in ranking
  o.pre_ln = pre_ln;
  o.separate_output = separate_output;
  auto model = SasRecModel::Create(o);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->Initialize(3);
  return std::move(*model);
}

std::unique_ptr<Gru4RecModel> GruModel(bool separate_output) {
  Gru4RecOptions o;
  o.num_items = kItems;
  o.dim = 16;
  o.layers = 2;
  o.max_len = 8;
  o.dropout = 0.3f;  // off in ranking
  o.separate_output = separate_output;
  o.init_std = 0.5f;
  auto model = Gru4RecModel::Create(o);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->Initialize(4);
  return std::move(*model);
}

kernels::TensorOpsFactory HostOps() {
  return []() -> absl::StatusOr<std::unique_ptr<kernels::TensorOps>> {
    return kernels::NewHostTensorOps();
  };
}

struct Counts {
  uint64_t greater = 0, ties = 0;
};

// The protocol written out on the CPU model's scores.
Counts CpuCounts(const Scorer& model, const RankQuery& q) {
  std::vector<float> scores(kItems);
  model.ScoreAll(0, q.history, scores);
  const float t = scores[q.target];
  Counts c;
  auto count = [&](float other) {
    if (std::isnan(t) || other > t) {
      ++c.greater;
    } else if (other == t) {
      ++c.ties;
    }
  };
  if (!q.candidates.empty()) {
    for (const uint32_t item : q.candidates) count(scores[item]);
    return c;
  }
  std::vector<uint8_t> left_out(kItems, 0);
  for (const uint32_t item : q.history) left_out[item] = 1;
  left_out[q.target] = 1;
  for (uint32_t i = 0; i < kItems; ++i) {
    if (left_out[i] == 0) count(scores[i]);
  }
  return c;
}

// Full queries for users 0, 2, 4, ... and sampled ones (20 candidates, with
// repeats, some from the history) for the others.
struct Queries {
  explicit Queries(const LeaveOneOutSplit& split) {
    const Dataset& data = split.data();
    candidates.resize(data.num_users());
    for (uint32_t u = 0; u < data.num_users(); ++u) {
      if (!split.IsEvaluable(u)) continue;
      RankQuery q{.history = split.Input(u, SplitPart::kTest),
                  .target = split.Target(u, SplitPart::kTest),
                  .candidates = {}};
      if (u % 2 == 1) {
        RandomStream s({.seed = 9, .purpose = "test_candidates", .client = u});
        for (int j = 0; j < 20; ++j) candidates[u].push_back(s.NextBelow(kItems));
        candidates[u].push_back(q.history.front());
        q.candidates = candidates[u];
      }
      list.push_back(q);
    }
  }
  std::vector<std::vector<uint32_t>> candidates;
  std::vector<RankQuery> list;
};

std::vector<Counts> SessionCounts(RankingSession& session, std::span<const RankQuery> queries) {
  std::vector<Counts> out;
  std::vector<uint64_t> greater(session.max_batch()), ties(session.max_batch());
  for (size_t b = 0; b < queries.size(); b += session.max_batch()) {
    const size_t n = std::min(session.max_batch(), queries.size() - b);
    const absl::Status s =
        session.Rank(queries.subspan(b, n), std::span(greater).first(n), std::span(ties).first(n));
    EXPECT_TRUE(s.ok()) << s;
    for (size_t q = 0; q < n; ++q) out.push_back({greater[q], ties[q]});
  }
  return out;
}

// Scores differ from the CPU's by float rounding only: a count may move
// where two scores nearly tie, rarely and by little.
void ExpectNearlyTheCpuCounts(const Scorer& model, std::span<const RankQuery> queries,
                              const std::vector<Counts>& got) {
  ASSERT_EQ(got.size(), queries.size());
  size_t moved = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    const Counts want = CpuCounts(model, queries[q]);
    if (got[q].greater == want.greater && got[q].ties == want.ties) continue;
    ++moved;
    EXPECT_LE(std::llabs(static_cast<long long>(got[q].greater - want.greater)), 1) << q;
  }
  EXPECT_LE(moved, queries.size() / 50) << "of " << queries.size();
}

class SasRecRankingTest : public ::testing::TestWithParam<std::pair<bool, bool>> {};

TEST_P(SasRecRankingTest, CountsMatchTheCpuModel) {
  const auto [pre_ln, separate_output] = GetParam();
  const Dataset data = MixedDataset(300, 5);
  const LeaveOneOutSplit split(data);
  const std::unique_ptr<SasRecModel> model = Model(pre_ln, separate_output);
  const Queries queries(split);
  ASSERT_GT(queries.list.size(), 200u);
  // Blocks of 64 items: two whole and one of 22.
  auto session =
      kernels::NewRankingSessionOnDevice(*model, HostOps(), {.max_batch = 32, .item_block = 64});
  ASSERT_TRUE(session.ok()) << session.status();
  ExpectNearlyTheCpuCounts(*model, queries.list, SessionCounts(**session, queries.list));
}

INSTANTIATE_TEST_SUITE_P(Blocks, SasRecRankingTest,
                         ::testing::Values(std::pair{false, false}, std::pair{true, false},
                                           std::pair{false, true}));

TEST(SasRecRanking, NanScoresRankAsTheCpuRanksThem) {
  const Dataset data = MixedDataset(200, 7);
  const LeaveOneOutSplit split(data);
  std::unique_ptr<SasRecModel> model = Model(false, false);
  // Item 5's row is NaN: as a target it ranks below every competitor; as a
  // competitor it counts in neither number.
  TensorView emb = model->global_params().ViewAt(sasrec_internal::kItemEmb);
  for (size_t j = 0; j < 16; ++j) emb.data[5 * 16 + j] = std::numeric_limits<float>::quiet_NaN();
  const Queries queries(split);
  std::vector<RankQuery> list = queries.list;
  std::vector<uint32_t> history = {1, 2, 3};
  const std::vector<uint32_t> some = {5, 6, 5};
  list.push_back({.history = history, .target = 5, .candidates = {}});
  list.push_back({.history = history, .target = 5, .candidates = some});
  list.push_back({.history = history, .target = 7, .candidates = some});
  auto session =
      kernels::NewRankingSessionOnDevice(*model, HostOps(), {.max_batch = 64, .item_block = 100});
  ASSERT_TRUE(session.ok()) << session.status();
  const std::vector<Counts> got = SessionCounts(**session, list);
  const size_t n = list.size();
  EXPECT_EQ(got[n - 3].greater, kItems - 4);  // all but the history and the target
  EXPECT_EQ(got[n - 3].ties, 0u);
  EXPECT_EQ(got[n - 2].greater, 3u);
  EXPECT_LE(got[n - 1].greater + got[n - 1].ties, 1u);  // item 6 alone counts
  ExpectNearlyTheCpuCounts(*model, list, got);
}

TEST(SasRecRanking, RefusesWhatItCannotRank) {
  const std::unique_ptr<SasRecModel> model = Model(false, false);
  auto session = kernels::NewRankingSessionOnDevice(*model, HostOps(), {.max_batch = 2});
  ASSERT_TRUE(session.ok()) << session.status();
  const std::vector<uint32_t> history = {1, 2};
  std::vector<uint64_t> g(3), t(3);
  std::vector<RankQuery> three(3, RankQuery{.history = history, .target = 4, .candidates = {}});
  EXPECT_EQ((*session)->Rank(three, g, t).code(), absl::StatusCode::kInvalidArgument);
  std::vector<RankQuery> bad(1, RankQuery{.history = history, .target = kItems, .candidates = {}});
  EXPECT_EQ((*session)->Rank(bad, std::span(g).first(1), std::span(t).first(1)).code(),
            absl::StatusCode::kInvalidArgument);

  SasRecOptions o = model->options();
  // Another loss trains differently but ranks through the same forward.
  o.loss = SasRecLoss::kCe;
  auto ce = SasRecModel::Create(o);
  ASSERT_TRUE(ce.ok()) << ce.status();
  EXPECT_TRUE(kernels::NewRankingSessionOnDevice(**ce, HostOps()).ok());
  o.normalize = true;
  auto cosine = SasRecModel::Create(o);
  ASSERT_TRUE(cosine.ok()) << cosine.status();
  EXPECT_FALSE(kernels::RankableOnDevice(**cosine));
  EXPECT_EQ(kernels::NewRankingSessionOnDevice(**cosine, HostOps()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SasRecRanking, PackHistoriesRightAlignsTheLastItems) {
  const std::vector<uint32_t> a = {1, 2, 3, 4, 5}, b = {7}, none;
  const std::vector<std::span<const uint32_t>> h = {a, b, none};
  const kernels::SasRecWindowBatch w = kernels::SasRecWindowBatch::PackHistories(h, 3);
  const uint32_t x = kernels::kNoItem;
  EXPECT_EQ(w.inputs, (std::vector<uint32_t>{3, 4, 5, x, x, 7, x, x, x}));
  EXPECT_EQ(w.first, (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(w.targets, std::vector<uint32_t>(9, x));
}

// Evaluate through a device model ranks on its backend, with the CPU path's
// users, negatives and skips; the metrics agree up to moved near-ties.
TEST(SasRecRanking, EvaluateOnADeviceModelMatchesTheCpuPath) {
  const Dataset data = MixedDataset(300, 11);
  const LeaveOneOutSplit split(data);
  std::unique_ptr<SasRecModel> cpu = Model(true, false);
  const SasRecModel& reference = *cpu;
  auto device = DeviceSasRecModel::Create(Model(true, false), HostOps(), "host");
  ASSERT_TRUE(device.ok()) << device.status();
  for (const EvalProtocol protocol : {EvalProtocol::kFull, EvalProtocol::kSampled}) {
    EvalOptions opt;
    opt.protocol = protocol;
    opt.negatives = 30;
    opt.part = SplitPart::kValidation;
    auto want = Evaluate(reference, split, opt);
    auto got = Evaluate(**device, split, opt);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(got->sums.users, want->sums.users);
    EXPECT_EQ(got->skipped_users, want->skipped_users);
    EXPECT_NEAR(got->Mean().hr, want->Mean().hr, 0.01);
    EXPECT_NEAR(got->Mean().ndcg, want->Mean().ndcg, 0.01);
    EXPECT_NEAR(got->Mean().mrr, want->Mean().mrr, 0.01);
    // Without the backend's ranking, the device model is the CPU model.
    opt.scorer_ranking = false;
    auto cpu_path = Evaluate(**device, split, opt);
    ASSERT_TRUE(cpu_path.ok());
    EXPECT_EQ(cpu_path->sums.hr, want->sums.hr);
    EXPECT_EQ(cpu_path->sums.ndcg, want->sums.ndcg);
  }
}

class Gru4RecRankingTest : public ::testing::TestWithParam<bool> {};

TEST_P(Gru4RecRankingTest, CountsMatchTheCpuModel) {
  const Dataset data = MixedDataset(300, 6);
  const LeaveOneOutSplit split(data);
  const std::unique_ptr<Gru4RecModel> model = GruModel(GetParam());
  const Queries queries(split);
  ASSERT_GT(queries.list.size(), 200u);
  auto session =
      kernels::NewRankingSessionOnDevice(*model, HostOps(), {.max_batch = 32, .item_block = 64});
  ASSERT_TRUE(session.ok()) << session.status();
  ExpectNearlyTheCpuCounts(*model, queries.list, SessionCounts(**session, queries.list));
}

INSTANTIATE_TEST_SUITE_P(OutputTable, Gru4RecRankingTest, ::testing::Values(false, true));

// A device GRU4Rec ranks on its backend, with the CPU path's users and
// skips; cosine scores rank on the CPU.
TEST(Gru4RecRanking, EvaluateOnADeviceModelMatchesTheCpuPath) {
  const Dataset data = MixedDataset(300, 12);
  const LeaveOneOutSplit split(data);
  std::unique_ptr<Gru4RecModel> cpu = GruModel(false);
  auto device = DeviceGru4RecModel::Create(GruModel(false), HostOps(), "host");
  ASSERT_TRUE(device.ok()) << device.status();
  auto session = (*device)->StartRanking();
  ASSERT_TRUE(session.ok() && *session != nullptr);
  for (const EvalProtocol protocol : {EvalProtocol::kFull, EvalProtocol::kSampled}) {
    EvalOptions opt;
    opt.protocol = protocol;
    opt.negatives = 30;
    opt.part = SplitPart::kValidation;
    auto want = Evaluate(*cpu, split, opt);
    auto got = Evaluate(**device, split, opt);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(got->sums.users, want->sums.users);
    EXPECT_EQ(got->skipped_users, want->skipped_users);
    EXPECT_NEAR(got->Mean().hr, want->Mean().hr, 0.01);
    EXPECT_NEAR(got->Mean().ndcg, want->Mean().ndcg, 0.01);
  }
  Gru4RecOptions o = cpu->options();
  o.loss = SeqLoss::kCe;
  o.negatives = 8;
  o.normalize = true;
  auto cosine = Gru4RecModel::Create(o);
  ASSERT_TRUE(cosine.ok()) << cosine.status();
  EXPECT_FALSE(kernels::RankableOnDevice(**cosine));
  o.normalize = false;
  auto ce = Gru4RecModel::Create(o);
  ASSERT_TRUE(ce.ok()) << ce.status();
  EXPECT_TRUE(kernels::NewRankingSessionOnDevice(**ce, HostOps()).ok());
}

}  // namespace
}  // namespace fedrec
