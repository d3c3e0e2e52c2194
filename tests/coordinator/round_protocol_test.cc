// The round protocol as the ranks see it: a malformed command ends the run on
// every rank with one error, and local (per-user) parameters never travel to
// rank 0, in training, evaluation or checkpoints.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "comm/local_collective.h"
#include "coordinator/federated_trainer.h"
#include "coordinator/federation_setup.h"
#include "data/synth.h"
#include "proto/local_shards.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

// A Collective that forwards to another and records every payload this rank
// contributes (Gather, Allgather, Allreduce, and Broadcasts it roots);
// optionally corrupts the first Broadcast this rank roots.
class TappedCollective final : public Collective {
 public:
  explicit TappedCollective(Collective& inner) : inner_(inner) {}

  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  absl::Status AllreduceSum(std::span<uint32_t> data) override {
    Record(data.data(), data.size_bytes());
    return inner_.AllreduceSum(data);
  }
  absl::Status AllreduceSum(std::span<uint64_t> data) override {
    Record(data.data(), data.size_bytes());
    return inner_.AllreduceSum(data);
  }
  absl::Status Broadcast(std::string* bytes, int root) override {
    if (root == rank()) {
      Record(bytes->data(), bytes->size());
      if (truncate_first_broadcast_) {
        truncate_first_broadcast_ = false;
        bytes->pop_back();
      }
    }
    return inner_.Broadcast(bytes, root);
  }
  absl::StatusOr<std::vector<std::string>> Gather(const std::string& bytes, int root) override {
    Record(bytes.data(), bytes.size());
    return inner_.Gather(bytes, root);
  }
  absl::StatusOr<std::vector<std::string>> Allgather(const std::string& bytes) override {
    Record(bytes.data(), bytes.size());
    return inner_.Allgather(bytes);
  }
  absl::Status Barrier() override { return inner_.Barrier(); }
  std::string backend_name() const override { return inner_.backend_name(); }
  void set_timeout(std::chrono::milliseconds timeout) override {
    Collective::set_timeout(timeout);
    inner_.set_timeout(timeout);
  }

  void TruncateFirstBroadcast() { truncate_first_broadcast_ = true; }
  const std::vector<std::string>& sent() const { return sent_; }

 private:
  void Record(const void* data, size_t size) {
    sent_.emplace_back(static_cast<const char*>(data), size);
  }

  Collective& inner_;
  bool truncate_first_broadcast_ = false;
  std::vector<std::string> sent_;
};

class RoundProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions synth;
    synth.users = 80;
    synth.items = 40;
    synth.clusters = 4;
    synth.mean_length = 8;
    synth.seed = 3;
    data_ = (dir_ / "synth.txt").string();
    ASSERT_TRUE(WriteSyntheticDataset(synth, data_).ok());
  }

  Config MakeConfig(const std::string& type) const {
    Config c;
    c.seed = 5;
    c.data.path = data_;
    c.data.max_len = 16;
    c.model.type = type;
    c.model.dim = 8;
    c.model.blocks = 1;
    c.model.heads = 1;
    c.train.local_epochs = 1;
    c.train.local_lr = 0.1;
    c.federation.mode = "federated";
    c.federation.workers = 2;
    c.federation.rounds = 3;
    c.federation.sampling_rate = 0.3;
    c.federation.server_optimizer = "fedavg";
    c.federation.server_lr = 1.0;
    c.aggregation.clip_norm = 0.5;
    c.eval.every = 1;
    c.checkpoint.every = 1;
    c.checkpoint.keep = 0;
    c.backend.comm = "local";
    c.backend.threads = 2;
    return c;
  }

  // Runs every rank of a local job over tapped Collectives.
  struct Job {
    std::vector<absl::StatusOr<nlohmann::json>> results;
    std::vector<std::unique_ptr<TappedCollective>> taps;
  };
  Job RunTapped(const Config& config, const std::string& out, bool corrupt_first_command) {
    Job job;
    const uint32_t workers = static_cast<uint32_t>(config.federation.workers);
    auto setup = BuildFederationSetup(config, workers, 1, "local");
    EXPECT_TRUE(setup.ok()) << setup.status();
    std::vector<std::unique_ptr<Worker>> owned;
    std::vector<Worker*> hosted;
    for (uint32_t w = 0; w < workers; ++w) {
      auto worker = CreateWorker(**setup, w);
      EXPECT_TRUE(worker.ok()) << worker.status();
      owned.push_back(*std::move(worker));
      hosted.push_back(owned.back().get());
    }
    auto group = LocalCollectiveGroup::Create(static_cast<int>(workers) + 1);
    for (uint32_t r = 0; r <= workers; ++r) {
      job.taps.push_back(std::make_unique<TappedCollective>((*group)->rank(static_cast<int>(r))));
    }
    if (corrupt_first_command) job.taps[0]->TruncateFirstBroadcast();
    job.results.assign(workers + 1, nlohmann::json());
    const TrainRunOptions run{.out_dir = (dir_ / out).string(), .quiet = true};
    std::vector<std::thread> threads;
    for (uint32_t r = 0; r <= workers; ++r) {
      threads.emplace_back(
          [&, r] { job.results[r] = RunFederatedRank(*job.taps[r], **setup, hosted, run); });
    }
    for (std::thread& t : threads) t.join();
    return job;
  }

  const testing::TempDir tmp_{"round"};
  const fs::path& dir_ = tmp_.path();
  std::string data_;
};

TEST_F(RoundProtocolTest, MalformedCommandEndsTheRunOnEveryRankWithOneError) {
  Job job = RunTapped(MakeConfig("sasrec"), "run", /*corrupt_first_command=*/true);
  ASSERT_EQ(job.results.size(), 3u);
  const std::string expected(job.results[1].status().message());
  EXPECT_NE(expected.find("round protocol"), std::string::npos) << expected;
  EXPECT_NE(expected.find("rank 1"), std::string::npos) << expected;
  for (const auto& r : job.results) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), expected);
  }
}

TEST_F(RoundProtocolTest, LocalParametersNeverReachRankZero) {
  Job job = RunTapped(MakeConfig("mf_bpr"), "mf", /*corrupt_first_command=*/false);
  for (const auto& r : job.results) ASSERT_TRUE(r.ok()) << r.status();
  // The final model's user rows, read back from the workers' shards.
  const fs::path ckpt_dir = dir_ / "mf" / "checkpoints";
  auto ckpt = ReadCheckpointWithLocalShards((ckpt_dir / "ckpt-00000003.ckpt").string());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  ASSERT_EQ(ckpt->local_shards_size(), 2);
  auto local = StoreFromTensors(ckpt->local_tensors());
  ASSERT_TRUE(local.ok()) << local.status();
  size_t rows_checked = 0;
  for (size_t k = 0; k < local->num_tensors(); ++k) {
    const ConstTensorView v = std::as_const(*local).ViewAt(k);
    if (v.cols < 4) continue;  // a bias column is too short to recognise
    for (size_t u = 0; u < v.rows; ++u) {
      const std::span<const float> row = v.Row(u);
      const std::string bytes(reinterpret_cast<const char*>(row.data()), row.size_bytes());
      for (size_t rank = 1; rank < job.taps.size(); ++rank) {
        for (const std::string& payload : job.taps[rank]->sent()) {
          ASSERT_EQ(payload.find(bytes), std::string::npos)
              << "user " << u << "'s row left worker rank " << rank;
        }
      }
      ++rows_checked;
    }
  }
  EXPECT_GT(rows_checked, 0u);
  // Rank 0's own checkpoint holds no user row.
  auto global_only = ReadCheckpoint((ckpt_dir / "ckpt-00000003.ckpt").string());
  ASSERT_TRUE(global_only.ok());
  EXPECT_EQ(global_only->local_tensors_size(), 0);
}

TEST_F(RoundProtocolTest, ShardsOfAnotherWorkerCountStillResume) {
  Config c = MakeConfig("mf_bpr");
  auto full = RunFederatedTraining(c, {.out_dir = (dir_ / "full").string(), .quiet = true});
  ASSERT_TRUE(full.ok()) << full.status();
  c.federation.rounds = 2;
  ASSERT_TRUE(RunFederatedTraining(c, {.out_dir = (dir_ / "part").string(), .quiet = true}).ok());
  c.federation.rounds = 3;
  c.federation.workers = 3;
  auto resumed =
      RunFederatedTraining(c, {.out_dir = (dir_ / "part").string(), .resume = true, .quiet = true});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)["model_sha256"], (*full)["model_sha256"]);
}

TEST_F(RoundProtocolTest, AMissingShardIsRefusedOnResume) {
  Config c = MakeConfig("mf_bpr");
  c.federation.rounds = 2;
  ASSERT_TRUE(RunFederatedTraining(c, {.out_dir = (dir_ / "run").string(), .quiet = true}).ok());
  size_t removed = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "run" / "checkpoints")) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("ckpt-00000002.") && name.ends_with("w2-of-2.local")) {
      fs::remove(e.path());
      ++removed;
    }
  }
  ASSERT_EQ(removed, 1u);
  c.federation.rounds = 3;
  auto resumed =
      RunFederatedTraining(c, {.out_dir = (dir_ / "run").string(), .resume = true, .quiet = true});
  ASSERT_FALSE(resumed.ok());
  EXPECT_NE(std::string(resumed.status().message()).find("w2-of-2.local"), std::string::npos)
      << resumed.status();
}

// GPU clients are batched for SASRec only (GRU4Rec's and MF-BPR's GPU steps,
// and SASRec's sampled losses there, train centrally): other federated runs
// with backend.compute = cuda are refused on every machine.
TEST_F(RoundProtocolTest, CudaComputeForAModelWithoutAGpuStepIsRefusedAndWritesNothing) {
  Config c;
  absl::StatusOr<nlohmann::json> r;
  for (const std::string type : {"mf_bpr", "gru4rec"}) {
    c = MakeConfig(type);
    c.backend.compute = "cuda";
    r = RunFederatedTraining(c, {.out_dir = (dir_ / "cuda").string(), .quiet = true});
    ASSERT_FALSE(r.ok()) << type;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(std::string(r.status().message()).find("federation.mode = \"central\""),
              std::string::npos)
        << r.status();
    EXPECT_FALSE(fs::exists(dir_ / "cuda"));
  }
  // GPU clients train SASRec with the paper's BCE only.
  c = MakeConfig("sasrec");
  c.backend.compute = "cuda";
  c.train.loss = "sampled_softmax";
  c.train.negatives = 8;
  r = RunFederatedTraining(c, {.out_dir = (dir_ / "cuda").string(), .quiet = true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(r.status().message()).find("train.loss: 'sampled_softmax'"),
            std::string::npos)
      << r.status();
  EXPECT_FALSE(fs::exists(dir_ / "cuda"));
}

// More ranks than any machine has GPUs: refused before the data is read,
// by name, with nothing written (Unimplemented in a build without NCCL).
TEST_F(RoundProtocolTest, NcclWithoutAGpuPerRankIsRefusedAndWritesNothing) {
  Config c = MakeConfig("sasrec");
  c.backend.comm = "nccl";
  c.federation.workers = 64;
  auto r = RunFederatedTraining(c, {.out_dir = (dir_ / "nccl").string(), .quiet = true});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == absl::StatusCode::kFailedPrecondition ||
              r.status().code() == absl::StatusCode::kUnimplemented)
      << r.status();
  EXPECT_NE(std::string(r.status().message()).find("backend.comm: 'nccl'"), std::string::npos)
      << r.status();
  EXPECT_FALSE(fs::exists(dir_ / "nccl"));
}

}  // namespace
}  // namespace fedrec
