// train.patience in federated training: the run stops after `patience`
// evaluations without a better validation score, checkpoints the round that
// stopped it, and a resume (from that round or from before it) stops at the
// same round with the same model.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/config.h"
#include "tests/coordinator/federated_fixture.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

TEST_F(FederatedTrainerTest, PatienceStopsTheRunAndResumeStopsAtTheSameRound) {
  Config config = MakeConfig("sasrec");
  config.federation.rounds = 40;
  config.federation.server_lr = 0.3;
  config.eval.every = 1;
  config.train.patience = 2;
  const auto full = Train(config, "patience");
  ASSERT_TRUE(full["stopped_early"].get<bool>()) << full.dump(2);
  const uint64_t stop = full["stopped_at_round"].get<uint64_t>();
  EXPECT_EQ(stop, full["best_round"].get<uint64_t>() + 2);
  EXPECT_LT(stop, 40u);
  EXPECT_EQ(full["last_round"].get<uint64_t>(), stop);
  const fs::path run = dir_ / "patience";
  std::ifstream metrics(run / "metrics.jsonl");
  uint64_t lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, stop);
  EXPECT_TRUE(fs::exists(run / "checkpoints" / fmt::format("ckpt-{:08d}.ckpt", stop)));

  // Resumed from its own last checkpoint: nothing more is trained.
  fs::remove(run / "summary.json");
  const auto again = Train(config, "patience", /*resume=*/true);
  EXPECT_EQ(again["model_sha256"], full["model_sha256"]);
  EXPECT_EQ(again["stopped_at_round"], full["stopped_at_round"]);
  EXPECT_EQ(again["test_at_best"], full["test_at_best"]);

  // Resumed from a round before the stop (every round is evaluated and
  // checkpointed, so the shorter run's last checkpoint is the longer run's).
  Config cut = config;
  cut.federation.rounds = static_cast<int64_t>(stop - 1);
  Train(cut, "patience-cut");
  const fs::path cut_dir = dir_ / "patience-cut";
  fs::remove(cut_dir / "summary.json");
  std::ofstream(cut_dir / "config.toml") << ToToml(config);
  const auto resumed = Train(config, "patience-cut", /*resume=*/true);
  EXPECT_EQ(resumed["model_sha256"], full["model_sha256"]);
  EXPECT_EQ(resumed["stopped_at_round"], full["stopped_at_round"]);

  // Off by default: no stopped_early key.
  Config off = MakeConfig("sasrec");
  EXPECT_FALSE(Train(off, "no-patience").contains("stopped_early"));
}

}  // namespace
}  // namespace fedrec
