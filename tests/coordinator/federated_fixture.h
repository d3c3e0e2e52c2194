// The federated trainer's test fixture: a small synthetic dataset in a
// fresh directory, a config every test starts from, and a Train() that runs
// in-process (local threads backend).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/federated_trainer.h"
#include "core/config.h"
#include "data/synth.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {

class FederatedTrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions synth;
    synth.users = 120;
    synth.items = 60;
    synth.clusters = 4;
    synth.mean_length = 10;
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
    c.model.dropout = 0.1;
    c.train.local_epochs = 2;
    c.train.local_lr = 0.1;
    c.federation.mode = "federated";
    c.federation.rounds = 5;
    c.federation.sampling_rate = 0.2;
    c.federation.server_optimizer = "fedadam";
    c.federation.server_lr = 0.05;
    c.aggregation.clip_norm = 0.5;
    c.eval.every = 2;
    c.checkpoint.every = 1;
    c.checkpoint.keep = 0;
    c.backend.comm = "local";
    c.backend.threads = 2;
    return c;
  }

  nlohmann::json Train(const Config& config, const std::string& name, bool resume = false) {
    auto summary = RunFederatedTraining(
        config, {.out_dir = (dir_ / name).string(), .resume = resume, .quiet = true});
    EXPECT_TRUE(summary.ok()) << summary.status();
    return summary.ok() ? *summary : nlohmann::json{};
  }

  const testing::TempDir tmp_{"fed"};
  const std::filesystem::path& dir_ = tmp_.path();
  std::string data_;
};

// Central DP on top of a test config.
inline Config DpConfig(Config c) {
  c.privacy.mode = "central";
  c.privacy.noise_multiplier = 0.8;
  c.privacy.delta = 1e-5;
  c.privacy.noise_seed = 77;  // reproducible noise for the comparison
  c.federation.rounds = 12;
  c.federation.sampling_rate = 0.2;
  return c;
}

}  // namespace fedrec
