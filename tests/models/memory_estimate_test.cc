#include "models/memory_estimate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "models/factory.h"
#include "tests/testing/fixtures.h"

namespace fedrec {
namespace {

using ::testing::HasSubstr;

// The estimate counts exactly what the model classes allocate, so it cannot
// drift into refusing models that fit.
TEST(MemoryEstimate, ParameterCountMatchesTheModels) {
  for (const std::string type : {"sasrec", "gru4rec", "mf_bpr", "mf_rating"}) {
    for (const int64_t blocks : {1, 2}) {
      Config config = testing::TinyConfig(type);
      config.model.blocks = blocks;
      config.data.max_len = 13;
      auto spec = ModelSpecFromConfig(config, /*num_users=*/17, /*num_items=*/29,
                                      /*feature_dim=*/0);
      ASSERT_TRUE(spec.ok()) << type << ": " << spec.status();
      auto model = CreateModel(*spec);
      ASSERT_TRUE(model.ok()) << model.status();
      const ParameterCount c = CountParameters(config, 17, 29);
      EXPECT_EQ(c.global, static_cast<double>((*model)->global_params().size())) << type;
      const ParameterStore* local = (*model)->local_params();
      EXPECT_EQ(c.local, local ? static_cast<double>(local->size()) : 0.0) << type;
    }
  }
}

// Text modes count the adapter instead of (text) or beside (id+text) the
// item table; a text MF-BPR has no item bias.
TEST(MemoryEstimate, ParameterCountMatchesTextModels) {
  constexpr uint32_t kFeatureDim = 11, kItems = 29;
  auto features = std::make_shared<ItemFeatures>();
  features->num_items = kItems;
  features->dim = kFeatureDim;
  features->values.assign(size_t{kItems} * kFeatureDim, 0.5f);
  for (const std::string type : {"sasrec", "gru4rec", "mf_bpr"}) {
    for (const std::string repr : {"text", "id+text"}) {
      for (const std::string adapter : {"linear", "mlp"}) {
        Config config = testing::TinyConfig(type);
        config.data.max_len = 13;
        config.model.item_repr = repr;
        config.model.adapter = adapter;
        config.model.adapter_hidden = adapter == "mlp" ? 5 : 0;
        auto spec = ModelSpecFromConfig(config, 17, kItems, kFeatureDim);
        ASSERT_TRUE(spec.ok()) << type << ": " << spec.status();
        auto model = CreateModel(*spec, "cpu", features);
        ASSERT_TRUE(model.ok()) << model.status();
        const ParameterCount c = CountParameters(config, 17, kItems, kFeatureDim);
        EXPECT_EQ(c.global, static_cast<double>((*model)->global_params().size()))
            << type << " " << repr << " " << adapter;
      }
    }
  }
}

TEST(MemoryEstimate, RefusesWhatExceedsTheLimitNamingTheKey) {
  Config config = testing::TinyConfig("sasrec");
  config.federation.mode = "central";
  EXPECT_TRUE(
      CheckTrainingMemory(config, 100, 100, 0, /*feature_dim=*/0, /*limit_bytes=*/1 << 30).ok());
  config.model.dim = int64_t{1} << 31;
  absl::Status s = CheckTrainingMemory(config, 100, 100, 0, 0, 1 << 30);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("reduce model.dim"));
  config.model.dim = 8;
  config.data.max_len = 100000000;
  s = CheckTrainingMemory(config, 100, 100, 0, 0, 1 << 30);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("reduce data.max_len"));
}

TEST(MemoryEstimate, CountsEveryWorkerReplicaInTheProcess) {
  Config config = testing::TinyConfig("sasrec");
  config.federation.mode = "federated";
  const double one = EstimateTrainingBytes(config, 10, 1000, 1);
  const double four = EstimateTrainingBytes(config, 10, 1000, 4);
  const double global = CountParameters(config, 10, 1000).global;
  EXPECT_DOUBLE_EQ(four - one, 3 * 3 * 4 * global);
}

}  // namespace
}  // namespace fedrec
