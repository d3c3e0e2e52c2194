#include "coordinator/central_trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "coordinator/run_common.h"
#include "data/synth.h"
#include "fmt/format.h"
#include "models/cuda/compute_backend.h"
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

// train.patience: the run stops after `patience` evaluations without a
// better validation score, checkpoints that epoch, says so in summary.json;
// a resume of the stopped run, or of an earlier checkpoint, ends identically.
TEST_F(CentralTrainerTest, PatienceStopsTheRunAndResumeStopsAtTheSameEpoch) {
  Config config = MakeConfig("sasrec");
  config.train.epochs = 40;
  config.train.lr = 0.05;
  config.train.patience = 2;
  const auto full = Train(config, "patience");
  ASSERT_TRUE(full["stopped_early"].get<bool>());
  const uint64_t stop = full["stopped_at_epoch"].get<uint64_t>();
  EXPECT_EQ(stop, full["best_epoch"].get<uint64_t>() + 2);
  EXPECT_LT(stop, 40u);
  const fs::path run = dir_.path() / "patience";
  std::ifstream metrics(run / "metrics.jsonl");
  uint64_t lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, stop);
  EXPECT_TRUE(fs::exists(run / "checkpoints" / fmt::format("ckpt-{:08d}.ckpt", stop)));

  // Resumed from its own last checkpoint: nothing more is trained.
  fs::remove(run / "summary.json");
  const auto again = Train(config, "patience", /*resume=*/true);
  EXPECT_EQ(again["model_sha256"], full["model_sha256"]);
  EXPECT_EQ(again["stopped_at_epoch"], full["stopped_at_epoch"]);
  EXPECT_EQ(again["test_at_best"], full["test_at_best"]);

  // Resumed from an epoch before the stop (every epoch is evaluated, so the
  // shorter run's checkpoint is the longer run's).
  Config cut = config;
  cut.train.epochs = static_cast<int64_t>(stop - 1);
  Train(cut, "patience-cut");
  const fs::path cut_dir = dir_.path() / "patience-cut";
  fs::remove(cut_dir / "summary.json");
  std::ofstream(cut_dir / "config.toml") << ToToml(config);
  const auto resumed = Train(config, "patience-cut", /*resume=*/true);
  EXPECT_EQ(resumed["model_sha256"], full["model_sha256"]);
  EXPECT_EQ(resumed["stopped_at_epoch"], full["stopped_at_epoch"]);

  // Off by default: no stopped_early key, every epoch trained.
  Config off = MakeConfig("mf_bpr");
  EXPECT_FALSE(Train(off, "no-patience").contains("stopped_early"));
}

// The shared-negative losses through the trainer: popularity negatives get
// their counts from the training data, and the result is thread-invariant.
TEST_F(CentralTrainerTest, SharedNegativeLossesTrainAndAreThreadInvariant) {
  for (const std::string type : {"sasrec", "gru4rec"}) {
    for (const std::string loss : {"sampled_softmax", "gbce"}) {
      SCOPED_TRACE(type);
      Config one = MakeConfig(type);
      one.train.epochs = 2;
      // gBCE with the GRU's tied item table barely learns (README, "Losses").
      if (type == "gru4rec") one.model.output_embedding = "separate";
      one.train.loss = loss;
      one.train.negatives = 16;
      one.train.negative_sampler = "popularity";
      one.train.normalize_embeddings = loss == "sampled_softmax";
      one.train.temperature = loss == "sampled_softmax" ? 0.1 : 1.0;
      Config two = one;
      one.backend.threads = 1;
      two.backend.threads = 2;
      const auto a = Train(one, type + loss + "1");
      const auto b = Train(two, type + loss + "2");
      EXPECT_EQ(a["model_sha256"], b["model_sha256"]) << loss;
      EXPECT_GT(a["test_at_best"]["sampled"]["HR@10"].get<double>(), 0.15) << loss;
    }
  }
}

TEST(PatienceExhausted, CountsEvaluationsAfterTheBest) {
  // every = 2, 10 steps: evaluations at 2, 4, 6, 8, 10.
  EXPECT_FALSE(PatienceExhausted(0, 2, 10, 2, 8));
  EXPECT_FALSE(PatienceExhausted(2, 2, 10, 0, 8));  // no best yet
  EXPECT_FALSE(PatienceExhausted(2, 2, 10, 4, 6));
  EXPECT_FALSE(PatienceExhausted(2, 2, 10, 4, 7));
  EXPECT_TRUE(PatienceExhausted(2, 2, 10, 4, 8));
  // every = 3, 10 steps: evaluations at 3, 6, 9 and the last step 10.
  EXPECT_FALSE(PatienceExhausted(2, 3, 10, 6, 9));
  EXPECT_TRUE(PatienceExhausted(2, 3, 10, 6, 10));
  // every = 0: only the last step is evaluated.
  EXPECT_FALSE(PatienceExhausted(1, 0, 10, 10, 10));
}

// backend.compute = "cuda" trains SASRec, GRU4Rec and MF-BPR centrally with
// their device programs (here on HostTensorOps), with the paper's losses and
// with sampled softmax: reproducibly, and to the CPU model's quality (the two
// differ by float rounding only, which training amplifies a little).
class CentralDeviceTest : public CentralTrainerTest {
 protected:
  void SetUp() override {
    CentralTrainerTest::SetUp();
    SetDeviceTensorOpsForTesting([] {
      return absl::StatusOr<std::unique_ptr<kernels::TensorOps>>(kernels::NewHostTensorOps());
    });
  }
  void TearDown() override { SetDeviceTensorOpsForTesting({}); }
};

TEST_F(CentralDeviceTest, DeviceModelsTrainReproduciblyToTheCpuModelsQuality) {
  // The paper's losses, the modern recipe's sampled softmax and the full
  // softmax.
  for (const std::string tag :
       {"gru4rec", "sasrec", "mf_bpr", "gru4rec-ss", "sasrec-ss", "gru4rec-ce", "sasrec-ce"}) {
    const std::string type = tag.substr(0, tag.find('-'));
    Config cpu = MakeConfig(type), cuda = MakeConfig(type);
    cpu.train.epochs = cuda.train.epochs = 3;
    if (type == "mf_bpr") cpu.model.l2 = cuda.model.l2 = 1e-3;
    if (tag.ends_with("-ss")) {
      cpu.train.loss = cuda.train.loss = "sampled_softmax";
      cpu.train.negatives = cuda.train.negatives = 16;
    }
    if (tag.ends_with("-ce")) {
      cpu.train.loss = cuda.train.loss = "ce";
      cpu.train.negatives = cuda.train.negatives = 0;
    }
    cuda.backend.compute = "cuda";
    const auto a = Train(cuda, tag + "-cuda");
    const auto b = Train(cuda, tag + "-cuda-again");
    const auto c = Train(cpu, tag + "-cpu");
    EXPECT_EQ(a["model_sha256"], b["model_sha256"]) << tag;
    EXPECT_NE(a["model_sha256"], c["model_sha256"]) << tag;  // the device step ran
    const double hr_cuda = a["test_at_best"]["sampled"]["HR@10"].get<double>();
    const double hr_cpu = c["test_at_best"]["sampled"]["HR@10"].get<double>();
    EXPECT_GT(hr_cuda, 0.2) << tag;
    EXPECT_NEAR(hr_cuda, hr_cpu, 0.05) << tag;
  }
}

// A model without a GPU step is refused by name before anything is written.
TEST_F(CentralDeviceTest, AModelWithoutAGpuStepIsRefused) {
  SynthOptions synth;
  synth.users = 40;
  synth.items = 30;
  synth.seed = 4;
  const std::string csv = dir_.Path("ratings.csv");
  ASSERT_TRUE(WriteSyntheticDataset(synth, csv).ok());
  Config c = MakeConfig("mf_rating");
  c.data.path = csv;
  c.backend.compute = "cuda";
  auto r = RunCentralTraining(c, {.out_dir = (dir_.path() / "rating").string(), .quiet = true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(r.status().message())
                .find("backend.compute: 'cuda' trains SASRec, GRU4Rec and MF-BPR only"),
            std::string::npos)
      << r.status();
  EXPECT_FALSE(fs::exists(dir_.path() / "rating"));
}

}  // namespace
}  // namespace fedrec
