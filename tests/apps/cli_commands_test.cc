// The commands of the contract, end to end through the real binary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/testing/fedrec_cli.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

using ::testing::HasSubstr;

class CliCommands : public ::testing::Test {
 protected:
  TempDir dir_{"clicmd"};

  nlohmann::json RunJson(const std::string& args) {
    const CliResult r = RunFedrec(args, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out.empty() ? "{}" : r.out);
  }
};

TEST_F(CliCommands, DataStatsCountsAndFilters) {
  // 3 users; item 9 appears once, so --min-count 2 drops it (and nothing else:
  // the one-pass filter uses the raw counts).
  const auto p = dir_.File("u.data",
                           "1\t5\t4\t100\n1\t6\t3\t101\n1\t9\t5\t102\n"
                           "2\t5\t1\t100\n2\t6\t2\t100\n"
                           "3\t5\t5\t300\n3\t6\t5\t301\n");
  nlohmann::json raw = RunJson("data stats --no-cache --input '" + p + "'");
  EXPECT_EQ(raw["users"], 3);
  EXPECT_EQ(raw["items"], 3);
  EXPECT_EQ(raw["interactions"], 7);
  nlohmann::json filtered = RunJson("data stats --no-cache --min-count 2 --input '" + p + "'");
  EXPECT_EQ(filtered["users"], 3);
  EXPECT_EQ(filtered["items"], 2);
  EXPECT_EQ(filtered["interactions"], 6);
}

TEST_F(CliCommands, GenericCsvWithColumnMapping) {
  // Columns: timestamp;item;user with a header; rating absent.
  const auto p = dir_.File("events.csv", "ts;item;user\n30;7;1\n10;8;1\n20;9;1\n5;7;2\n");
  nlohmann::json stats = RunJson(
      "data stats --no-cache --format csv --csv-delimiter ';' "
      "--csv-columns 2,1,-,0 --input '" +
      p + "'");
  EXPECT_EQ(stats["users"], 2);
  EXPECT_EQ(stats["items"], 3);
  EXPECT_EQ(stats["interactions"], 4);
  const CliResult bad = RunFedrec(
      "data stats --no-cache --format csv --csv-columns 2 --input '" + p + "'", dir_.path());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--csv-columns"));
}

TEST_F(CliCommands, SynthThenStatsThenEvalPop) {
  const std::string out = (dir_.path() / "s.txt").string();
  nlohmann::json synth = RunJson("data synth --users 400 --items 300 --seed 3 --out '" + out + "'");
  ASSERT_TRUE(std::filesystem::exists(out));
  nlohmann::json stats = RunJson("data stats --no-cache --input '" + out + "'");
  EXPECT_EQ(stats["users"], 400);
  EXPECT_LE(stats["items"].get<int>(), 300);

  for (const std::string protocol : {"sampled", "full"}) {
    for (const std::string split : {"valid", "test"}) {
      nlohmann::json e = RunJson("eval --no-cache --model pop --data '" + out + "' --protocol " +
                                 protocol + " --split " + split);
      EXPECT_EQ(e["protocol"], protocol);
      EXPECT_EQ(e["split"], split);
      EXPECT_EQ(e["users"], 400);
      for (const char* key : {"HR@10", "NDCG@10", "MRR"}) {
        ASSERT_TRUE(e.contains(key)) << key;
        EXPECT_GE(e[key].get<double>(), 0.0);
        EXPECT_LE(e[key].get<double>(), 1.0);
      }
      EXPECT_LE(e["NDCG@10"].get<double>(), e["HR@10"].get<double>());
    }
  }
  // The generator has power-law popularity: pop beats random (10/101) on
  // the sampled protocol.
  nlohmann::json sampled = RunJson("eval --no-cache --data '" + out + "'");
  EXPECT_GT(sampled["HR@10"].get<double>(), 10.0 / 101.0);
}

TEST_F(CliCommands, SynthIsDeterministicBySeed) {
  const std::string a = (dir_.path() / "a.txt").string();
  const std::string b = (dir_.path() / "b.txt").string();
  RunJson("data synth --users 200 --items 100 --seed 9 --out '" + a + "'");
  RunJson("data synth --users 200 --items 100 --seed 9 --out '" + b + "'");
  EXPECT_EQ(ReadText(a), ReadText(b));
}

TEST_F(CliCommands, TrainThenEvalCheckpointThenRecommend) {
  const std::string data = (dir_.path() / "s.txt").string();
  RunJson("data synth --users 300 --items 120 --seed 4 --out '" + data + "'");
  const std::string config = dir_.File(
      "c.toml", "seed = 7\n[data]\npath = '" + data +
                    "'\nmax_len = 30\n[model]\ntype = 'sasrec'\ndim = 16\nblocks = 1\n"
                    "[train]\nepochs = 3\nbatch_size = 64\n[federation]\nmode = 'central'\n"
                    "[eval]\nevery = 1\n");
  const std::string run = (dir_.path() / "run").string();
  nlohmann::json summary =
      RunJson("--log-level off train --config '" + config + "' --out '" + run + "'");
  ASSERT_TRUE(summary.contains("test_at_best"));
  EXPECT_EQ(summary["model"], "sasrec");
  EXPECT_EQ(summary["model_sha256"].get<std::string>().size(), 64u);

  // Evaluating the best checkpoint with the run's seed reproduces the
  // summary's test metrics exactly.
  nlohmann::json e = RunJson("eval --no-cache --checkpoint '" + run +
                             "/checkpoints/best.ckpt' --data '" + data + "' --split test --seed 7");
  EXPECT_EQ(e["model"], "sasrec");
  EXPECT_EQ(e["HR@10"], summary["test_at_best"]["sampled"]["HR@10"]);
  EXPECT_EQ(e["NDCG@10"], summary["test_at_best"]["sampled"]["NDCG@10"]);

  // --compute cuda ranks on a GPU (the same metrics up to near-ties), or,
  // without one, is refused in one line with exit code 2.
  const std::string ckpt = "--checkpoint '" + run + "/checkpoints/best.ckpt' ";
  const CliResult gpu = RunFedrec(
      "eval --no-cache --compute cuda " + ckpt + "--data '" + data + "' --split test --seed 7",
      dir_.path());
  if (gpu.exit_code == 0) {
    const nlohmann::json g = nlohmann::json::parse(gpu.out);
    EXPECT_NEAR(g["HR@10"].get<double>(), e["HR@10"].get<double>(), 0.01);
  } else {
    EXPECT_EQ(gpu.exit_code, 2) << gpu.err;
    EXPECT_NE(gpu.err.find("cuda"), std::string::npos) << gpu.err;
  }
  for (const std::string& bad :
       {"--compute tpu " + ckpt, std::string("--compute cuda --model pop ")}) {
    const CliResult r = RunFedrec("eval --no-cache " + bad + "--data '" + data + "'", dir_.path());
    EXPECT_EQ(r.exit_code, 2) << bad << r.err;
    EXPECT_NE(r.err.find("--compute"), std::string::npos) << r.err;
  }

  // Original ids in, original ids out, history excluded.
  nlohmann::json rec =
      RunJson("recommend --checkpoint '" + run + "/checkpoints/best.ckpt' --history '5 17 3' -k 7");
  ASSERT_EQ(rec["recommendations"].size(), 7u);
  for (const auto& r : rec["recommendations"]) {
    const uint64_t item = r["item"];
    EXPECT_TRUE(item != 5 && item != 17 && item != 3);
    EXPECT_GE(item, 1u);
    EXPECT_LE(item, 120u);
  }
  const CliResult unknown =
      RunFedrec("recommend --checkpoint '" + run + "/checkpoints/best.ckpt' --history '5 999999'",
                dir_.path());
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("999999 is not in the model's catalogue"));
  // A second run into the same directory is refused; nothing is overwritten.
  const CliResult again =
      RunFedrec("train --config '" + config + "' --out '" + run + "'", dir_.path());
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("not empty"));
}

// A small synthetic dataset and a GRU4Rec sweep config over it; `extra` is
// appended (TOML sections).
std::string SweepConfig(const TempDir& dir, const std::string& name, const std::string& extra) {
  const std::string data = (dir.path() / "s.txt").string();
  if (!std::filesystem::exists(data)) {
    EXPECT_EQ(
        RunFedrec("data synth --users 300 --items 80 --seed 2 --out '" + data + "'", dir.path())
            .exit_code,
        0);
  }
  return dir.File(name, "seed = 1\n[data]\npath = '" + data +
                            "'\nmax_len = 20\n[model]\ntype = 'gru4rec'\ndim = 8\nblocks = 1\n" +
                            extra);
}

// Runs `fedrec sweep` and returns its JSON rows (empty on failure).
nlohmann::json Sweep(const TempDir& dir, const std::string& config, const std::string& epsilons,
                     const std::string& out) {
  const CliResult r = RunFedrec("--log-level off sweep --config '" + config + "' --epsilons " +
                                    epsilons + " --out '" + out + "'",
                                dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::array();
}

TEST_F(CliCommands, SweepRefusesBadEpsilonsAndRunsAResumableCurve) {
  const CliResult bad = RunFedrec("sweep --config x.toml --epsilons 1,-2 --out d", dir_.path());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--epsilons"));
  const std::string config = SweepConfig(dir_, "sweep.toml",
                                         "[federation]\nrounds = 6\nsampling_rate = 0.2\n"
                                         "server_optimizer = 'fedadam'\nserver_lr = 0.05\n"
                                         "[privacy]\nnoise_seed = 3\n[eval]\nevery = 3\n");
  const std::string out = (dir_.path() / "sw").string();
  const auto rows = Sweep(dir_, config, "1,8,inf", out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_LE(rows[0]["epsilon_spent"].get<double>(), 1.0);
  EXPECT_GT(rows[0]["sigma"].get<double>(),
            rows[1]["sigma"].get<double>());  // less budget, more noise
  EXPECT_EQ(rows[2]["sigma"].get<double>(), 0.0);
  const std::string csv = ReadText(out + "/sweep.csv");
  EXPECT_THAT(csv, HasSubstr("epsilon,epsilon_spent,sigma,rounds,HR@10,NDCG@10"));
  EXPECT_THAT(csv, HasSubstr("\ninf,"));
  EXPECT_THAT(ReadText(out + "/sweep.svg"), HasSubstr("<svg"));
  // Resumable: finished points are reused, not rerun.
  const auto mtime = std::filesystem::last_write_time(out + "/eps-1/summary.json");
  EXPECT_EQ(Sweep(dir_, config, "1,8,inf", out), rows);
  EXPECT_EQ(std::filesystem::last_write_time(out + "/eps-1/summary.json"), mtime);
}

TEST_F(CliCommands, SweepKeepsDistributedDp) {
  const std::string config =
      SweepConfig(dir_, "ddg.toml",
                  "[federation]\nrounds = 4\nsampling_rate = 0.2\n[secagg]\nenabled = true\n"
                  "[privacy]\nmode = 'distributed'\ntarget_epsilon = 1\nnoise_seed = 3\n"
                  "[eval]\nevery = 2\n");
  const std::string out = (dir_.path() / "ddg").string();
  const auto rows = Sweep(dir_, config, "2,inf", out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_LE(rows[0]["epsilon_spent"].get<double>(), 2.0);
  EXPECT_GT(rows[0]["epsilon_spent"].get<double>(), 1.99);
  const auto summary = nlohmann::json::parse(ReadText(out + "/eps-2/summary.json"));
  EXPECT_EQ(summary["privacy"]["mode"], "distributed");
}

// DP-SGD on MNIST (TF Privacy tutorial): q = 256/60000, sigma = 1.1, 14063
// steps, delta = 1e-5 -> epsilon 2.5967 at order 8.1 (Google dp_accounting
// 0.6.0, RdpAccountant, default orders, improved conversion).
TEST_F(CliCommands, PrivacyEpsilonMnist) {
  nlohmann::json j =
      RunJson("privacy epsilon --q 0.004266666666666667 --sigma 1.1 --steps 14063 --delta 1e-5");
  EXPECT_EQ(j["accountant"], "rdp");
  EXPECT_EQ(j["steps"], 14063);
  EXPECT_NEAR(j["epsilon"].get<double>(), 2.596655529521983, 2.6e-3);
  EXPECT_DOUBLE_EQ(j["order"].get<double>(), 8.1);

  nlohmann::json s =
      RunJson("privacy sigma --q 0.004266666666666667 --steps 14063 --delta 1e-5 --epsilon 2.5967");
  EXPECT_NEAR(s["sigma"].get<double>(), 1.1, 1e-3);
  EXPECT_LE(s["epsilon"].get<double>(), 2.5967);

  // A fixed-size cohort of 10 out of 1000 users, replace-one adjacency:
  // 1.4825 (dp_accounting 0.6.0, SampledWithoutReplacementDpEvent).
  nlohmann::json f =
      RunJson("privacy epsilon --q 0.01 --sigma 1 --steps 100 --delta 1e-5 --sampling fixed-size");
  EXPECT_NEAR(f["epsilon"].get<double>(), 1.482525669114427, 1.5e-3);
  EXPECT_EQ(f["adjacency"], "replace_one");
}

// The same with the PLD accountant: 2.3818 (dp_accounting 0.6.0
// PLDAccountant, value discretization interval 1e-4).
TEST_F(CliCommands, PrivacyEpsilonMnistPld) {
  nlohmann::json j = RunJson(
      "privacy epsilon --q 0.004266666666666667 --sigma 1.1 --steps 14063 --delta 1e-5 "
      "--accountant pld");
  EXPECT_EQ(j["accountant"], "pld");
  EXPECT_EQ(j["steps"], 14063);
  EXPECT_NEAR(j["epsilon"].get<double>(), 2.381778813576912, 1e-5);
  EXPECT_TRUE(j["order"].is_null());
  EXPECT_DOUBLE_EQ(j["value_discretization_interval"].get<double>(), 1e-4);
  EXPECT_EQ(j["adjacency"], "add_remove_one");

  nlohmann::json s = RunJson(
      "privacy sigma --q 0.004266666666666667 --steps 14063 --delta 1e-5 --epsilon 2.3818 "
      "--accountant pld");
  EXPECT_NEAR(s["sigma"].get<double>(), 1.1, 1e-3);
  EXPECT_LE(s["epsilon"].get<double>(), 2.3818);
  EXPECT_EQ(s["accountant"], "pld");

  // A large epsilon needs a coarser grid; the interval is an option.
  nlohmann::json big = RunJson(
      "privacy epsilon --q 1 --sigma 0.5 --steps 10000 --delta 1e-5 --accountant pld "
      "--pld-interval 0.2211177825757886");
  EXPECT_NEAR(big["epsilon"].get<double>(), 20894.52486449272, 1e-2);
}

TEST_F(CliCommands, PrivacyBadValuesAreUserErrors) {
  CliResult r = RunFedrec("privacy epsilon --q 1.5 --sigma 1 --steps 10 --delta 1e-5", dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("fedrec: error: privacy: --q: must be in [0, 1]"));
  r = RunFedrec("privacy sigma --q 0.1 --steps 10 --delta 1 --epsilon 1", dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("fedrec: error: privacy: --delta: must be in (0, 1)"));
  r = RunFedrec("privacy epsilon --q 0.1 --sigma 1 --steps 10 --delta 1e-5 --accountant xyz",
                dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("privacy: --accountant: must be rdp or pld"));
  // PLD covers Poisson sampling only (add/remove-one); fixed-size is refused.
  r = RunFedrec(
      "privacy epsilon --q 0.1 --sigma 1 --steps 10 --delta 1e-5 --accountant pld "
      "--sampling fixed-size",
      dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("RDP accountant"));
  r = RunFedrec(
      "privacy sigma --q 0.1 --steps 10 --delta 1e-5 --epsilon 1 --accountant pld "
      "--sampling fixed-size",
      dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("RDP accountant"));
  // A PLD too large for memory: a user error naming the remedy.
  r = RunFedrec("privacy epsilon --q 1 --sigma 0.5 --steps 10000 --delta 1e-5 --accountant pld",
                dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("use a larger value discretization interval"));
  r = RunFedrec(
      "privacy epsilon --q 0.1 --sigma 1 --steps 10 --delta 1e-5 --accountant pld "
      "--pld-interval 0",
      dir_.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--pld-interval"));
}

TEST_F(CliCommands, HelpExitsZero) {
  const CliResult r = RunFedrec("--help", dir_.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("data"));
}

}  // namespace
}  // namespace fedrec::testing
