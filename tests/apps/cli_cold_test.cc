// eval.cold_items through the binary: config refusals exit 2, a central run
// and `fedrec eval` of its checkpoint agree on the cold targets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/testing/fedrec_cli.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

using ::testing::HasSubstr;

class CliCold : public ::testing::Test {
 protected:
  nlohmann::json RunJson(const std::string& args) {
    const CliResult r = RunFedrec(args, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    return nlohmann::json::parse(r.out.empty() ? "{}" : r.out);
  }

  TempDir dir_{"cli_cold"};
};

TEST_F(CliCold, OutOfRangeFractionIsAUserError) {
  const std::string data = (dir_.path() / "s.txt").string();
  RunJson("data synth --users 100 --items 50 --seed 1 --out '" + data + "'");
  const auto out = dir_.path() / "run";
  for (const std::string v : {"1", "1.5", "-0.2"}) {
    const CliResult r = RunFedrec("train --config /dev/null --set data.path='" + data +
                                      "' --set federation.mode=central --set eval.cold_items=" + v +
                                      " --out '" + out.string() + "'",
                                  dir_.path());
    EXPECT_EQ(r.exit_code, 2) << v << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("eval.cold_items")) << v;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  const CliResult e =
      RunFedrec("eval --no-cache --model pop --data '" + data + "' --cold-items 1", dir_.path());
  EXPECT_EQ(e.exit_code, 2) << e.err;
  EXPECT_THAT(e.err, HasSubstr("--cold-items"));
}

TEST_F(CliCold, TrainReportsColdTargetsAndEvalReproducesThem) {
  const std::string data = (dir_.path() / "s.txt").string();
  RunJson("data synth --users 300 --items 120 --seed 4 --out '" + data + "'");
  const std::string run = (dir_.path() / "run").string();
  const nlohmann::json summary = RunJson(
      "--log-level off train --config /dev/null --set data.path='" + data +
      "' --set seed=7 --set model.type=sasrec --set model.dim=16 --set model.blocks=1 "
      "--set train.epochs=2 --set federation.mode=central --set eval.cold_items=0.25 --out '" +
      run + "'");
  ASSERT_TRUE(summary.contains("cold_start")) << summary.dump(2);
  const nlohmann::json& cold = summary["cold_start"];
  const auto expected_cold =
      static_cast<uint32_t>(0.25 * summary["items"].get<double>() + 0.5);  // rounded
  EXPECT_EQ(cold["items"].get<uint32_t>(), expected_cold);
  EXPECT_GT(cold["sampled"]["users"].get<uint64_t>(), 0u);

  // The checkpoint's fraction and seed withhold the same items.
  const nlohmann::json e =
      RunJson("eval --no-cache --checkpoint '" + run + "/checkpoints/best.ckpt' --data '" + data +
              "' --split test --seed 7");
  ASSERT_TRUE(e.contains("cold")) << e.dump(2);
  EXPECT_EQ(e["HR@10"], summary["test_at_best"]["sampled"]["HR@10"]);
  EXPECT_EQ(e["cold"]["users"], cold["sampled"]["users"]);
  EXPECT_EQ(e["cold"]["HR@10"], cold["sampled"]["HR@10"]);
  EXPECT_EQ(e["cold"]["NDCG@10"], cold["sampled"]["NDCG@10"]);

  // Popularity with --cold-items: the cold items have no training count.
  const nlohmann::json pop = RunJson("eval --no-cache --model pop --data '" + data +
                                     "' --split test --protocol full --cold-items 0.25");
  ASSERT_TRUE(pop.contains("cold"));
  EXPECT_EQ(pop["cold"]["items"].get<uint32_t>(), expected_cold);
  EXPECT_FALSE(RunJson("eval --no-cache --model pop --data '" + data + "'").contains("cold"));
}

// `data synth --item-features`: the features load as data.item_features
// (every dataset item finds its row by the id the dataset file spells; a
// missing one would be refused), and a run records their identity.
TEST_F(CliCold, SynthItemFeaturesLoadAsTheRunsItemFeatures) {
  const std::string data = (dir_.path() / "s.txt").string();
  const std::string features = (dir_.path() / "f.npy").string();
  const std::string text = (dir_.path() / "items.tsv").string();
  const nlohmann::json synth =
      RunJson("data synth --users 300 --items 120 --clusters 6 --seed 5 --out '" + data +
              "' --item-features '" + features + "' --feature-dim 16 --item-text '" + text + "'");
  EXPECT_EQ(synth["item_ids"], (dir_.path() / "f.ids.npy").string());
  EXPECT_EQ(synth["feature_dim"], 16);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "f.ids.npy"));
  EXPECT_TRUE(std::filesystem::exists(text));
  const nlohmann::json s = RunJson(
      "--log-level off train --config /dev/null --set data.path='" + data +
      "' --set data.item_features='" + features +
      "' --set seed=3 --set model.type=sasrec --set model.dim=16 --set model.blocks=1 "
      "--set train.epochs=1 --set federation.mode=central --set eval.cold_items=0.3 --out '" +
      (dir_.path() / "run").string() + "'");
  EXPECT_TRUE(s.contains("item_features")) << s.dump(2);
  EXPECT_TRUE(s.contains("cold_start")) << s.dump(2);
  // A features path that is not .npy is refused before anything is written.
  const CliResult bad =
      RunFedrec("data synth --users 10 --items 40 --out '" + (dir_.path() / "t.txt").string() +
                    "' --item-features '" + (dir_.path() / "f.bin").string() + "'",
                dir_.path());
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("must end in .npy"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "t.txt"));
}

}  // namespace
}  // namespace fedrec::testing
