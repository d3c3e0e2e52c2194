// Federated training with item content (model.item_repr = text): the round,
// secure aggregation at both scopes and DP run unchanged on an update that
// holds the adapter and the dense weights only, so what a client uploads
// does not grow with the catalogue; the model stays bitwise independent of
// the worker count and of secure aggregation.
#include <gtest/gtest.h>

#include <string>

#include "data/synth_content.h"
#include "tests/coordinator/federated_fixture.h"

namespace fedrec {
namespace {

class ItemContentFederatedTest : public FederatedTrainerTest {
 protected:
  // A synthetic dataset of `items` items with content features carrying
  // each item's cluster; returns a text-mode config on it.
  Config TextConfig(uint32_t items, const std::string& name) {
    SynthOptions synth;
    synth.users = 120;
    synth.items = items;
    synth.clusters = 4;
    synth.mean_length = 10;
    synth.seed = 3;
    const std::string data = (dir_ / (name + ".txt")).string();
    const std::string features = (dir_ / (name + "-features.npy")).string();
    EXPECT_TRUE(WriteSyntheticDataset(synth, data).ok());
    SynthContentOptions content;
    content.dim = 12;
    EXPECT_TRUE(WriteSyntheticItemFeatures(synth, content, features).ok());
    Config c = MakeConfig("sasrec");
    c.data.path = data;
    c.data.item_features = features;
    c.model.item_repr = "text";
    c.federation.rounds = 3;
    c.eval.negatives = 20;
    return c;
  }
};

TEST_F(ItemContentFederatedTest, UploadDoesNotGrowWithTheCatalogue) {
  const auto small = Train(TextConfig(60, "small"), "small");
  const auto large = Train(TextConfig(600, "large"), "large");
  ASSERT_TRUE(small.contains("upload_words_per_client")) << small.dump();
  EXPECT_EQ(small["upload_words_per_client"], large["upload_words_per_client"]);
  EXPECT_EQ(small["upload_bytes_per_client"], large["upload_bytes_per_client"]);
  EXPECT_EQ(small["item_features"]["dim"], 12);

  Config id = TextConfig(600, "large_id");
  id.model.item_repr = "id";
  const auto id_run = Train(id, "large_id");
  // The id model's update holds the item table (the items that occur x 8)
  // besides the dense weights; the text model's holds a 12 x 8 adapter and
  // its bias instead.
  const uint64_t items = id_run["items"].get<uint64_t>();
  EXPECT_GT(items, 300u);
  EXPECT_EQ(id_run["upload_words_per_client"].get<uint64_t>() -
                large["upload_words_per_client"].get<uint64_t>(),
            items * 8u - (12u * 8u + 8u));
}

TEST_F(ItemContentFederatedTest, SecureAggregationAndWorkersLeaveTheModelBitwiseUnchanged) {
  const Config plain = TextConfig(60, "data");
  const auto expected = Train(plain, "plain");
  ASSERT_FALSE(expected.value("model_sha256", std::string()).empty());
  for (const std::string scope : {"worker", "client"}) {
    for (int workers : {1, 2}) {
      Config c = plain;
      c.secagg.enabled = true;
      c.secagg.scope = scope;
      c.federation.workers = workers;
      EXPECT_EQ(Train(c, scope + std::to_string(workers))["model_sha256"], expected["model_sha256"])
          << scope << " " << workers;
    }
  }
}

TEST_F(ItemContentFederatedTest, CentralDpRunsOnTheAdapterUpdate) {
  Config c = DpConfig(TextConfig(60, "data"));
  c.federation.rounds = 4;
  const auto one = Train(c, "dp1");
  c.federation.workers = 2;
  const auto two = Train(c, "dp2");
  ASSERT_TRUE(one.contains("privacy")) << one.dump();
  EXPECT_EQ(one["privacy"]["mode"], "central");
  EXPECT_GT(one["privacy"]["epsilon"].get<double>(), 0);
  EXPECT_EQ(one["model_sha256"], two["model_sha256"]);
}

}  // namespace
}  // namespace fedrec
