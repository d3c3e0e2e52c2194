// The privacy ledger's write-ahead journal: the file format, torn tails,
// and that a resumed run pays for every release that left the coordinator,
// checkpointed or not (coordinator/ledger_journal.h).
#include "coordinator/ledger_journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "privacy/ledger.h"
#include "tests/coordinator/federated_fixture.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadAll(const fs::path& p) {
  auto text = ReadFileToString(p.string());
  return text.ok() ? *text : "";
}

TEST(LedgerJournal, AppendsDurableLinesAndReadsThemBack) {
  const testing::TempDir dir("journal");
  const std::string path = (dir.path() / "privacy.journal").string();
  {
    auto j = LedgerJournal::Open(path);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_TRUE(j->entries().empty());
    ASSERT_TRUE(j->Append({.step = 1, .round = 1, .clip_norm = 0.5, .cohort = 12}).ok());
    ASSERT_TRUE(j->Append({.step = 2, .round = 2, .clip_norm = 0.25, .cohort = 9}).ok());
    // Steps only increase.
    EXPECT_EQ(j->Append({.step = 2, .round = 3, .clip_norm = 1, .cohort = 1}).code(),
              absl::StatusCode::kInternal);
  }
  EXPECT_EQ(ReadAll(path),
            "{\"clip_norm\":0.5,\"cohort\":12,\"round\":1,\"step\":1}\n"
            "{\"clip_norm\":0.25,\"cohort\":9,\"round\":2,\"step\":2}\n");
  auto again = LedgerJournal::Open(path);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->entries().size(), 2u);
  EXPECT_EQ(again->entries()[1],
            (JournalEntry{.step = 2, .round = 2, .clip_norm = 0.25, .cohort = 9}));
  ASSERT_EQ(again->After(1).size(), 1u);
  EXPECT_EQ(again->After(1)[0].step, 2u);
  EXPECT_TRUE(again->After(2).empty());
}

TEST(LedgerJournal, ATornLastLineWasNeverAcknowledgedAndIsDropped) {
  const testing::TempDir dir("journal");
  const std::string path = (dir.path() / "privacy.journal").string();
  ASSERT_TRUE(WriteFileAtomic(path,
                              "{\"clip_norm\":1,\"cohort\":3,\"round\":1,\"step\":1}\n"
                              "{\"clip_norm\":1,\"coh")
                  .ok());
  auto j = LedgerJournal::Open(path);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->entries().size(), 1u);
  ASSERT_TRUE(j->Append({.step = 2, .round = 2, .clip_norm = 1, .cohort = 4}).ok());
  EXPECT_EQ(ReadAll(path),
            "{\"clip_norm\":1,\"cohort\":3,\"round\":1,\"step\":1}\n"
            "{\"clip_norm\":1.0,\"cohort\":4,\"round\":2,\"step\":2}\n");
}

TEST(LedgerJournal, ADamagedCompleteLineIsDataLossNamingTheLine) {
  const testing::TempDir dir("journal");
  const std::string path = (dir.path() / "privacy.journal").string();
  ASSERT_TRUE(WriteFileAtomic(path,
                              "{\"clip_norm\":1,\"cohort\":3,\"round\":1,\"step\":1}\n"
                              "{\"clip_norm\":1,\"cohort\":3,\"round\":1}\n")
                  .ok());
  auto j = LedgerJournal::Open(path);
  EXPECT_EQ(j.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("privacy.journal:2:"));
  ASSERT_TRUE(WriteFileAtomic(path,
                              "{\"clip_norm\":1,\"cohort\":3,\"round\":2,\"step\":2}\n"
                              "{\"clip_norm\":1,\"cohort\":3,\"round\":1,\"step\":1}\n")
                  .ok());
  j = LedgerJournal::Open(path);
  EXPECT_EQ(j.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("step 1 does not follow step 2"));
}

TEST(LedgerJournal, KeepThroughRewritesAndAppendsContinue) {
  const testing::TempDir dir("journal");
  const std::string path = (dir.path() / "privacy.journal").string();
  auto j = LedgerJournal::Open(path);
  ASSERT_TRUE(j.ok());
  for (uint64_t s = 1; s <= 4; ++s) {
    ASSERT_TRUE(j->Append({.step = s, .round = s, .clip_norm = 1, .cohort = 2}).ok());
  }
  ASSERT_TRUE(j->KeepThrough(2).ok());
  ASSERT_TRUE(j->Append({.step = 3, .round = 3, .clip_norm = 1, .cohort = 5}).ok());
  auto again = LedgerJournal::Open(path);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->entries().size(), 3u);
  EXPECT_EQ(again->entries()[2].cohort, 5u);
}

// ---- the ledger across a lost checkpoint ----

// Epsilon of `steps` rounds of the run's mechanism, from a fresh ledger.
double EpsilonOf(const nlohmann::json& privacy, uint64_t steps) {
  privacy::LedgerOptions o;
  o.sampling_rate = privacy["sampling_rate"].get<double>();
  o.noise_multiplier = privacy["noise_multiplier"].get<double>();
  o.delta = privacy["delta"].get<double>();
  auto ledger = privacy::PrivacyLedger::Create(o);
  EXPECT_TRUE(ledger.ok());
  auto e = ledger->EpsilonAfter(steps);
  EXPECT_TRUE(e.ok());
  return e.ok() ? *e : 0;
}

// What a kill after round `round`'s release and metrics line, but before
// its checkpoint, leaves behind.
void LoseCheckpointOf(const fs::path& run, uint32_t round) {
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%08u.ckpt", round);
  ASSERT_TRUE(fs::remove(run / "checkpoints" / name)) << name;
  fs::remove(run / "summary.json");
}

uint64_t JournalLines(const fs::path& run) {
  auto j = LedgerJournal::Open((run / "privacy.journal").string());
  EXPECT_TRUE(j.ok());
  return j.ok() ? j->entries().size() : 0;
}

TEST_F(FederatedTrainerTest, LedgerCountsEveryReleasedRound) {
  // Central DP with CSPRNG noise: a recomputed round is a new release.
  Config c = DpConfig(MakeConfig("sasrec"));
  c.privacy.noise_seed.reset();
  c.federation.rounds = 6;
  c.checkpoint.every = 3;
  const auto first = Train(c, "csprng");
  EXPECT_EQ(first["privacy"]["released_rounds"], 6);
  EXPECT_EQ(first["privacy"]["recomputed_rounds"], 0);
  const fs::path run = dir_ / "csprng";
  EXPECT_EQ(JournalLines(run), 6u);

  // Killed before ckpt-6: rounds 4..6 left the process (their validation
  // metrics were written) and are computed again from ckpt-3.
  LoseCheckpointOf(run, 6);
  c.federation.rounds = 8;
  const auto resumed = Train(c, "csprng", /*resume=*/true);
  EXPECT_EQ(resumed["rounds_this_session"], 5);
  EXPECT_EQ(resumed["privacy"]["released_rounds"], 3 + 3 + 5);
  EXPECT_EQ(resumed["privacy"]["recomputed_rounds"], 3);
  EXPECT_DOUBLE_EQ(resumed["privacy"]["epsilon"].get<double>(), EpsilonOf(resumed["privacy"], 11));
  EXPECT_EQ(JournalLines(run), 11u);
  const auto privacy_json = nlohmann::json::parse(ReadAll(run / "privacy.json"));
  EXPECT_EQ(privacy_json["recomputed_rounds"], 3);

  // A second loss (ckpt-8 this time) counts the new lost releases once, and
  // the earlier ones stay counted through ckpt-6's ledger.
  LoseCheckpointOf(run, 8);
  const auto again = Train(c, "csprng", /*resume=*/true);
  EXPECT_EQ(again["rounds_this_session"], 2);
  EXPECT_EQ(again["privacy"]["released_rounds"], 9 + 2 + 2);
  EXPECT_EQ(again["privacy"]["recomputed_rounds"], 5);
  EXPECT_EQ(JournalLines(run), 13u);
}

TEST_F(FederatedTrainerTest, PinnedNoiseRecomputationIsNotCountedTwice) {
  Config c = DpConfig(MakeConfig("sasrec"));  // noise_seed pinned
  c.federation.rounds = 6;
  c.checkpoint.every = 3;
  const auto full = Train(c, "pinned_full");
  Train(c, "pinned");
  LoseCheckpointOf(dir_ / "pinned", 6);
  const auto resumed = Train(c, "pinned", /*resume=*/true);
  EXPECT_EQ(resumed["privacy"]["released_rounds"], 6);
  EXPECT_EQ(resumed["privacy"]["recomputed_rounds"], 0);
  EXPECT_EQ(resumed["model_sha256"], full["model_sha256"]);
  EXPECT_EQ(resumed["privacy"]["epsilon"], full["privacy"]["epsilon"]);
  EXPECT_EQ(JournalLines(dir_ / "pinned"), 6u);
}

TEST_F(FederatedTrainerTest, NoMetricsLineIsLostOrRepeatedAcrossALostCheckpoint) {
  Config c = MakeConfig("sasrec");
  c.federation.rounds = 6;
  c.checkpoint.every = 3;
  c.eval.every = 1;
  const auto full = Train(c, "m_full");
  Train(c, "m");
  LoseCheckpointOf(dir_ / "m", 6);
  const auto resumed = Train(c, "m", /*resume=*/true);
  EXPECT_EQ(resumed["model_sha256"], full["model_sha256"]);
  std::ifstream in(dir_ / "m" / "metrics.jsonl");
  std::vector<int> rounds;
  for (std::string line; std::getline(in, line);) {
    rounds.push_back(nlohmann::json::parse(line)["round"].get<int>());
  }
  EXPECT_EQ(rounds, (std::vector<int>{1, 2, 3, 4, 5, 6}));
}

}  // namespace
}  // namespace fedrec
