// Cold-start evaluation (eval.cold_items) end to end: both trainers withhold
// the same items, report the cold targets apart, keep the catalogue, and a
// resume may not change the fraction.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "coordinator/central_trainer.h"
#include "coordinator/federated_trainer.h"
#include "core/config.h"
#include "data/cold_items.h"
#include "data/synth.h"
#include "models/factory.h"
#include "proto/checkpoint.h"
#include "tests/coordinator/federated_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

class ColdStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions synth;
    synth.users = 2000;
    synth.items = 300;
    synth.clusters = 6;
    synth.mean_length = 12;
    synth.seed = 21;
    data_ = dir_.Path("synth.txt");
    ASSERT_TRUE(WriteSyntheticDataset(synth, data_).ok());
  }

  Config MakeConfig() const {
    Config c = testing::TinyConfig("sasrec", data_);
    c.seed = 9;
    c.data.max_len = 20;
    c.train.epochs = 3;
    c.train.batch_size = 64;
    c.train.lr = 0.01;
    c.federation.mode = "central";
    c.eval.every = 1;
    c.eval.cold_items = 0.3;
    c.backend.threads = 2;
    return c;
  }

  absl::StatusOr<nlohmann::json> Train(const Config& config, const std::string& name,
                                       bool resume = false) {
    return RunCentralTraining(
        config, {.out_dir = (dir_.path() / name).string(), .resume = resume, .quiet = true});
  }

  const testing::TempDir dir_{"cold_start"};
  std::string data_;
};

TEST_F(ColdStartTest, CentralRunReportsColdTargetsAndKeepsTheCatalogue) {
  auto s = Train(MakeConfig(), "run");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->contains("cold_start")) << s->dump(2);
  const nlohmann::json& cold = (*s)["cold_start"];
  EXPECT_EQ(cold["fraction"].get<double>(), 0.3);
  const auto items = (*s)["items"].get<uint32_t>();
  EXPECT_EQ(cold["items"].get<uint32_t>(), static_cast<uint32_t>(std::floor(0.3 * items + 0.5)));
  const auto users = cold["cold_target_users"].get<uint64_t>();
  EXPECT_GT(users, 200u);
  for (const std::string protocol : {"sampled", "full"}) {
    ASSERT_TRUE(cold.contains(protocol)) << protocol;
    EXPECT_EQ(cold[protocol]["users"].get<uint64_t>(), users) << protocol;
    EXPECT_LT(cold[protocol]["users"].get<uint64_t>(),
              (*s)["test_at_best"][protocol]["users"].get<uint64_t>());
  }
  // The catalogue is unchanged: the model scores every item.
  const auto best = ReadCheckpoint((dir_.path() / "run" / "checkpoints" / "best.ckpt").string());
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_EQ(best->model().num_items(), (*s)["items"].get<uint32_t>());
  EXPECT_EQ(best->item_ids_size(), (*s)["items"].get<int>());

  // A cold item is in no input, no target and never a training negative
  // (Model::SetNegativeExclusions): the id model's rows of the cold items
  // are exactly their initial values, while every warm row moved.
  auto trained = LoadModel(*best);
  ASSERT_TRUE(trained.ok()) << trained.status();
  auto initial = CreateModel(best->model());
  ASSERT_TRUE(initial.ok()) << initial.status();
  (*initial)->Initialize(9);
  const auto is_cold = DrawColdItems(best->model().num_items(), 0.3, 9);
  ASSERT_TRUE(is_cold.ok());
  const auto& trained_params = std::as_const(**trained).global_params();
  const auto& initial_params = std::as_const(**initial).global_params();
  const ConstTensorView now = trained_params.ViewAt(0);
  const ConstTensorView init = initial_params.ViewAt(0);
  ASSERT_EQ(now.size(), init.size());
  const size_t d = (*trained)->global_params().layout()[0].cols;
  size_t cold_rows = 0, warm_moved = 0;
  for (size_t item = 0; item < is_cold->size(); ++item) {
    const bool same =
        std::equal(now.data + item * d, now.data + (item + 1) * d, init.data + item * d);
    if ((*is_cold)[item] != 0) {
      EXPECT_TRUE(same) << "cold item " << item << " was trained";
      ++cold_rows;
    } else {
      warm_moved += !same;
    }
  }
  EXPECT_EQ(cold_rows, cold["items"].get<size_t>());
  EXPECT_EQ(warm_moved, is_cold->size() - cold_rows);

  // The id model learned the warm items well above chance (10/101 on the
  // sampled protocol) but never saw a cold item, so it cannot rank them:
  // its cold rows are random. HR@10 over n users at chance has sd
  // sqrt(p (1 - p) / n) = 0.0125 for n = 574; the bound is chance + 4 sd.
  EXPECT_GT((*s)["test_at_best"]["sampled"]["HR@10"].get<double>(), 0.2);
  const double chance = 10.0 / 101.0;
  const double sd = std::sqrt(chance * (1 - chance) / static_cast<double>(users));
  EXPECT_LT(cold["sampled"]["HR@10"].get<double>(), chance + 4 * sd);
  EXPECT_LT(cold["full"]["HR@10"].get<double>(),
            (*s)["test_at_best"]["full"]["HR@10"].get<double>());
}

TEST_F(ColdStartTest, OffByDefaultAndNoColdBlock) {
  Config c = MakeConfig();
  c.eval.cold_items = 0;
  c.train.epochs = 1;
  auto s = Train(c, "off");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->contains("cold_start"));
}

TEST_F(ColdStartTest, ResumeRefusesAnotherFraction) {
  Config c = MakeConfig();
  c.train.epochs = 1;
  ASSERT_TRUE(Train(c, "resume").ok());
  c.train.epochs = 2;
  c.eval.cold_items = 0.2;
  const auto again = Train(c, "resume", /*resume=*/true);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(again.status())) << again.status();
  EXPECT_THAT(std::string(again.status().message()), ::testing::HasSubstr("eval.cold_items"));
  // The same fraction resumes.
  c.eval.cold_items = 0.3;
  const auto same = Train(c, "resume", /*resume=*/true);
  EXPECT_TRUE(same.ok()) << same.status();
}

TEST(ColdStartConfig, FractionMustBeInTheUnitInterval) {
  for (const std::string v : {"1.0", "-0.1", "1.5", "nan"}) {
    const auto c = ParseConfig("[eval]\ncold_items = " + v + "\n", "c.toml");
    ASSERT_FALSE(c.ok()) << v;
    EXPECT_TRUE(absl::IsInvalidArgument(c.status()));
    EXPECT_THAT(std::string(c.status().message()),
                ::testing::HasSubstr("c.toml:2: eval.cold_items"));
  }
  const auto ok = ParseConfig("[eval]\ncold_items = 0.25\n", "c.toml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->eval.cold_items, 0.25);
  EXPECT_EQ(ParseConfig("", "c.toml")->eval.cold_items, 0.0);
}

TEST_F(FederatedTrainerTest, ColdTargetsAreReportedForAnyWorkerCount) {
  nlohmann::json cold;
  for (int workers : {1, 3}) {
    Config c = MakeConfig("sasrec");
    c.federation.workers = workers;
    c.eval.cold_items = 0.25;
    const auto s = Train(c, "cold" + std::to_string(workers));
    ASSERT_TRUE(s.contains("cold_start")) << s.dump(2);
    const nlohmann::json& got = s["cold_start"];
    EXPECT_GT(got["cold_target_users"].get<uint64_t>(), 0u);
    EXPECT_GT(got["sampled"]["users"].get<uint64_t>(), 0u);
    EXPECT_TRUE(got.contains("full"));
    if (cold.is_null()) {
      cold = got;
    } else {
      EXPECT_EQ(got, cold) << "workers " << workers;
    }
  }
}

}  // namespace
}  // namespace fedrec
