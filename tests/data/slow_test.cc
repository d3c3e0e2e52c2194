// Scale checks of the data room (label `slow`): larger synthetic files,
// thread-count independence at scale, and a cached round trip.
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/sha256.h"
#include "data/loader.h"
#include "data/partition.h"
#include "data/stats.h"
#include "data/synth.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::fedrec::testing::TestDir;

TEST(SlowData, SynthAtScaleIsThreadIndependentAndParsesBack) {
  const auto dir = TestDir();
  SynthOptions o;
  o.users = 200000;
  o.items = 20000;
  o.seed = 11;
  o.threads = 1;
  const std::string a = (dir / "a.txt").string();
  const std::string b = (dir / "b.txt").string();
  ASSERT_TRUE(WriteSyntheticDataset(o, a).ok());
  o.threads = 2;
  o.block_users = 333;
  ASSERT_TRUE(WriteSyntheticDataset(o, b).ok());
  EXPECT_EQ(ToHex(Sha256Of(*ReadFileToString(a))), ToHex(Sha256Of(*ReadFileToString(b))));

  LoadOptions lo;
  lo.cache_dir = (dir / "cache").string();
  LoadInfo first, second;
  auto d = LoadDataset(a, lo, &first);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(first.cache_hit);
  EXPECT_EQ(d->num_users(), o.users);
  const DatasetStats st = ComputeStats(*d);
  EXPECT_GE(st.min_length, o.min_length);
  EXPECT_NEAR(st.mean_length, o.mean_length, 0.1 * o.mean_length);
  auto again = LoadDataset(a, lo, &second);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(d->items, again->items);
  EXPECT_EQ(d->offsets, again->offsets);

  // Partitions cover every user exactly once and SelectUsers keeps all data.
  const auto assignment = *AssignWorkers(*d, *ParsePartitionSpec("dirichlet:0.3:20"), 8, 3);
  uint64_t total = 0;
  for (const auto& users : UsersByWorker(assignment, 8))
    total += SelectUsers(*d, users).num_interactions();
  EXPECT_EQ(total, d->num_interactions());
}

}  // namespace
}  // namespace fedrec
