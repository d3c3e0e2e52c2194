// Hardening of the command line's edge: bad paths, sizes beyond the machine,
// models that stop being finite and settings that would train nothing are
// refused with one line naming what to change; nothing uncaught escapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "proto/checkpoint.h"
#include "tests/testing/fedrec_cli.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The edge's refusal, and nothing on stdout.
void ExpectRefusal(const CliResult& r, int exit_code, const std::string& fragment) {
  ExpectOneLineError(r, fragment, exit_code);
  EXPECT_TRUE(r.out.empty()) << r.out;
}

class CliHardening : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = (dir_.path() / "s.txt").string();
    const CliResult r =
        RunFedrec("data synth --users 120 --items 40 --seed 5 --out " + Quote(data_), dir_.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    central_ = dir_.File("central.toml",
                         "seed = 7\n[data]\npath = '" + data_ +
                             "'\nmax_len = 20\n[model]\ntype = 'sasrec'\ndim = 8\nblocks = 1\n"
                             "[train]\nepochs = 2\nbatch_size = 32\n[federation]\nmode = "
                             "'central'\n[eval]\nevery = 1\n");
    federated_ = dir_.File("federated.toml",
                           "seed = 7\n[data]\npath = '" + data_ +
                               "'\nmax_len = 20\n[model]\ntype = 'sasrec'\ndim = 8\nblocks = 1\n"
                               "[federation]\nmode = 'federated'\nrounds = 3\n"
                               "sampling_rate = 0.3\n[eval]\nevery = 1\n");
  }

  CliResult Train(const std::string& config, const std::string& out,
                  const std::string& extra = "") {
    return RunFedrec(
        "--log-level off train --config " + Quote(config) + " --out " + Quote(out) + " " + extra,
        dir_.path());
  }

  TempDir dir_{"harden"};
  std::string data_, central_, federated_;
};

TEST_F(CliHardening, EmptyOutPathIsRefused) {
  const bool root_had_config = fs::exists("/config.toml");
  const bool root_had_checkpoints = fs::exists("/checkpoints");
  ExpectRefusal(Train(central_, ""), 2, "--out: empty path");
  ExpectRefusal(Train(federated_, ""), 2, "--out: empty path");
  ExpectRefusal(RunFedrec("train --resume --out ''", dir_.path()), 2, "--out: empty path");
  ExpectRefusal(
      RunFedrec("sweep --config " + Quote(federated_) + " --epsilons 1 --out ''", dir_.path()), 2,
      "sweep: --out: empty path");
  ExpectRefusal(RunFedrec("data synth --users 20 --items 30 --out ''", dir_.path()), 2,
                     "synth: --out: empty path");
  EXPECT_EQ(fs::exists("/config.toml"), root_had_config);
  EXPECT_EQ(fs::exists("/checkpoints"), root_had_checkpoints);
}

TEST_F(CliHardening, OutPathNamingAFileIsRefused) {
  const std::string file = dir_.File("afile", "keep me\n");
  const CliResult r = Train(central_, file);
  ExpectRefusal(r, 2, "names an existing file, not a directory");
  EXPECT_THAT(r.err, Not(HasSubstr("not empty")));
  ExpectRefusal(
      RunFedrec("sweep --config " + Quote(federated_) + " --epsilons 1 --out " + Quote(file),
                dir_.path()),
      2, "names an existing file");
  EXPECT_EQ(ReadText(file), "keep me\n");
  // A directory where synth wants a file is named as such.
  ExpectRefusal(
      RunFedrec("data synth --users 20 --items 30 --out " + Quote(dir_.path().string()),
                dir_.path()),
      2, "names an existing directory, not a file");
}

TEST_F(CliHardening, OutPathUnderAFileNamesTheFile) {
  const std::string file = dir_.File("afile", "keep me\n");
  ExpectRefusal(Train(central_, file + "/run"), 2, "afile is not a directory");
  EXPECT_EQ(ReadText(file), "keep me\n");
}

TEST_F(CliHardening, UnwritableOutParentIsNamed) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  const fs::path locked = dir_.path() / "locked";
  fs::create_directory(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  const CliResult r = Train(central_, (locked / "run").string());
  fs::permissions(locked, fs::perms::owner_all);
  ExpectRefusal(r, 2, "locked is not writable");
}

TEST_F(CliHardening, ModelTooLargeForMemoryIsRefusedNamingTheKey) {
  const std::string run = (dir_.path() / "run").string();
  ExpectRefusal(Train(central_, run, "--set model.dim=2147483648"), 2, "reduce model.dim");
  ExpectRefusal(Train(federated_, run, "--set model.dim=2147483648"), 2, "reduce model.dim");
  // 10^8 positions of dimension 512: 5e10 parameters, on no machine this runs on.
  ExpectRefusal(Train(central_, run, "--set data.max_len=100000000 --set model.dim=512"), 2,
                     "reduce data.max_len");
  ExpectRefusal(Train(federated_, run, "--set data.max_len=100000000 --set model.dim=512"), 2,
                     "reduce data.max_len");
  // Sizes stored in 32 bits are bounded by the config itself.
  ExpectRefusal(Train(central_, run, "--set model.dim=4294967296"), 2, "model.dim");
  EXPECT_FALSE(fs::exists(run));
}

TEST_F(CliHardening, ThreadCountsAreBoundedNamingTheMaximum) {
  ExpectRefusal(
      RunFedrec("eval --no-cache --model pop --data " + Quote(data_) + " --threads 100000",
                dir_.path()),
      2, "--threads: Value 100000 not in range 0 to 1024");
  ExpectRefusal(RunFedrec("data synth --users 20 --items 30 --threads 100000 --out " +
                                   Quote((dir_.path() / "x.txt").string()),
                               dir_.path()),
                     2, "--threads");
  const std::string run = (dir_.path() / "run").string();
  ExpectRefusal(Train(central_, run, "--set backend.threads=100000"), 2,
                     "backend.threads=100000: must be <= 1024");
  ExpectRefusal(Train(federated_, run, "--set federation.workers=100000"), 2,
                     "federation.workers=100000: must be <= 1024");
  EXPECT_FALSE(fs::exists(run));
}

// Whatever the size checks do not foresee ends as one line and exit code 1,
// never libstdc++'s abort (exit 134): here allocations fail under shrinking
// address-space limits while a dataset is parsed.
TEST_F(CliHardening, OutOfMemoryEndsWithOneLineAndExitCode1) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizers reserve more address space than the limits leave";
#endif
  const std::string big = (dir_.path() / "big.txt").string();
  ASSERT_EQ(
      RunFedrec("data synth --users 300000 --items 2000 --seed 2 --out " + Quote(big), dir_.path())
          .exit_code,
      0);
  int internal = 0;
  for (const int kib : {130000, 150000, 170000, 200000, 240000}) {
    // --log-level warn: on a slow (loaded) machine reading the file takes
    // long enough for progress lines, which are info lines in a pipe.
    const CliResult r = RunShell("ulimit -v " + std::to_string(kib) + "; " + FedrecBin() +
                                     " --log-level warn data stats --no-cache --input " +
                                     Quote(big),
                                 dir_.path());
    SCOPED_TRACE(kib);
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2) << r.err;
    if (r.exit_code == 0) continue;
    EXPECT_THAT(r.err, StartsWith("fedrec: error: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    if (r.exit_code == 1) {
      EXPECT_THAT(r.err, HasSubstr("out of memory"));
      ++internal;
    }
  }
  EXPECT_GT(internal, 0) << "no limit made an allocation fail";
}

// Numerical health: a model that stops being finite ends the run with exit
// code 1 naming the round or epoch and the key to change; nothing of that
// step is written and the last checkpoint stays.
TEST_F(CliHardening, NonFiniteModelStopsTheRunNamingTheRound) {
  const std::string run = (dir_.path() / "run").string();
  const CliResult r =
      Train(federated_, run, "--set privacy.mode=central --set privacy.noise_multiplier=1e300");
  ExpectRefusal(r, 1, "round 1: the model is no longer finite");
  EXPECT_THAT(r.err, HasSubstr("privacy.noise_multiplier"));
  EXPECT_FALSE(fs::exists(run + "/checkpoints/ckpt-00000001.ckpt"));
  EXPECT_FALSE(fs::exists(run + "/summary.json"));
  EXPECT_EQ(ReadText(run + "/metrics.jsonl"), "");
}

TEST_F(CliHardening, NonFiniteModelStopsTheRunNamingTheEpoch) {
  const std::string run = (dir_.path() / "run").string();
  const CliResult r =
      Train(central_, run, "--set train.lr=1e30 --set train.optimizer=sgd --set train.epochs=3");
  ExpectRefusal(r, 1, "epoch 1: the model is no longer finite");
  EXPECT_THAT(r.err, HasSubstr("train.lr"));
  EXPECT_FALSE(fs::exists(run + "/checkpoints/ckpt-00000001.ckpt"));
  EXPECT_FALSE(fs::exists(run + "/checkpoints/best.ckpt"));
}

TEST_F(CliHardening, DivergedModelStopsTheRunKeepingTheLastCheckpoint) {
  const std::string run = (dir_.path() / "run").string();
  const CliResult r = Train(federated_, run,
                            "--set federation.server_lr=1e30 --set federation.rounds=20 "
                            "--set checkpoint.every=1 --set checkpoint.keep=0");
  // "the model has diverged" (every client's loss NaN) or "is no longer
  // finite", whichever comes first on this data.
  ExpectRefusal(r, 1, "federation.server_lr");
  // The round named failed; every earlier round has its checkpoint and its
  // metrics line, and none says loss 0 for a NaN.
  const auto at = r.err.find("round ");
  ASSERT_NE(at, std::string::npos);
  const int failed = std::stoi(r.err.substr(at + 6));
  ASSERT_GT(failed, 1);
  char last[32];
  std::snprintf(last, sizeof(last), "ckpt-%08d.ckpt", failed - 1);
  EXPECT_THAT(r.err, HasSubstr(last));
  EXPECT_TRUE(fs::exists(run + "/checkpoints/" + last));
  std::snprintf(last, sizeof(last), "ckpt-%08d.ckpt", failed);
  EXPECT_FALSE(fs::exists(run + "/checkpoints/" + last));
  const std::string metrics = ReadText(run + "/metrics.jsonl");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), failed - 1);
}

// Settings that would train or measure nothing are refused with the key or
// flag to change, before anything is written.
TEST_F(CliHardening, MfRatingOnDataWithoutRatingsIsRefused) {
  const std::string run = (dir_.path() / "run").string();
  ExpectRefusal(Train(central_, run, "--set model.type=mf_rating"), 2,
                     "model.type = \"mf_bpr\"");
  ExpectRefusal(Train(federated_, run, "--set model.type=mf_rating"), 2, "mf_rating");
  EXPECT_FALSE(fs::exists(run));
}

TEST_F(CliHardening, ClipNormThatMakesUpdatesVanishIsRefusedWithTheResolution) {
  const std::string run = (dir_.path() / "run").string();
  const CliResult r = Train(federated_, run, "--set aggregation.clip_norm=1e30");
  ExpectRefusal(r, 2, "aggregation.clip_norm");
  EXPECT_THAT(r.err, HasSubstr("makes the fixed-point resolution 7.6e+22"));
  EXPECT_FALSE(fs::exists(run));
}

TEST_F(CliHardening, MinClientsAboveThePopulationIsRefused) {
  const std::string run = (dir_.path() / "run").string();
  ExpectRefusal(Train(federated_, run,
                           "--set privacy.mode=distributed --set secagg.enabled=true "
                           "--set privacy.noise_multiplier=1 --set privacy.min_clients=100000"),
                     2, "privacy.min_clients: 100000 exceeds the");
  EXPECT_FALSE(fs::exists(run));
}

TEST_F(CliHardening, SecaggThresholdThatAbortsEveryRoundIsRefused) {
  const std::string run = (dir_.path() / "run").string();
  // The whole cohort must survive, and each client drops with 0.5.
  const CliResult r = Train(federated_, run,
                            "--set secagg.enabled=true --set secagg.scope=client "
                            "--set secagg.threshold=1 --set federation.dropout_rate=0.5");
  ExpectRefusal(r, 2, "secagg.threshold: 1 needs");
  EXPECT_THAT(r.err, HasSubstr("nearly every round would abort"));
  EXPECT_FALSE(fs::exists(run));
  // A reachable threshold trains, and the summary counts aborted rounds.
  const CliResult ok = Train(federated_, run,
                             "--set secagg.enabled=true --set secagg.scope=client "
                             "--set federation.dropout_rate=0.1");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  const auto summary = nlohmann::json::parse(ok.out);
  EXPECT_TRUE(summary["rounds_withheld_this_session"].contains("secagg_aborted"));
}

TEST_F(CliHardening, TrainingEvalNegativesBeyondUntouchedItemsAreSaid) {
  const std::string run = (dir_.path() / "run").string();
  const CliResult r = RunFedrec("--log-level warn train --config " + Quote(federated_) +
                                    " --out " + Quote(run) + " --set eval.negatives=100000",
                                dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("eval.negatives: "));
  EXPECT_THAT(r.err, HasSubstr("users have fewer than 100000 untouched items"));
}

TEST_F(CliHardening, EmptyHistoryAndConflictingEvalFlagsAreRefused) {
  const std::string run = (dir_.path() / "run").string();
  ASSERT_EQ(Train(central_, run).exit_code, 0);
  const std::string ckpt = Quote(run + "/checkpoints/best.ckpt");
  ExpectRefusal(RunFedrec("recommend --checkpoint " + ckpt + " --history ''", dir_.path()), 2,
                     "--history is empty");
  ExpectRefusal(RunFedrec("recommend --checkpoint " + ckpt + " --history ' , '", dir_.path()),
                     2, "--history is empty");
  ExpectRefusal(
      RunFedrec("eval --no-cache --checkpoint " + ckpt + " --model pop --data " + Quote(data_),
                dir_.path()),
      2, "--model excludes --checkpoint");
  // Without the conflicting flag the checkpoint is evaluated.
  EXPECT_EQ(
      RunFedrec("eval --no-cache --negatives 20 --checkpoint " + ckpt + " --data " + Quote(data_),
                dir_.path())
          .exit_code,
      0);
}

TEST_F(CliHardening, MoreNegativesThanUntouchedItemsIsRefused) {
  const CliResult r = RunFedrec(
      "eval --no-cache --model pop --data " + Quote(data_) + " --negatives 1000", dir_.path());
  ExpectRefusal(r, 2, "--negatives 1000 exceeds the");
  EXPECT_THAT(r.err, HasSubstr("--protocol full"));
  EXPECT_EQ(RunFedrec("eval --no-cache --model pop --data " + Quote(data_) + " --negatives 20",
                      dir_.path())
                .exit_code,
            0);
}

// Messages: what the user typed is named, and raw bytes from it are escaped
// so the error stays one printable line.
TEST_F(CliHardening, UnknownSubcommandIsNamed) {
  ExpectRefusal(RunFedrec("frobnicate", dir_.path()), 2, "unknown command 'frobnicate'");
  ExpectRefusal(RunFedrec("--log-level off trian --out x", dir_.path()), 2,
                     "unknown command 'trian' (commands: data, eval,");
}

TEST_F(CliHardening, ControlBytesInUserInputAreEscaped) {
  const CliResult r =
      RunFedrec("data stats --no-cache --input \"$(printf 'a\\rb\\001c\\nd\\377')\"", dir_.path());
  ExpectRefusal(r, 2, "a\\x0Db\\x01c\\x0Ad\\xFF");
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_EQ(r.err.find('\x01'), std::string::npos);
}

TEST_F(CliHardening, CheckpointErrorsNameThePathOnce) {
  Checkpoint ckpt;
  ckpt.mutable_model()->set_type("mf_bpr");
  ckpt.mutable_model()->set_num_items(3);
  ckpt.mutable_model()->set_num_users(2);
  ckpt.mutable_model()->set_dim(2);
  for (uint64_t id : {10, 11, 12}) ckpt.add_item_ids(id);
  const float wrong[9] = {};
  *ckpt.add_tensors() = TensorToProto("item_emb", ConstTensorView{wrong, 3, 3});
  StampCheckpoint(&ckpt);
  const std::string path = (dir_.path() / "bad.ckpt").string();
  ASSERT_TRUE(WriteCheckpoint(path, ckpt).ok());
  const CliResult r =
      RunFedrec("recommend --checkpoint " + Quote(path) + " --history '10'", dir_.path());
  ExpectRefusal(r, 2, path + ": checkpoint: ");
  EXPECT_THAT(r.err, Not(HasSubstr("checkpoint: checkpoint:")));
}

}  // namespace
}  // namespace fedrec::testing
