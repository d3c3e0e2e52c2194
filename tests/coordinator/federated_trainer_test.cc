// Invariants of the federated runtime (DESIGN.md "Invariants"): the final
// model does not depend on the number of workers, and a resumed run ends
// where an uninterrupted one does; with central DP and secure aggregation too.
#include "coordinator/federated_trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "privacy/accountant.h"
#include "privacy/ledger.h"
#include "tests/coordinator/federated_fixture.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

TEST_F(FederatedTrainerTest, FinalModelDoesNotDependOnTheWorkerCount) {
  for (const std::string type : {"sasrec", "mf_bpr"}) {
    std::string digest;
    nlohmann::json test;
    for (int workers : {1, 2, 4}) {
      Config c = MakeConfig(type);
      c.federation.workers = workers;
      const auto s = Train(c, type + std::to_string(workers));
      ASSERT_TRUE(s.contains("model_sha256"));
      if (digest.empty()) {
        digest = s["model_sha256"];
        test = s["test_at_best"];
        EXPECT_GT(s["client_updates_this_session"].get<uint64_t>(), 0u);
      } else {
        EXPECT_EQ(s["model_sha256"], digest) << type << " workers " << workers;
        EXPECT_EQ(s["test_at_best"], test) << type << " workers " << workers;
      }
    }
  }
}

TEST_F(FederatedTrainerTest, VariantsAreAlsoWorkerCountIndependent) {
  struct Variant {
    std::string name;
    std::function<void(Config&)> set;
  };
  const std::vector<Variant> variants = {{"fixed_cohort_dropout",
                                          [](Config& c) {
                                            c.federation.clients_per_round = 17;
                                            c.federation.dropout_rate = 0.3;
                                          }},
                                         {"bits64_examples",
                                          [](Config& c) {
                                            c.aggregation.bits = 64;
                                            c.aggregation.weighting = "examples";
                                            c.federation.server_optimizer = "fedyogi";
                                          }},
                                         {"fedavgm_partition",
                                          [](Config& c) {
                                            c.federation.server_optimizer = "fedavgm";
                                            c.federation.partition = "dirichlet:0.3";
                                          }},
                                         // The shared heads with a separate
                                         // output table: two sparse item
                                         // tensors in every update.
                                         {"gbce_per_position_separate_output", [](Config& c) {
                                            c.train.loss = "gbce";
                                            c.train.negatives = 8;
                                            c.train.negative_sharing = "position";
                                            c.model.output_embedding = "separate";
                                          }}};
  for (const Variant& v : variants) {
    Config one = MakeConfig("gru4rec"), three = MakeConfig("gru4rec");
    v.set(one);
    v.set(three);
    one.federation.workers = 1;
    three.federation.workers = 3;
    const auto a = Train(one, v.name + "1");
    const auto b = Train(three, v.name + "3");
    EXPECT_EQ(a["model_sha256"], b["model_sha256"]) << v.name;
  }
}

TEST_F(FederatedTrainerTest, ResumedRunEndsLikeAnUninterruptedOne) {
  for (const std::string type : {"sasrec", "mf_bpr"}) {
    Config full = MakeConfig(type);
    full.federation.rounds = 6;
    const auto expected = Train(full, type + "_full");
    Config part = full;
    part.federation.rounds = 3;  // as if killed after round 3's checkpoint
    Train(part, type + "_part");
    full.federation.workers = 3;  // resumed with another worker count
    const auto resumed = Train(full, type + "_part", /*resume=*/true);
    EXPECT_EQ(resumed["model_sha256"], expected["model_sha256"]) << type;
    EXPECT_EQ(resumed["test_at_best"], expected["test_at_best"]) << type;
    EXPECT_EQ(resumed["best_round"], expected["best_round"]) << type;
    // metrics.jsonl holds each round once.
    std::ifstream in(dir_ / (type + "_part") / "metrics.jsonl");
    int lines = 0;
    for (std::string l; std::getline(in, l);) ++lines;
    EXPECT_EQ(lines, 6) << type;
  }
}

TEST_F(FederatedTrainerTest, LearnsOnSyntheticData) {
  Config c = MakeConfig("sasrec");
  c.federation.rounds = 40;
  c.federation.sampling_rate = 0.3;
  c.eval.every = 40;
  c.checkpoint.every = 0;
  const auto s = Train(c, "learn");
  // Random ranking among 101 candidates gives HR@10 ~ 0.1.
  EXPECT_GT(s["test_at_best"]["sampled"]["HR@10"].get<double>(), 0.3) << s.dump(2);
}

TEST_F(FederatedTrainerTest, RefusalsWriteNothing) {
  // The no-wrap refusal itself is pinned in tests/aggregation (it needs
  // millions of clients); here: a refused run leaves no directory behind.
  Config c = MakeConfig("pop");
  auto s = RunFederatedTraining(c, {.out_dir = (dir_ / "pop").string(), .quiet = true});
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(dir_ / "pop"));
  c = MakeConfig("sasrec");
  c.data.path = (dir_ / "missing.txt").string();
  s = RunFederatedTraining(c, {.out_dir = (dir_ / "missing").string(), .quiet = true});
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
}

// ---- central differential privacy ----

TEST_F(FederatedTrainerTest, BudgetStopsBeforeTheRoundThatWouldExceedIt) {
  Config c = DpConfig(MakeConfig("sasrec"));
  // Epsilon after T rounds of (q 0.2, sigma 0.8); pick a target between T=5 and T=6.
  auto e5 = privacy::PoissonGaussianEpsilon(0.2, 0.8, 5, 1e-5);
  auto e6 = privacy::PoissonGaussianEpsilon(0.2, 0.8, 6, 1e-5);
  ASSERT_TRUE(e5.ok() && e6.ok());
  c.privacy.target_epsilon = 0.5 * (e5->epsilon + e6->epsilon);
  const auto s = Train(c, "budget");
  EXPECT_EQ(s["last_round"], 5);
  ASSERT_TRUE(s.contains("stopped_reason")) << s.dump(2);
  EXPECT_NE(s["stopped_reason"].get<std::string>().find("round 6"), std::string::npos);
  EXPECT_EQ(s["privacy"]["released_rounds"], 5);
  EXPECT_NEAR(s["privacy"]["epsilon"].get<double>(), e5->epsilon, 1e-9);
  EXPECT_LE(s["privacy"]["epsilon"].get<double>(), *c.privacy.target_epsilon);
  EXPECT_TRUE(s["privacy"]["noise_seed_pinned"].get<bool>());
  EXPECT_TRUE(s["privacy"].contains("warning"));
  // privacy.json and the final checkpoint carry the same ledger.
  std::ifstream in(dir_ / "budget" / "privacy.json");
  const auto ledger = nlohmann::json::parse(in);
  EXPECT_EQ(ledger["released_rounds"], 5);
  EXPECT_EQ(ledger["rounds"].size(), 5u);
}

TEST_F(FederatedTrainerTest, ResumedRunContinuesTheLedgerExactly) {
  Config full = DpConfig(MakeConfig("sasrec"));
  full.federation.rounds = 8;
  const auto expected = Train(full, "dp_full");
  Config part = full;
  part.federation.rounds = 4;
  Train(part, "dp_part");
  const auto resumed = Train(full, "dp_part", /*resume=*/true);
  EXPECT_EQ(resumed["model_sha256"], expected["model_sha256"]);
  EXPECT_EQ(resumed["privacy"]["epsilon"], expected["privacy"]["epsilon"]);
  EXPECT_EQ(resumed["privacy"]["released_rounds"], 8);
  std::ifstream a(dir_ / "dp_full" / "privacy.json"), b(dir_ / "dp_part" / "privacy.json");
  EXPECT_EQ(nlohmann::json::parse(a), nlohmann::json::parse(b));
}

TEST_F(FederatedTrainerTest, NoiseIsSecretUnlessPinnedAndCalibrationMeetsTheTarget) {
  Config c = DpConfig(MakeConfig("gru4rec"));
  c.privacy.noise_seed.reset();
  c.federation.rounds = 3;
  const auto a = Train(c, "csprng_a");
  const auto b = Train(c, "csprng_b");
  EXPECT_NE(a["model_sha256"], b["model_sha256"]);  // fresh noise from the OS CSPRNG
  EXPECT_FALSE(a["privacy"]["noise_seed_pinned"].get<bool>());
  // noise_multiplier = 0: sigma is calibrated to spend at most the target in
  // federation.rounds rounds (both accountants).
  for (const std::string accountant : {"rdp", "pld"}) {
    Config t = DpConfig(MakeConfig("gru4rec"));
    t.federation.rounds = 6;
    t.privacy.noise_multiplier = 0;
    t.privacy.target_epsilon = 2.0;
    t.privacy.accountant = accountant;
    const auto s = Train(t, "calibrated_" + accountant);
    EXPECT_EQ(s["last_round"], 6) << accountant;
    EXPECT_LE(s["privacy"]["epsilon"].get<double>(), 2.0) << accountant;
    EXPECT_GT(s["privacy"]["epsilon"].get<double>(), 1.99) << accountant;
  }
}

TEST_F(FederatedTrainerTest, DpWithAFixedCohortNeedsTheRdpAccountant) {
  Config c = DpConfig(MakeConfig("sasrec"));
  c.federation.clients_per_round = 10;
  c.privacy.accountant = "pld";
  auto s = RunFederatedTraining(c, {.out_dir = (dir_ / "pldfixed").string(), .quiet = true});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.status().message()).find("rdp"), std::string::npos);
  c.privacy.accountant = "rdp";
  const auto ok = Train(c, "rdpfixed");
  EXPECT_EQ(ok["privacy"]["released_rounds"], 12);
}

// ---- secure aggregation in the round ----

TEST_F(FederatedTrainerTest, SecureAggregationLeavesTheModelBitwiseUnchanged) {
  Config plain = MakeConfig("sasrec");
  plain.federation.rounds = 3;
  // Clients vanish after the key setup. On the complete graph whether a
  // round keeps its threshold depends only on the (keyed) dropouts: these
  // rounds all complete.
  plain.federation.dropout_rate = 0.3;
  const auto expected = Train(plain, "plain");
  for (const std::string scope : {"worker", "client"}) {
    for (int workers : {1, 2, 4}) {
      Config c = plain;
      c.secagg.enabled = true;
      c.secagg.scope = scope;
      c.federation.workers = workers;
      const std::string name = scope + std::to_string(workers);
      const auto s = Train(c, name);
      EXPECT_EQ(s["model_sha256"], expected["model_sha256"]) << name;
    }
  }
  // Harary (SecAgg+) graphs are drawn fresh (CSPRNG) every round, so with
  // dropouts whether a neighbourhood keeps its threshold is random; without
  // dropouts every round completes and the model is again the plain one.
  Config no_drop = plain;
  no_drop.federation.dropout_rate = 0;
  const auto expected_no_drop = Train(no_drop, "plain_no_drop");
  for (const std::string scope : {"worker", "client"}) {
    Config c = no_drop;
    c.secagg.enabled = true;
    c.secagg.scope = scope;
    c.secagg.graph = "harary";
    c.federation.workers = 2;
    EXPECT_EQ(Train(c, "harary_" + scope)["model_sha256"], expected_no_drop["model_sha256"])
        << scope;
  }
  for (int bits : {32, 64}) {
    Config a = MakeConfig("mf_bpr");
    a.federation.rounds = 2;
    a.aggregation.bits = bits;
    Config b = a;
    b.secagg.enabled = true;
    b.secagg.scope = "client";
    b.secagg.authenticate = true;
    EXPECT_EQ(Train(a, "mf_plain" + std::to_string(bits))["model_sha256"],
              Train(b, "mf_secure" + std::to_string(bits))["model_sha256"])
        << bits;
  }
}

TEST_F(FederatedTrainerTest, RoundsBelowTheThresholdAbortAndSpendNothing) {
  Config c = DpConfig(MakeConfig("sasrec"));
  c.federation.rounds = 8;
  // 22 of a cohort of about 24 must survive, and each client drops with
  // 0.1: some rounds complete, others abort. (A threshold the dropouts make
  // hopeless is refused before training: CliHardening.)
  c.federation.dropout_rate = 0.1;
  c.secagg.enabled = true;
  c.secagg.scope = "client";
  c.secagg.threshold = 0.9;
  const auto s = Train(c, "abort");
  std::ifstream in(dir_ / "abort" / "metrics.jsonl");
  uint64_t aborted = 0;
  for (std::string l; std::getline(in, l);) {
    aborted += nlohmann::json::parse(l)["secagg"]["aborted"].get<bool>() ? 1 : 0;
  }
  ASSERT_GT(aborted, 0u);
  ASSERT_LT(aborted, 8u);
  EXPECT_EQ(s["rounds_withheld_this_session"]["secagg_aborted"], aborted);
  // An aborted round releases nothing and spends nothing.
  EXPECT_EQ(s["privacy"]["released_rounds"], 8 - aborted) << s.dump(2);
  privacy::LedgerOptions o;
  o.sampling_rate = c.federation.sampling_rate;
  o.noise_multiplier = c.privacy.noise_multiplier;
  o.delta = c.privacy.delta;
  auto ledger = privacy::PrivacyLedger::Create(o);
  ASSERT_TRUE(ledger.ok());
  EXPECT_DOUBLE_EQ(s["privacy"]["epsilon"].get<double>(), *ledger->EpsilonAfter(8 - aborted));
}

}  // namespace
}  // namespace fedrec
