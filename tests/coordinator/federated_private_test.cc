// The federated trainer with distributed differential privacy (each client's
// discrete Gaussian share inside secure aggregation) and adaptive clipping:
// worker-count independence, the ledger, budget stops and resume.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "coordinator/run_dir.h"
#include "privacy/accountant.h"
#include "privacy/ddg.h"
#include "proto/checkpoint.h"
#include "tests/coordinator/federated_fixture.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

// ---- distributed differential privacy ----

Config DistributedConfig(Config c) {
  c.privacy.mode = "distributed";
  c.privacy.noise_multiplier = 0.8;
  c.privacy.delta = 1e-5;
  c.privacy.noise_seed = 77;  // pins each client's rounding and noise
  // 98 clients at q 0.2 cannot promise many shares at the automatic 1e-9 (let
  // alone with a target); the pinned cohorts of these tests all reach 3.
  c.privacy.min_clients = 3;
  c.secagg.enabled = true;
  c.federation.rounds = 4;
  c.federation.sampling_rate = 0.2;
  return c;
}

// The flat global parameters of a run's last checkpoint.
std::vector<float> FinalParameters(const fs::path& run) {
  auto dir = RunDirectory::Reopen(run.string());
  EXPECT_TRUE(dir.ok());
  auto latest = dir->LatestCheckpoint();
  EXPECT_TRUE(latest.has_value());
  auto ckpt = ReadCheckpoint(*latest);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  std::vector<float> out;
  for (const auto& t : ckpt->tensors()) {
    const size_t n = t.data().size() / sizeof(float);
    const size_t at = out.size();
    out.resize(at + n);
    std::memcpy(out.data() + at, t.data().data(), n * sizeof(float));
  }
  return out;
}

TEST_F(FederatedTrainerTest, DistributedNoiseIsIndependentOfWorkersAndScope) {
  std::string digest;
  for (const std::string scope : {"worker", "client"}) {
    for (int workers : {1, 3}) {
      Config c = DistributedConfig(MakeConfig("sasrec"));
      c.secagg.scope = scope;
      c.federation.workers = workers;
      const std::string name = "ddg_" + scope + std::to_string(workers);
      const auto s = Train(c, name);
      ASSERT_TRUE(s.contains("privacy")) << name;
      EXPECT_EQ(s["privacy"]["mode"], "distributed");
      EXPECT_EQ(s["privacy"]["released_rounds"], 4) << name;
      if (digest.empty()) {
        digest = s["model_sha256"];
      } else {
        EXPECT_EQ(s["model_sha256"], digest) << name;
      }
    }
  }
  // The noise is the clients' own: without a pinned seed it is fresh.
  Config c = DistributedConfig(MakeConfig("sasrec"));
  c.privacy.noise_seed.reset();
  EXPECT_NE(Train(c, "ddg_csprng")["model_sha256"], digest);
}

TEST_F(FederatedTrainerTest, DistributedWithLittleNoiseDecodesTheCentralSum) {
  // With a tiny noise multiplier the decoded DDG sum (rotation, conditional
  // rounding, mod 2^32, inverse rotation) must be the clipped sum the
  // fixed-point path decodes: the two models end within the noise.
  Config central = DpConfig(MakeConfig("sasrec"));
  central.federation.rounds = 3;
  central.federation.server_optimizer = "fedavg";
  central.federation.server_lr = 1.0;
  central.privacy.noise_multiplier = 1e-4;
  Config distributed = DistributedConfig(central);
  distributed.federation.rounds = 3;
  distributed.privacy.noise_multiplier = 1e-4;
  Train(central, "tiny_central");
  const auto s = Train(distributed, "tiny_ddg");
  const std::vector<float> a = FinalParameters(dir_ / "tiny_central");
  const std::vector<float> b = FinalParameters(dir_ / "tiny_ddg");
  Config none = central;
  none.federation.sampling_rate = 1e-9;  // nobody sampled: the initial model
  none.privacy.mode = "none";
  Train(none, "initial");
  const std::vector<float> init = FinalParameters(dir_ / "initial");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), init.size());
  double max_diff = 0, max_step = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
    max_step = std::max(max_step, std::abs(static_cast<double>(a[i]) - init[i]));
  }
  EXPECT_GT(max_step, 1e-2);  // the runs did move the model
  EXPECT_LT(max_diff, 1e-4) << "max step " << max_step;
  EXPECT_EQ(s["privacy"]["distributed"]["padded_dim"].get<int64_t>(),
            privacy::DdgPaddedDim(static_cast<int64_t>(a.size())));
}

TEST_F(FederatedTrainerTest, DistributedLedgerStopsAtTheBudgetAndResumesExactly) {
  Config c = DistributedConfig(MakeConfig("gru4rec"));
  c.federation.rounds = 8;
  const auto full = Train(c, "ddg_full");
  // The run's one-round RDP curve, rebuilt from what the summary reports.
  const auto& d = full["privacy"]["distributed"];
  privacy::DdgParams p;
  p.dim = d["dim"];
  p.clip = c.aggregation.clip_norm;
  p.gamma = d["gamma"];
  p.bits = d["bits"];
  p.beta = d["beta"];
  p.num_clients = d["min_noise_shares"];
  p.local_stddev = d["local_stddev"];
  EXPECT_NEAR(p.local_stddev, 0.8 * p.clip / std::sqrt(static_cast<double>(p.num_clients)), 1e-12);
  auto curve = privacy::DdgPoissonSubsampledRdp(p, 0.2, privacy::DefaultRdpOrders());
  ASSERT_TRUE(curve.ok()) << curve.status();
  auto epsilon_after = [&](int64_t steps) {
    privacy::RdpAccountant acc;
    EXPECT_TRUE(acc.ComposeRdp(*curve, steps).ok());
    return acc.Epsilon(1e-5)->epsilon;
  };
  EXPECT_NEAR(full["privacy"]["epsilon"].get<double>(), epsilon_after(8), 1e-9);
  // A target between 5 and 6 rounds stops before round 6.
  Config budget = c;
  budget.privacy.target_epsilon = 0.5 * (epsilon_after(5) + epsilon_after(6));
  const auto s = Train(budget, "ddg_budget");
  EXPECT_EQ(s["last_round"], 5) << s.dump(2);
  EXPECT_EQ(s["privacy"]["released_rounds"], 5);
  EXPECT_NEAR(s["privacy"]["epsilon"].get<double>(), epsilon_after(5), 1e-9);
  // Kill-free resume: 4 rounds, then on to 8, ends where the full run did.
  Config part = c;
  part.federation.rounds = 4;
  Train(part, "ddg_part");
  const auto resumed = Train(c, "ddg_part", /*resume=*/true);
  EXPECT_EQ(resumed["model_sha256"], full["model_sha256"]);
  EXPECT_EQ(resumed["privacy"]["epsilon"], full["privacy"]["epsilon"]);
  std::ifstream ledger(dir_ / "ddg_full" / "privacy.json");
  const auto j = nlohmann::json::parse(ledger);
  EXPECT_EQ(j["mechanism"], "poisson_subsampled_distributed_discrete_gaussian");
  EXPECT_EQ(j["rounds"].size(), 8u);
}

TEST_F(FederatedTrainerTest, DistributedRoundsShortOfNoiseSharesAreWithheld) {
  Config c = DistributedConfig(MakeConfig("sasrec"));
  c.federation.rounds = 3;
  // The whole population (98 clients): a round would need every one of them
  // sampled and uploading. (More than the population is refused up front.)
  c.privacy.min_clients = 98;
  const auto s = Train(c, "short");
  EXPECT_EQ(s["privacy"]["released_rounds"], 0) << s.dump(2);
  EXPECT_EQ(s["privacy"]["epsilon"], 0.0);
  std::ifstream in(dir_ / "short" / "metrics.jsonl");
  int withheld = 0;
  for (std::string l; std::getline(in, l);)
    withheld += nlohmann::json::parse(l).contains("withheld");
  EXPECT_EQ(withheld, 3);
  Config zero = MakeConfig("sasrec");
  zero.federation.rounds = 3;
  zero.federation.sampling_rate = 1e-9;
  EXPECT_EQ(Train(zero, "untouched")["model_sha256"], s["model_sha256"]);
}

TEST_F(FederatedTrainerTest, DistributedNoiseSharesDefaultToWhatSamplingGuarantees) {
  Config c = DistributedConfig(MakeConfig("sasrec"));
  c.federation.rounds = 2;
  c.privacy.min_clients = 0;  // automatic: P(fewer uploads) <= 1e-9 per round
  const auto s = Train(c, "auto");
  const auto& d = s["privacy"]["distributed"];
  const int64_t population = s["clients"];
  EXPECT_EQ(d["min_noise_shares"].get<int64_t>(),
            privacy::MinimumNoiseShares(population, 0.2, 1e-9));
  EXPECT_LE(d["shortfall_probability_per_round"].get<double>(), 1e-9);
  EXPECT_GE(d["delta_shortfall"].get<double>(), 0.0);
  // With a target the slack T p (1 + e^eps) must stay below delta / 100: a
  // federation this small cannot promise even one share.
  c.privacy.noise_multiplier = 0;
  c.privacy.target_epsilon = 4;
  c.federation.rounds = 50;  // p <= 1e-5 / (100 * 50 * (1 + e^4)) = 3.6e-11 < P(X < 1)
  auto refused = RunFederatedTraining(c, {.out_dir = (dir_ / "auto_t").string(), .quiet = true});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("min_clients"), std::string::npos);
}

TEST_F(FederatedTrainerTest, DistributedRefusesWhatItCannotAccount) {
  struct Case {
    std::string name, needle;
    std::function<void(Config&)> set;
  };
  const std::vector<Case> cases = {
      {"bits", "aggregation.bits", [](Config& c) { c.aggregation.bits = 64; }},
      {"fixed", "clients_per_round", [](Config& c) { c.federation.clients_per_round = 10; }},
      {"pld", "privacy.accountant", [](Config& c) { c.privacy.accountant = "pld"; }},
      {"adaptive", "adaptive_clip", [](Config& c) { c.privacy.adaptive_clip = true; }},
      {"secagg", "secagg.enabled", [](Config& c) { c.secagg.enabled = false; }}};
  for (const Case& k : cases) {
    Config c = DistributedConfig(MakeConfig("sasrec"));
    k.set(c);
    auto s = RunFederatedTraining(c, {.out_dir = (dir_ / k.name).string(), .quiet = true});
    ASSERT_FALSE(s.ok()) << k.name;
    EXPECT_NE(std::string(s.status().message()).find(k.needle), std::string::npos) << s.status();
    EXPECT_FALSE(fs::exists(dir_ / k.name)) << k.name;
  }
}

// ---- adaptive clipping ----

std::vector<nlohmann::json> MetricLines(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l));
  return out;
}

TEST_F(FederatedTrainerTest, AdaptiveClipTracksTheTargetQuantile) {
  for (double start : {20.0, 1e-4}) {
    Config c = MakeConfig("sasrec");
    c.federation.rounds = 40;
    c.federation.sampling_rate = 0.4;
    c.eval.every = 0;
    c.checkpoint.every = 0;
    c.aggregation.clip_norm = start;
    c.privacy.adaptive_clip = true;
    c.privacy.clip_lr = 0.5;
    const std::string name = "track" + std::to_string(start > 1);
    const auto s = Train(c, name);
    ASSERT_TRUE(s.contains("adaptive_clip")) << s.dump(2);
    const auto lines = MetricLines(dir_ / name);
    ASSERT_EQ(lines.size(), 40u);
    EXPECT_EQ(lines.front()["clip_norm"].get<double>(), start);
    // From far above the norms the clip falls, from far below it rises ...
    const double last_clip = lines.back()["clip_norm"];
    EXPECT_TRUE(start > 1 ? last_clip < start / 20 : last_clip > start * 20) << last_clip;
    // ... and ends clipping about half of the clients.
    double clipped = 0;
    for (size_t i = lines.size() - 10; i < lines.size(); ++i) {
      clipped += lines[i]["fraction_clipped"].get<double>() / 10;
    }
    EXPECT_GT(clipped, 0.2) << start;
    EXPECT_LT(clipped, 0.8) << start;
  }
}

TEST_F(FederatedTrainerTest, AdaptiveClipUnderCentralDpCostsTheSameEpsilonAndResumes) {
  Config c = DpConfig(MakeConfig("sasrec"));
  c.federation.rounds = 8;
  c.privacy.adaptive_clip = true;
  c.privacy.clip_count_stddev = 2.0;  // the update keeps sigma_Delta = (0.8^-2 - 4^-2)^-1/2
  const auto full = Train(c, "ac_full");
  const auto plain_epsilon = privacy::PoissonGaussianEpsilon(0.2, 0.8, 8, 1e-5);
  ASSERT_TRUE(plain_epsilon.ok());
  EXPECT_NEAR(full["privacy"]["epsilon"].get<double>(), plain_epsilon->epsilon, 1e-9);
  EXPECT_NEAR(full["adaptive_clip"]["update_noise_multiplier"].get<double>(),
              1 / std::sqrt(1 / 0.64 - 1 / 16.0), 1e-12);
  // The ledger records each round's clip norm.
  std::ifstream in(dir_ / "ac_full" / "privacy.json");
  const auto ledger = nlohmann::json::parse(in);
  ASSERT_EQ(ledger["rounds"].size(), 8u);
  EXPECT_NE(ledger["rounds"][0]["clip_norm"], ledger["rounds"][7]["clip_norm"]);
  // Resume (the clip's state is in the checkpoint) and worker count.
  Config part = c;
  part.federation.rounds = 4;
  Train(part, "ac_part");
  EXPECT_EQ(Train(c, "ac_part", /*resume=*/true)["model_sha256"], full["model_sha256"]);
  Config three = c;
  three.federation.workers = 3;
  EXPECT_EQ(Train(three, "ac_three")["model_sha256"], full["model_sha256"]);
  // sigma must stay below 2 sigma_b.
  Config bad = c;
  bad.privacy.clip_count_stddev = 0.3;
  auto s = RunFederatedTraining(bad, {.out_dir = (dir_ / "ac_bad").string(), .quiet = true});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.status().message()).find("count_stddev"), std::string::npos)
      << s.status();
}

}  // namespace
}  // namespace fedrec
