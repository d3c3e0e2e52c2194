#include "data/synth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "core/atomic_file.h"
#include "data/loader.h"
#include "data/stats.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::fedrec::testing::TestDir;

SynthOptions Small() {
  SynthOptions o;
  o.users = 3000;
  o.items = 2000;
  o.clusters = 10;
  o.seed = 42;
  o.block_users = 97;  // many blocks, so thread interleavings are exercised
  return o;
}

std::string Generate(const SynthOptions& o, const std::string& path) {
  const absl::Status s = WriteSyntheticDataset(o, path);
  EXPECT_TRUE(s.ok()) << s;
  auto bytes = ReadFileToString(path);
  return bytes.ok() ? *bytes : "";
}

TEST(Synth, SameSeedSameBytesForAnyThreadCount) {
  const auto dir = TestDir();
  SynthOptions o = Small();
  o.threads = 1;
  const std::string one = Generate(o, (dir / "a.txt").string());
  o.threads = 2;
  const std::string two = Generate(o, (dir / "b.txt").string());
  o.threads = 5;
  o.block_users = 1000;  // blocking does not change the output either
  const std::string five = Generate(o, (dir / "c.txt").string());
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, five);
  o.seed = 43;
  EXPECT_NE(one, Generate(o, (dir / "d.txt").string()));
  // CSV is deterministic too, and has the header.
  o.threads = 1;
  const std::string csv1 = Generate(o, (dir / "e.csv").string());
  o.threads = 3;
  EXPECT_EQ(csv1, Generate(o, (dir / "f.csv").string()));
  EXPECT_THAT(csv1, ::testing::StartsWith("user,item,rating,timestamp\n"));
}

TEST(Synth, HasTheDesignedStatistics) {
  const auto dir = TestDir();
  SynthOptions o = Small();
  const std::string path = (dir / "s.txt").string();
  ASSERT_TRUE(WriteSyntheticDataset(o, path).ok());
  LoadOptions lo;
  lo.use_cache = false;
  auto d = LoadDataset(path, lo);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->num_users(), o.users);
  // SASRec text ids are 1-based: user u+1 is dense user u (first appearance).
  for (uint32_t u = 0; u < d->num_users(); ++u) ASSERT_EQ(d->user_ids[u], u + 1);
  const DatasetStats st = ComputeStats(*d);
  EXPECT_GE(st.min_length, o.min_length);
  EXPECT_LE(st.max_length, o.max_length);
  EXPECT_NEAR(st.mean_length, o.mean_length, 0.15 * o.mean_length);
  EXPECT_GT(static_cast<double>(st.max_length), 4 * st.mean_length);  // heavy tail

  // Popularity: heavy-tailed (top 1% of items hold a large share).
  std::vector<uint64_t> count(d->num_items());
  for (uint32_t i : d->items) ++count[i];
  std::sort(count.rbegin(), count.rend());
  uint64_t top = 0;
  for (size_t k = 0; k < count.size() / 100; ++k) top += count[k];
  EXPECT_GT(static_cast<double>(top) / static_cast<double>(d->num_interactions()), 0.10);

  // Markov: consecutive pairs hit the previous item's successor set far
  // more often than chance, and stay within the cluster.
  uint64_t pairs = 0, successor_hits = 0, same_cluster = 0;
  for (uint32_t u = 0; u < d->num_users(); ++u) {
    const auto seq = d->Sequence(u);
    for (size_t t = 1; t < seq.size(); ++t) {
      const uint32_t prev = static_cast<uint32_t>(d->item_ids[seq[t - 1]] - 1);
      const uint32_t next = static_cast<uint32_t>(d->item_ids[seq[t]] - 1);
      const auto succ = SynthSuccessors(o, prev);
      ++pairs;
      successor_hits += std::find(succ.begin(), succ.end(), next) != succ.end();
      same_cluster += SynthClusterOf(o, prev) == SynthClusterOf(o, next);
    }
  }
  const double hit_rate = static_cast<double>(successor_hits) / static_cast<double>(pairs);
  EXPECT_GT(hit_rate, 0.4);  // p_markov = 0.5 plus chance
  EXPECT_GT(hit_rate, 50.0 * o.successors / o.items);
  EXPECT_GT(static_cast<double>(same_cluster) / static_cast<double>(pairs), 0.6);
}

TEST(Synth, CsvParsesBackWithRatingsAndTimestamps) {
  const auto dir = TestDir();
  SynthOptions o = Small();
  o.users = 200;
  const std::string path = (dir / "s.csv").string();
  ASSERT_TRUE(WriteSyntheticDataset(o, path).ok());
  LoadOptions lo;
  lo.use_cache = false;
  auto d = LoadDataset(path, lo);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->num_users(), 200u);
  for (float r : d->ratings) {
    EXPECT_GE(r, 3.0f);
    EXPECT_LE(r, 5.0f);
  }
  for (uint32_t u = 0; u < d->num_users(); ++u) {
    for (uint64_t p = d->offsets[u] + 1; p < d->offsets[u + 1]; ++p) {
      ASSERT_LT(d->timestamps[p - 1], d->timestamps[p]);
    }
  }
}

TEST(Synth, RefusesBadOptions) {
  const auto dir = TestDir();
  const std::string path = (dir / "x.txt").string();
  const auto message = [&](SynthOptions o) {
    return std::string(WriteSyntheticDataset(o, path).message());
  };
  SynthOptions o;
  o.users = 0;
  EXPECT_EQ(message(o), "synth: --users must be at least 1");
  o = {};
  o.items = 5;
  o.clusters = 10;
  EXPECT_EQ(message(o), "synth: --items (5) must be at least the number of clusters (10)");
  o = {};
  o.p_markov = 1.5;
  EXPECT_EQ(message(o), "synth: p_markov must be in [0, 1]");
  o = {};
  o.mean_length = 2;
  EXPECT_THAT(message(o), ::testing::HasSubstr("mean length"));
  o = {};
  o.interest_alpha = 0;
  EXPECT_THAT(message(o), ::testing::HasSubstr("alpha"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace fedrec
