// Worker-owned local parameters on disk: shards written, read back, and
// refused when missing, foreign, stale or incomplete.
#include "proto/local_shards.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class LocalShardsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.Add("user_emb", 6, 3).ok());
    ASSERT_TRUE(store_.Add("user_bias", 6, 1).ok());
    store_.Finalize();
    for (size_t i = 0; i < store_.Flat().size(); ++i) store_.Flat()[i] = static_cast<float>(i);
  }

  // Two workers' shards beside ckpt-00000004.ckpt: users {0,2,4} and {1,3,5}.
  Checkpoint WriteTwoShards(uint64_t round = 4) {
    Checkpoint ckpt;
    ckpt.set_round(round);
    ckpt.mutable_model()->set_num_users(6);
    const std::vector<std::vector<uint32_t>> users = {{0, 2, 4}, {1, 3, 5}};
    for (uint32_t w = 0; w < 2; ++w) {
      auto ref =
          WriteLocalShard(dir_.string(), LocalShardFileName("ckpt-00000004.ckpt", round, w, 2),
                          round, w, 2, users[w], store_);
      EXPECT_TRUE(ref.ok()) << ref.status();
      *ckpt.add_local_shards() = *ref;
    }
    EXPECT_TRUE(WriteCheckpoint(path(), ckpt).ok());
    return ckpt;
  }
  std::string path() const { return (dir_ / "ckpt-00000004.ckpt").string(); }
  ParameterStore Zeroed() const {
    ParameterStore z = store_;
    std::fill(z.Flat().begin(), z.Flat().end(), 0.0f);
    return z;
  }

  const testing::TempDir tmp_{"shards"};
  const fs::path& dir_ = tmp_.path();
  ParameterStore store_;
};

TEST_F(LocalShardsTest, NamesSayCheckpointRoundAndWorker) {
  EXPECT_EQ(LocalShardFileName("ckpt-00000004.ckpt", 4, 0, 2), "ckpt-00000004.r4.w1-of-2.local");
  EXPECT_EQ(LocalShardFileName("best.ckpt", 17, 2, 3), "best.r17.w3-of-3.local");
}

TEST_F(LocalShardsTest, AWorkerReadsBackItsOwnRowsFromItsOwnShard) {
  Checkpoint ckpt = WriteTwoShards();
  // Worker 1's shard alone serves its users, even with worker 0's gone.
  fs::remove(dir_ / LocalShardFileName("ckpt-00000004.ckpt", 4, 0, 2));
  ParameterStore got = Zeroed();
  const std::vector<uint32_t> mine = {1, 3, 5};
  ASSERT_TRUE(ReadLocalRows(path(), ckpt, mine, /*own_worker=*/1, &got).ok());
  for (size_t k = 0; k < 2; ++k) {
    for (uint32_t u : mine) {
      EXPECT_TRUE(std::equal(got.ViewAt(k).Row(u).begin(), got.ViewAt(k).Row(u).end(),
                             store_.ViewAt(k).Row(u).begin()));
    }
    EXPECT_EQ(got.ViewAt(k).Row(0)[0], 0.0f);  // not this worker's row
  }
}

TEST_F(LocalShardsTest, AWholeModelReaderMergesEveryShard) {
  WriteTwoShards();
  auto merged = ReadCheckpointWithLocalShards(path());
  ASSERT_TRUE(merged.ok()) << merged.status();
  auto local = StoreFromTensors(merged->local_tensors());
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE(std::equal(local->Flat().begin(), local->Flat().end(), store_.Flat().begin(),
                         store_.Flat().end()));
}

TEST_F(LocalShardsTest, MissingForeignStaleOrIncompleteShardsAreRefused) {
  Checkpoint ckpt = WriteTwoShards();
  const fs::path w2 = dir_ / LocalShardFileName("ckpt-00000004.ckpt", 4, 1, 2);
  ParameterStore got = Zeroed();
  // Missing.
  fs::rename(w2, dir_ / "aside");
  auto missing = ReadLocalRows(path(), ckpt, {}, std::nullopt, &got);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_THAT(std::string(missing.message()), HasSubstr("w2-of-2.local"));
  fs::rename(dir_ / "aside", w2);
  // Foreign: another shard's file under this name.
  const fs::path w1 = dir_ / LocalShardFileName("ckpt-00000004.ckpt", 4, 0, 2);
  fs::copy_file(w2, dir_ / "w2", fs::copy_options::overwrite_existing);
  fs::copy_file(w1, w2, fs::copy_options::overwrite_existing);
  auto foreign = ReadLocalRows(path(), ckpt, {}, std::nullopt, &got);
  EXPECT_EQ(foreign.code(), absl::StatusCode::kDataLoss) << foreign;
  EXPECT_THAT(std::string(foreign.message()), HasSubstr("digest differs"));
  fs::copy_file(dir_ / "w2", w2, fs::copy_options::overwrite_existing);
  // Stale: the manifest of another round.
  Checkpoint later = ckpt;
  later.set_round(5);
  EXPECT_EQ(ReadLocalRows(path(), later, {}, std::nullopt, &got).code(),
            absl::StatusCode::kDataLoss);
  // Incomplete: a manifest that lists one shard only.
  Checkpoint half = ckpt;
  half.mutable_local_shards()->RemoveLast();
  auto incomplete = ReadLocalRows(path(), half, {}, std::nullopt, &got);
  EXPECT_EQ(incomplete.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(incomplete.message()), HasSubstr("no local shard holds user 1"));
  // And the intact set reads.
  EXPECT_TRUE(ReadLocalRows(path(), ckpt, {}, std::nullopt, &got).ok());
}

}  // namespace
}  // namespace fedrec
