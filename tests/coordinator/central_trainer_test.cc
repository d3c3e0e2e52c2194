#include "coordinator/central_trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/synth.h"
#include "proto/checkpoint.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

class CentralTrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions synth;
    synth.users = 150;
    synth.items = 80;
    synth.clusters = 4;
    synth.mean_length = 12;
    synth.seed = 3;
    data_ = dir_.Path("synth.txt");
    ASSERT_TRUE(WriteSyntheticDataset(synth, data_).ok());
  }

  Config MakeConfig(const std::string& type) const {
    Config c = testing::TinyConfig(type, data_);
    c.seed = 11;
    c.data.max_len = 20;
    c.model.dropout = 0.2;
    c.train.epochs = 4;
    c.train.batch_size = 32;
    c.train.lr = 0.01;
    c.federation.mode = "central";
    c.eval.every = 1;
    return c;
  }

  nlohmann::json Train(const Config& config, const std::string& name, bool resume = false) {
    auto summary = RunCentralTraining(
        config, {.out_dir = (dir_.path() / name).string(), .resume = resume, .quiet = true});
    EXPECT_TRUE(summary.ok()) << summary.status();
    return summary.ok() ? *summary : nlohmann::json{};
  }

  const testing::TempDir dir_{"central"};
  std::string data_;
};

TEST_F(CentralTrainerTest, ResultDoesNotDependOnTheThreadCount) {
  for (const std::string type : {"sasrec", "mf_bpr"}) {
    Config one = MakeConfig(type), two = MakeConfig(type);
    one.backend.threads = 1;
    two.backend.threads = 2;
    const auto a = Train(one, type + "1");
    const auto b = Train(two, type + "2");
    EXPECT_EQ(a["model_sha256"], b["model_sha256"]) << type;
    EXPECT_EQ(a["test_at_best"], b["test_at_best"]) << type;
  }
}

TEST_F(CentralTrainerTest, FinalProtocolsChooseTheTestEvaluations) {
  Config c = MakeConfig("sasrec");
  c.train.epochs = 1;
  const auto both = Train(c, "both");
  c.eval.final_protocols = "sampled";
  const auto sampled = Train(c, "sampled");
  EXPECT_TRUE(both["test_at_best"].contains("full"));
  EXPECT_FALSE(sampled["test_at_best"].contains("full"));
  EXPECT_EQ(sampled["test_at_best"]["sampled"], both["test_at_best"]["sampled"]);
}

TEST_F(CentralTrainerTest, TrainingLearnsAndWritesTheRunDirectory) {
  const auto s = Train(MakeConfig("sasrec"), "run");
  const fs::path run = dir_.path() / "run";
  EXPECT_TRUE(fs::exists(run / "config.toml"));
  EXPECT_TRUE(fs::exists(run / "summary.json"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "best.ckpt"));
  std::ifstream metrics(run / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, 4);
  // Better than a constant scorer (HR@10 = 10/101) on synthetic data with structure.
  EXPECT_GT(s["test_at_best"]["sampled"]["HR@10"].get<double>(), 0.2);
  auto best = ReadCheckpoint((run / "checkpoints" / "best.ckpt").string());
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->round(), s["best_epoch"].get<uint64_t>());
  EXPECT_EQ(best->item_ids_size(), s["items"].get<int>());
}

TEST_F(CentralTrainerTest, RefusesAnExistingRunDirectory) {
  Train(MakeConfig("mf_bpr"), "run");
  auto again = RunCentralTraining(MakeConfig("mf_bpr"),
                                  {.out_dir = (dir_.path() / "run").string(), .quiet = true});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

// Resuming from the epoch-2 checkpoint replays epochs 3-4 exactly.
TEST_F(CentralTrainerTest, ResumeFromAnEarlierCheckpointEndsIdentically) {
  for (const std::string type : {"sasrec", "mf_bpr"}) {
    const Config config = MakeConfig(type);
    const auto full = Train(config, type + "-full");
    // A run directory as a run killed right after its epoch-2 checkpoint
    // would leave it: ckpt-1, ckpt-2, metrics lines 1-2, best.ckpt <= 2.
    Config two = config;
    two.train.epochs = 2;
    Train(two, type + "-cut");
    const fs::path cut = dir_.path() / (type + "-cut");
    fs::remove(cut / "summary.json");
    std::ofstream(cut / "config.toml") << ToToml(config);
    // The epoch-2 checkpoint of the short run has the same parameters, state
    // and best-so-far as the long run's (same seed, same epochs so far).
    const auto resumed = Train(config, type + "-cut", /*resume=*/true);
    EXPECT_EQ(resumed["model_sha256"], full["model_sha256"]) << type;
    EXPECT_EQ(resumed["best_epoch"], full["best_epoch"]) << type;
    EXPECT_EQ(resumed["test_at_best"], full["test_at_best"]) << type;
  }
}

}  // namespace
}  // namespace fedrec
