#include "data/partition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/loader.h"
#include "data/synth.h"
#include "tests/testing/stats.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::fedrec::testing::ChiSquareUniform;
using ::fedrec::testing::TempDir;

// n users with original ids spread over 64 bits, one interaction each.
Dataset ManyUsers(uint32_t n) {
  Dataset d;
  d.item_ids = {0};
  d.offsets.push_back(0);
  for (uint32_t u = 0; u < n; ++u) {
    d.user_ids.push_back(uint64_t{u} * 7919 + 13);
    d.items.push_back(0);
    d.timestamps.push_back(0);
    d.ratings.push_back(1);
    d.offsets.push_back(d.items.size());
  }
  return d;
}

std::vector<uint64_t> Sizes(const std::vector<uint32_t>& assignment, uint32_t w) {
  std::vector<uint64_t> sizes(w);
  for (uint32_t x : assignment) ++sizes[x];
  return sizes;
}

TEST(PartitionSpec, ParsesAndRefuses) {
  EXPECT_EQ(ParsePartitionSpec("hash")->kind, PartitionKind::kHash);
  EXPECT_EQ(ParsePartitionSpec("contiguous")->kind, PartitionKind::kContiguous);
  auto d = ParsePartitionSpec("dirichlet:0.5");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, PartitionKind::kDirichlet);
  EXPECT_EQ(d->alpha, 0.5);
  EXPECT_EQ(d->groups, 10u);
  EXPECT_EQ(ParsePartitionSpec("dirichlet:2:7")->groups, 7u);
  EXPECT_EQ(PartitionSpecName(*ParsePartitionSpec("dirichlet:0.25:4")), "dirichlet:0.25:4");
  for (const char* bad :
       {"", "random", "dirichlet", "dirichlet:", "dirichlet:0", "dirichlet:-1", "dirichlet:abc",
        "dirichlet:inf", "dirichlet:1:", "dirichlet:1:0", "dirichlet:1:x"}) {
    auto s = ParsePartitionSpec(bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.status().message()), ::testing::StartsWith("partition: '")) << bad;
  }
}

TEST(Partition, HashIsBalancedByChiSquare) {
  constexpr uint32_t kWorkers = 8, kUsers = 40000;
  const Dataset d = ManyUsers(kUsers);
  for (uint64_t seed : {1, 2, 3}) {
    auto a = AssignWorkers(d, {.kind = PartitionKind::kHash}, kWorkers, seed);
    ASSERT_TRUE(a.ok());
    EXPECT_LT(ChiSquareUniform(Sizes(*a, kWorkers)), 24.32)
        << "seed " << seed;  // df = 7, p = 0.001
  }
}

TEST(Partition, HashFollowsTheOriginalIdNotTheDenseId) {
  const Dataset full = ManyUsers(1000);
  // The same users in another dense order (as after a filter).
  std::vector<uint32_t> reversed(1000);
  for (uint32_t k = 0; k < 1000; ++k) reversed[k] = 999 - k;
  const Dataset other = SelectUsers(full, reversed);
  const auto a = *AssignWorkers(full, {.kind = PartitionKind::kHash}, 5, 9);
  const auto b = *AssignWorkers(other, {.kind = PartitionKind::kHash}, 5, 9);
  for (uint32_t k = 0; k < 1000; ++k) EXPECT_EQ(a[999 - k], b[k]);
  // A different seed gives a different assignment.
  EXPECT_NE(a, *AssignWorkers(full, {.kind = PartitionKind::kHash}, 5, 10));
}

TEST(Partition, ContiguousRangesDifferByAtMostOne) {
  const Dataset d = ManyUsers(1003);
  const auto a = *AssignWorkers(d, {.kind = PartitionKind::kContiguous}, 10, 0);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  const auto sizes = Sizes(a, 10);
  EXPECT_EQ(
      *std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()),
      1u);
  EXPECT_EQ(a.front(), 0u);
  EXPECT_EQ(a.back(), 9u);
}

class DirichletTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SynthOptions o;
    o.users = 6000;
    o.items = 1000;
    o.clusters = 10;
    o.interests_per_user = 1;
    o.seed = 5;
    const TempDir dir("partition");
    const std::string path = dir.Path("synth.txt");
    ASSERT_TRUE(WriteSyntheticDataset(o, path).ok());
    LoadOptions lo;
    lo.use_cache = false;
    data_ = new Dataset(*LoadDataset(path, lo));
  }
  static void TearDownTestSuite() { delete data_; }

  // Mean over groups of the largest worker share of the group's users.
  static double MeanMaxShare(double alpha, uint32_t workers, uint64_t seed) {
    const PartitionSpec spec{.kind = PartitionKind::kDirichlet, .alpha = alpha, .groups = 10};
    const auto a = *AssignWorkers(*data_, spec, workers, seed);
    const auto groups = ItemGroups(*data_, 10);
    std::vector<std::vector<double>> count(10, std::vector<double>(workers));
    for (uint32_t u = 0; u < data_->num_users(); ++u) {
      std::vector<uint32_t> c(10);
      for (uint32_t i : data_->Sequence(u)) ++c[groups[i]];
      const auto g = std::max_element(c.begin(), c.end()) - c.begin();
      count[g][a[u]] += 1;
    }
    double sum = 0;
    for (const auto& row : count) {
      double total = 0, best = 0;
      for (double x : row) total += x, best = std::max(best, x);
      sum += best / total;
    }
    return sum / 10;
  }

  static Dataset* data_;
};
Dataset* DirichletTest::data_ = nullptr;

TEST_F(DirichletTest, LargeAlphaIsNearIidSmallAlphaIsSkewed) {
  constexpr uint32_t kWorkers = 4;
  // alpha = 1000: each group spreads evenly, max share near 1/4.
  EXPECT_LT(MeanMaxShare(1000, kWorkers, 1), 0.25 + 0.08);
  // alpha = 0.01: each group lands almost entirely on one worker.
  EXPECT_GT(MeanMaxShare(0.01, kWorkers, 1), 0.9);
  // Near-balanced worker sizes for large alpha.
  const auto a = *AssignWorkers(
      *data_, {.kind = PartitionKind::kDirichlet, .alpha = 1000, .groups = 10}, kWorkers, 1);
  for (uint64_t s : Sizes(a, kWorkers)) EXPECT_NEAR(static_cast<double>(s), 1500.0, 150.0);
}

TEST_F(DirichletTest, DeterministicBySeed) {
  const PartitionSpec spec{.kind = PartitionKind::kDirichlet, .alpha = 0.5, .groups = 10};
  const auto a = *AssignWorkers(*data_, spec, 4, 7);
  EXPECT_EQ(a, *AssignWorkers(*data_, spec, 4, 7));
  EXPECT_NE(a, *AssignWorkers(*data_, spec, 4, 8));
}

TEST(Partition, SelectUsersKeepsItemTableAndSequences) {
  Dataset d;
  d.user_ids = {10, 20, 30};
  d.item_ids = {100, 200, 300};
  d.offsets = {0, 2, 3, 6};
  d.items = {0, 1, 2, 2, 1, 0};
  d.timestamps = {1, 2, 3, 4, 5, 6};
  d.ratings = {1, 2, 3, 4, 5, 6};
  const std::vector<uint32_t> pick = {2, 0};
  const Dataset s = SelectUsers(d, pick);
  EXPECT_EQ(s.user_ids, (std::vector<uint64_t>{30, 10}));
  EXPECT_EQ(s.item_ids, d.item_ids);
  EXPECT_EQ(s.offsets, (std::vector<uint64_t>{0, 3, 5}));
  EXPECT_EQ(s.items, (std::vector<uint32_t>{2, 1, 0, 0, 1}));
  EXPECT_EQ(s.timestamps, (std::vector<int64_t>{4, 5, 6, 1, 2}));
  EXPECT_EQ(s.ratings, (std::vector<float>{4, 5, 6, 1, 2}));
  const auto by_worker = UsersByWorker(std::vector<uint32_t>{1, 0, 1}, 2);
  EXPECT_EQ(by_worker[0], (std::vector<uint32_t>{1}));
  EXPECT_EQ(by_worker[1], (std::vector<uint32_t>{0, 2}));
  EXPECT_FALSE(AssignWorkers(d, {}, 0, 0).ok());
}

}  // namespace
}  // namespace fedrec
