#include "data/filters.h"

#include <gtest/gtest.h>

#include "data/loader.h"
#include "data/stats.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::fedrec::testing::TestDir;
using ::fedrec::testing::WriteText;

// Builds a RawInteractions from (user, item) pairs; timestamps = index.
RawInteractions Raw(const std::vector<std::pair<uint64_t, uint64_t>>& pairs) {
  RawInteractions r;
  std::map<uint64_t, uint32_t> users, items;
  for (size_t k = 0; k < pairs.size(); ++k) {
    auto [u, i] = pairs[k];
    if (!users.count(u)) {
      users[u] = static_cast<uint32_t>(r.user_ids.size());
      r.user_ids.push_back(u);
    }
    if (!items.count(i)) {
      items[i] = static_cast<uint32_t>(r.item_ids.size());
      r.item_ids.push_back(i);
    }
    r.users.push_back(users[u]);
    r.items.push_back(items[i]);
    r.timestamps.push_back(static_cast<int64_t>(k));
    r.ratings.push_back(1.0f);
  }
  return r;
}

TEST(Filters, MinCountIsOnePass) {
  // Item 9 has 2 interactions; users 1 and 2 have 2 each, user 3 has 1.
  // k=2: drop user 3's line (user count 1). User 2's item-8 line survives
  // even though item 8 is left with 1 interaction: one pass only.
  const RawInteractions r = Raw({{1, 9}, {1, 9}, {2, 8}, {2, 7}, {3, 8}, {2, 7}});
  KeepMask keep(r.size(), 1);
  ApplyMinCount(r, 2, &keep);
  EXPECT_EQ(keep, (KeepMask{1, 1, 1, 1, 0, 1}));
}

TEST(Filters, KCoreIteratesToAFixedPoint) {
  // Same data: after dropping user 3, item 8 has one interaction; the 2-core
  // then drops (2, 8) too; user 2 keeps its two item-7 interactions.
  const RawInteractions r = Raw({{1, 9}, {1, 9}, {2, 8}, {2, 7}, {3, 8}, {2, 7}});
  KeepMask keep(r.size(), 1);
  ApplyKCore(r, 2, &keep);
  EXPECT_EQ(keep, (KeepMask{1, 1, 0, 1, 0, 1}));
}

TEST(Filters, DedupeConsecutiveUsesTimeOrder) {
  RawInteractions r = Raw({{1, 5}, {1, 5}, {1, 6}, {1, 5}, {2, 5}, {1, 6}});
  // Reorder time: line 5 (1,6) happens before line 2 (1,6).
  r.timestamps = {0, 1, 3, 4, 0, 2};
  KeepMask keep(r.size(), 1);
  DedupeConsecutive(r, &keep);
  // User 1 in time order: 5(l0) 5(l1) 6(l5) 6(l2) 5(l3) -> drop l1 and l2.
  EXPECT_EQ(keep, (KeepMask{1, 0, 0, 1, 1, 1}));
}

TEST(Filters, IdsAreRemappedAfterFiltering) {
  const RawInteractions r = Raw({{4, 100}, {5, 200}, {5, 300}, {6, 300}, {6, 200}});
  KeepMask keep = {0, 1, 1, 1, 1};
  const Dataset d = BuildDataset(r, keep);
  EXPECT_EQ(d.user_ids, (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(d.item_ids, (std::vector<uint64_t>{200, 300}));
  EXPECT_EQ(d.offsets, (std::vector<uint64_t>{0, 2, 4}));
  EXPECT_EQ(d.items, (std::vector<uint32_t>{0, 1, 1, 0}));
}

TEST(Filters, LoadDatasetAppliesThemAndRefusesAnEmptyResult) {
  const auto dir = TestDir();
  const std::string path = WriteText(dir / "s.txt", "1 1\n1 1\n1 2\n2 1\n2 2\n3 3\n");
  LoadOptions o;
  o.use_cache = false;
  o.dedupe_consecutive = true;
  o.kcore = 2;
  auto d = LoadDataset(path, o);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->num_users(), 2u);
  EXPECT_EQ(d->num_items(), 2u);
  EXPECT_EQ(d->num_interactions(), 4u);
  o.kcore = 3;
  auto none = LoadDataset(path, o);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(none.status().message()),
            path + ": no interactions left after filtering (min_count=0, kcore=3)");
}

TEST(Stats, CountsLengthsAndTies) {
  const auto dir = TestDir();
  // User 1: t=5,5,6 (two tied); user 2: t=1; user 3: t=2,3.
  const std::string path = WriteText(
      dir / "u.data", "1\t1\t1\t5\n1\t2\t1\t5\n1\t3\t1\t6\n2\t1\t1\t1\n3\t2\t1\t2\n3\t1\t1\t3\n");
  LoadOptions o;
  o.use_cache = false;
  auto d = LoadDataset(path, o);
  ASSERT_TRUE(d.ok());
  const DatasetStats s = ComputeStats(*d);
  EXPECT_EQ(s.users, 3u);
  EXPECT_EQ(s.items, 3u);
  EXPECT_EQ(s.interactions, 6u);
  EXPECT_EQ(s.min_length, 1u);
  EXPECT_EQ(s.max_length, 3u);
  EXPECT_DOUBLE_EQ(s.median_length, 2.0);
  EXPECT_DOUBLE_EQ(s.mean_length, 2.0);
  EXPECT_DOUBLE_EQ(s.density, 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(s.tied_timestamp_fraction, 2.0 / 6.0);
  const auto j = ToJson(s);
  EXPECT_EQ(j["users"], 3);
  EXPECT_EQ(j["sequence_length"]["max"], 3);
}

}  // namespace
}  // namespace fedrec
