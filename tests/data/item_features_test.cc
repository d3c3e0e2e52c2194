#include "data/item_features.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "data/tensor_files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::fedrec::testing::TestDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Four catalogue items with original ids 40, 10, 30, 20 (in that row order)
// and features [id, id / 10].
struct Catalogue {
  std::filesystem::path dir = TestDir();
  std::string features = (dir / "items.npy").string();
  std::string ids = (dir / "items.ids.npy").string();

  Catalogue() {
    const std::vector<float> values = {40, 4, 10, 1, 30, 3, 20, 2};
    const std::vector<uint64_t> shape = {4, 2};
    EXPECT_TRUE(WriteNpy(features, shape, std::span<const float>(values)).ok());
    const std::vector<int64_t> id_values = {40, 10, 30, 20};
    const std::vector<uint64_t> id_shape = {4};
    EXPECT_TRUE(WriteNpy(ids, id_shape, std::span<const int64_t>(id_values)).ok());
  }
};

TEST(ItemFeatures, RowsFollowTheDatasetsDenseOrder) {
  Catalogue c;
  const std::vector<uint64_t> item_ids = {20, 40, 10};  // item 30 unused: ignored
  auto f = LoadItemFeatures({c.features, "auto"}, item_ids);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->num_items, 3u);
  EXPECT_EQ((*f)->dim, 2u);
  EXPECT_THAT((*f)->values, ElementsAre(20, 2, 40, 4, 10, 1));
  EXPECT_THAT((*f)->Row(1), ElementsAre(40, 4));
  EXPECT_EQ((*f)->sha256.size(), 64u);
}

TEST(ItemFeatures, IdsFromTextListColumnOrSafetensors) {
  Catalogue c;
  const std::vector<uint64_t> item_ids = {10, 20};
  const std::string txt = (c.dir / "list.txt").string();
  std::ofstream(txt) << "40\n10\n30\n20\n";
  auto from_txt = LoadItemFeatures({c.features, txt}, item_ids);
  ASSERT_TRUE(from_txt.ok()) << from_txt.status();
  EXPECT_THAT((*from_txt)->values, ElementsAre(10, 1, 20, 2));

  // The first column holds the ids: the features are what remains.
  auto from_column = LoadItemFeatures({c.features, "column"}, item_ids);
  ASSERT_TRUE(from_column.ok()) << from_column.status();
  EXPECT_EQ((*from_column)->dim, 1u);
  EXPECT_THAT((*from_column)->values, ElementsAre(1, 2));

  const std::string st = (c.dir / "items.safetensors").string();
  std::map<std::string, Array> tensors;
  tensors["embeddings"].shape = {2, 3};
  tensors["embeddings"].floats = {1, 2, 3, 4, 5, 6};
  tensors["item_id"].kind = Array::Kind::kInt;
  tensors["item_id"].shape = {2};
  tensors["item_id"].ints = {20, 10};
  ASSERT_TRUE(WriteSafetensors(st, tensors).ok());
  auto from_st = LoadItemFeatures({st, "auto"}, item_ids);
  ASSERT_TRUE(from_st.ok()) << from_st.status();
  EXPECT_THAT((*from_st)->values, ElementsAre(4, 5, 6, 1, 2, 3));
}

TEST(ItemFeatures, DigestCoversTheIdList) {
  Catalogue c;
  const std::vector<uint64_t> item_ids = {10, 20, 30, 40};
  auto a = LoadItemFeatures({c.features, "auto"}, item_ids);
  ASSERT_TRUE(a.ok()) << a.status();
  // Same features, ids permuted: a different mapping, so a different identity.
  const std::vector<int64_t> permuted = {10, 40, 30, 20};
  const std::vector<uint64_t> shape = {4};
  ASSERT_TRUE(WriteNpy(c.ids, shape, std::span<const int64_t>(permuted)).ok());
  auto b = LoadItemFeatures({c.features, "auto"}, item_ids);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE((*a)->sha256, (*b)->sha256);
}

TEST(ItemFeatures, RefusesBadFilesWithThePathAndReason) {
  Catalogue c;
  const std::vector<uint64_t> item_ids = {10, 20, 99};
  auto missing = LoadItemFeatures({c.features, "auto"}, item_ids);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("item 99 of the dataset has no feature row"));
  EXPECT_THAT(missing.status().message(), HasSubstr(c.features));

  const std::vector<uint64_t> ok_ids = {10};
  const std::vector<uint64_t> shape2 = {2, 2};
  const std::vector<uint64_t> shape1 = {2};
  const std::string nan_path = (c.dir / "nan.npy").string();
  const std::vector<float> nan_values = {1, std::numeric_limits<float>::quiet_NaN(), 3, 4};
  ASSERT_TRUE(WriteNpy(nan_path, shape2, std::span<const float>(nan_values)).ok());
  const std::string nan_ids = (c.dir / "nan.ids.txt").string();
  std::ofstream(nan_ids) << "10\n20\n";
  EXPECT_THAT(LoadItemFeatures({nan_path, "auto"}, ok_ids).status().message(),
              HasSubstr("row 0 (item 10) holds a non-finite value in column 1"));

  const std::string dup_ids = (c.dir / "dup.txt").string();
  std::ofstream(dup_ids) << "10\n10\n";
  EXPECT_THAT(LoadItemFeatures({nan_path, dup_ids}, ok_ids).status().message(),
              HasSubstr("item id 10 appears twice"));

  const std::string int_path = (c.dir / "ints.npy").string();
  const std::vector<int64_t> ints = {1, 2, 3, 4};
  ASSERT_TRUE(WriteNpy(int_path, shape2, std::span<const int64_t>(ints)).ok());
  EXPECT_THAT(LoadItemFeatures({int_path, nan_ids}, ok_ids).status().message(),
              HasSubstr("features must be float16, bfloat16, float32 or float64"));

  const std::string vec_path = (c.dir / "vec.npy").string();
  const std::vector<float> vec = {1, 2};
  ASSERT_TRUE(WriteNpy(vec_path, shape1, std::span<const float>(vec)).ok());
  EXPECT_THAT(LoadItemFeatures({vec_path, nan_ids}, ok_ids).status().message(),
              HasSubstr("2-D matrix"));

  const std::string lonely = (c.dir / "lonely.npy").string();
  ASSERT_TRUE(WriteNpy(lonely, shape2, std::span<const float>(vec.data(), 0)).ok() == false);
  ASSERT_TRUE(WriteNpy(lonely, shape2, std::span<const float>(nan_values)).ok());
  EXPECT_THAT(LoadItemFeatures({lonely, "auto"}, ok_ids).status().message(),
              HasSubstr("no item id list"));

  const std::string short_ids = (c.dir / "short.txt").string();
  std::ofstream(short_ids) << "10\n";
  EXPECT_THAT(LoadItemFeatures({c.features, short_ids}, ok_ids).status().message(),
              HasSubstr("1 item ids for 4 feature rows"));

  const std::string bad_line = (c.dir / "bad.txt").string();
  std::ofstream(bad_line) << "10\nabc\n";
  EXPECT_THAT(LoadItemFeatures({c.features, bad_line}, ok_ids).status().message(),
              HasSubstr("bad.txt:2: not an integer item id"));

  EXPECT_EQ(LoadItemFeatures({(c.dir / "none.npy").string(), "auto"}, ok_ids).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(LoadItemFeatures({(c.dir / "x.csv").string(), "auto"}, ok_ids).status().message(),
              HasSubstr("no such file"));
  std::ofstream((c.dir / "x.csv").string()) << "1,2\n";
  EXPECT_THAT(LoadItemFeatures({(c.dir / "x.csv").string(), "auto"}, ok_ids).status().message(),
              HasSubstr("expected .npy or .safetensors"));
}

}  // namespace
}  // namespace fedrec
