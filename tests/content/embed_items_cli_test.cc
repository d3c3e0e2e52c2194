// `fedrec data embed-items` end to end on a tiny model directory: the .npy
// and its id list, read back by data/item_features.h; one-line errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "content/sentence_encoder.h"
#include "data/item_features.h"
#include "data/tensor_files.h"
#include "tests/content/tiny_bert.h"
#include "tests/testing/fedrec_cli.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::content {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string UItemLine(const std::string& id, const std::string& title, const std::string& flags) {
  std::string line = id + "|" + title + "|01-Jan-1995||http://us.imdb.com/x";
  for (char f : flags) line += std::string("|") + f;
  return line + "\n";
}

class EmbedItemsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteSafetensors(dir_.Path("model.safetensors"), tiny::TinyBert({})).ok());
    dir_.File("tokenizer.json", tiny::BertTokenizerJson(tiny::TinyVocab()));
    dir_.File("config.json", R"({"hidden_act": "gelu", "num_attention_heads": 2})");
    items_ =
        dir_.File("u.item", UItemLine("1", "Toy Story (1995)", "0001110000000000000") +
                                UItemLine("2", "Star Wars (1977)", "0100000000000000010") +
                                UItemLine("5", "Man of the Year (1995)", "0000000010000000000"));
  }

  fedrec::testing::TempDir dir_{"content"};
  std::string items_;
};

TEST_F(EmbedItemsCliTest, WritesFeaturesAndIdsThatItemFeaturesReads) {
  const std::string out = dir_.Path("items.npy");
  auto r = fedrec::testing::RunFedrec("data embed-items --quiet --threads 2 --items " + items_ +
                                          " --model " + dir_.path().string() + " --out " + out,
                                      dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"items\": 3"));
  auto features = ReadNpy(out);
  ASSERT_TRUE(features.ok()) << features.status();
  EXPECT_EQ(features->shape, (std::vector<uint64_t>{3, 8}));
  auto ids = ReadNpy(dir_.Path("items.ids.npy"));
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->ints, (std::vector<int64_t>{1, 2, 5}));

  // The same rows as the encoder in-process, on the texts of the template.
  auto encoder = SentenceEncoder::Load(dir_.path().string());
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  const std::vector<std::string> texts = {"Toy Story (1995). Animation, Children's, Comedy",
                                          "Star Wars (1977). Action, War",
                                          "Man of the Year (1995). Drama"};
  auto want = encoder->Encode(texts, EncodeOptions{});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(features->floats, *want);

  // data/item_features.h finds the ids beside the file.
  const std::vector<uint64_t> dataset_items = {5, 1};
  auto loaded = LoadItemFeatures(ItemFeatureSource{out, "auto"}, dataset_items);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->dim, 8u);
  EXPECT_EQ((*loaded)->values[0], (*want)[2 * 8]);
}

TEST_F(EmbedItemsCliTest, ErrorsAreOneLine) {
  auto r = fedrec::testing::RunFedrec("data embed-items --items " + items_ + " --model " +
                                          dir_.Path("absent") + " --out " + dir_.Path("x.npy"),
                                      dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("fedrec: error: "));
  EXPECT_THAT(r.err, HasSubstr("FEDREC_WITH_ENCODER=1 scripts/setup.sh"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  const std::string bad =
      dir_.File("bad.item", UItemLine("1", "A", "0000000010000000000") + "2|B\n");
  r = fedrec::testing::RunFedrec("data embed-items --items " + bad + " --model " +
                                     dir_.path().string() + " --out " + dir_.Path("x.npy"),
                                 dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.item:2: expected 24"));

  r = fedrec::testing::RunFedrec("data embed-items --items " + items_ + " --model " +
                                     dir_.path().string() + " --out " + dir_.Path("x.csv"),
                                 dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--out must name a .npy file"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Path("x.npy")));
}

}  // namespace
}  // namespace fedrec::content
