#include "data/cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/loader.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;
using ::fedrec::testing::TestDir;
using ::fedrec::testing::WriteText;

void ExpectSame(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.user_ids, b.user_ids);
  EXPECT_EQ(a.item_ids, b.item_ids);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.items, b.items);
  EXPECT_EQ(a.timestamps, b.timestamps);
  EXPECT_EQ(a.ratings, b.ratings);
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    fs::create_directories(dir_ / "data");
    path_ = WriteText(dir_ / "data" / "u.data", "1\t10\t5\t3\n1\t11\t4\t2\n2\t10\t3\t1\n");
    options_.cache_dir = (dir_ / "cache").string();
  }
  fs::path dir_;
  std::string path_;
  LoadOptions options_;
};

TEST_F(CacheTest, SecondLoadIsAHitWithTheSameDataset) {
  LoadInfo first, second;
  auto a = LoadDataset(path_, options_, &first);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(first.cache_hit);
  ASSERT_FALSE(first.cache_path.empty());
  EXPECT_TRUE(fs::exists(first.cache_path));
  EXPECT_EQ(fs::path(first.cache_path).parent_path(), dir_ / "cache");
  auto b = LoadDataset(path_, options_, &second);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(second.cache_hit);
  ExpectSame(*a, *b);
  EXPECT_EQ(first.format.format, DataFormat::kMovieLens);
  EXPECT_EQ(second.format.format, DataFormat::kMovieLens);
  EXPECT_EQ(first.raw_interactions, 3u);
  // Nothing was written next to the data.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "data"), fs::directory_iterator{}), 1);
}

TEST_F(CacheTest, OptionsThatChangeTheResultChangeTheKey) {
  LoadInfo info;
  ASSERT_TRUE(LoadDataset(path_, options_, &info).ok());
  LoadOptions other = options_;
  other.min_count = 2;
  LoadInfo info2;
  auto d = LoadDataset(path_, other, &info2);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(info2.cache_hit);
  EXPECT_NE(info.cache_path, info2.cache_path);
  EXPECT_EQ(d->num_interactions(), 1u);  // user 2 and item 11 dropped
}

TEST_F(CacheTest, SourceChangeInvalidates) {
  ASSERT_TRUE(LoadDataset(path_, options_).ok());
  WriteText(path_, "1\t10\t5\t3\n7\t12\t4\t2\n");
  LoadInfo info;
  auto d = LoadDataset(path_, options_, &info);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(info.cache_hit);
  EXPECT_EQ(d->user_ids, (std::vector<uint64_t>{1, 7}));
  // Same size, different content and mtime.
  WriteText(path_, "1\t10\t5\t3\n8\t12\t4\t2\n");
  fs::last_write_time(path_, fs::last_write_time(path_) + std::chrono::seconds(5));
  d = LoadDataset(path_, options_, &info);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(info.cache_hit);
  EXPECT_EQ(d->user_ids, (std::vector<uint64_t>{1, 8}));
}

TEST_F(CacheTest, CorruptOrForeignCacheIsRebuilt) {
  LoadInfo info;
  auto original = LoadDataset(path_, options_, &info);
  ASSERT_TRUE(original.ok());
  const std::string cache = info.cache_path;
  const auto size = fs::file_size(cache);
  // Flip one payload byte: checksum mismatch -> rebuilt, then a hit again.
  {
    std::fstream f(cache, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 3));
    f.put('\x7f');
  }
  LoadInfo rebuilt;
  auto d = LoadDataset(path_, options_, &rebuilt);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(rebuilt.cache_hit);
  ExpectSame(*original, *d);
  LoadInfo again;
  ASSERT_TRUE(LoadDataset(path_, options_, &again).ok());
  EXPECT_TRUE(again.cache_hit);
  // Truncated and garbage files are misses too.
  fs::resize_file(cache, size / 2);
  ASSERT_TRUE(LoadDataset(path_, options_, &again).ok());
  EXPECT_FALSE(again.cache_hit);
  WriteText(cache, "garbage");
  ASSERT_TRUE(LoadDataset(path_, options_, &again).ok());
  EXPECT_FALSE(again.cache_hit);
}

TEST_F(CacheTest, DeserializeChecksKeyAndStructure) {
  LoadOptions o = options_;
  o.use_cache = false;
  auto d = LoadDataset(path_, o);
  ASSERT_TRUE(d.ok());
  const std::string bytes = SerializeDatasetCache(*d, "key-a");
  auto ok = DeserializeDatasetCache(bytes, "key-a");
  ASSERT_TRUE(ok.ok()) << ok.status();
  ExpectSame(*d, *ok);
  auto stale = DeserializeDatasetCache(bytes, "key-b");
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kDataLoss);
  // A structurally broken dataset with a valid checksum is still refused.
  Dataset broken = *d;
  broken.items[0] = 99;
  EXPECT_FALSE(DeserializeDatasetCache(SerializeDatasetCache(broken, "k"), "k").ok());
}

// Found by fuzz_dataset_cache (UBSan): reading an empty array passed a null
// pointer to memcpy.
TEST(DatasetCache, EmptyDatasetRoundTrips) {
  Dataset empty;
  empty.offsets = {0};
  const std::string bytes = SerializeDatasetCache(empty, "fuzz-key");
  auto back = DeserializeDatasetCache(bytes, "fuzz-key");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(*back, empty);
}

// Found by fuzz_dataset_cache: a file whose reserved header field was not
// zero (the writer always writes 0) was trusted.
TEST(DatasetCache, RefusesANonZeroReservedField) {
  Dataset d;
  d.user_ids = {7};
  d.item_ids = {100};
  d.offsets = {0, 1};
  d.items = {0};
  d.timestamps = {1};
  d.ratings = {1};
  std::string bytes = SerializeDatasetCache(d, "fuzz-key");
  ASSERT_TRUE(DeserializeDatasetCache(bytes, "fuzz-key").ok());
  bytes[15] = '\xe8';  // the fuzzer's input: reserved = 0xE8000000
  auto refused = DeserializeDatasetCache(bytes, "fuzz-key");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(refused.status().message().find("reserved"), std::string_view::npos);
}

TEST_F(CacheTest, UnwritableCacheDirIsSkipped) {
  WriteText(dir_ / "file", "x");
  options_.cache_dir = (dir_ / "file" / "sub").string();  // cannot be created
  LoadInfo info;
  auto d = LoadDataset(path_, options_, &info);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(info.cache_hit);
  EXPECT_TRUE(info.cache_path.empty());
}

TEST(DefaultCacheDir, FollowsTheEnvironment) {
  const char* saved = std::getenv("FEDREC_CACHE_DIR");
  const std::string saved_value = saved ? saved : "";
  ::setenv("FEDREC_CACHE_DIR", "/tmp/fedrec-x", 1);
  EXPECT_EQ(DefaultCacheDir(), "/tmp/fedrec-x");
  ::unsetenv("FEDREC_CACHE_DIR");
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const std::string xdg_value = xdg ? xdg : "";
  ::setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(DefaultCacheDir(), "/tmp/xdg/fedrec");
  if (xdg)
    ::setenv("XDG_CACHE_HOME", xdg_value.c_str(), 1);
  else
    ::unsetenv("XDG_CACHE_HOME");
  if (saved) ::setenv("FEDREC_CACHE_DIR", saved_value.c_str(), 1);
}

}  // namespace
}  // namespace fedrec
