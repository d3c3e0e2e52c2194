// A run directory has one writer, and a resume proves it continues the same
// run: the same data (SHA-256), the same configuration (but for keys that
// may change), checkpoints of this run whose round matches their name; a
// damaged newest checkpoint falls back to the newest good one. Through the
// real binary, central (epochs) and federated (rounds).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/testing/fedrec_cli.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;


// `fedrec ARGS` as a child process whose pid is fedrec's own (exec).
class Background {
 public:
  Background(const std::string& args, const fs::path& scratch) {
    const std::string cmd = "exec '" + FedrecBin() + "' " + args + " >'" +
                            (scratch / ".bg_out").string() + "' 2>'" +
                            (scratch / ".bg_err").string() + "' </dev/null";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    out_ = scratch / ".bg_out";
  }
  ~Background() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Exit code, or -1 when it did not exit normally.
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    done_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void Kill() {
    ::kill(pid_, SIGKILL);
    Wait();
  }
  std::string Out() const { return ReadText(out_); }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
  fs::path out_;
};

// Waits until `run` has a metrics line: the run is training.
bool WaitUntilTraining(const std::string& run) {
  for (int i = 0; i < 3000; ++i) {
    std::error_code ec;
    if (fs::file_size(run + "/metrics.jsonl", ec) > 0 && !ec) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string Sha(const std::string& summary_json) {
  const auto j = nlohmann::json::parse(summary_json, nullptr, false);
  return j.is_object() ? j.value("model_sha256", std::string()) : std::string();
}

class CliResumeIdentity : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = (dir_.path() / "s.txt").string();
    ASSERT_EQ(
        RunFedrec("data synth --users 150 --items 50 --seed 5 --out " + Quote(data_), dir_.path())
            .exit_code,
        0);
    const std::string head = "seed = 7\n[data]\npath = '" + data_ +
                             "'\nmax_len = 20\n[model]\ntype = 'sasrec'\ndim = 8\nblocks = 1\n";
    central_ = dir_.File("central.toml", head +
                                             "[train]\nepochs = 4\nbatch_size = 32\n"
                                             "[federation]\nmode = 'central'\n[eval]\nevery = "
                                             "2\n[checkpoint]\nevery = 1\nkeep = 0\n");
    federated_ = dir_.File("federated.toml", head +
                                                 "[federation]\nmode = 'federated'\nrounds = 4\n"
                                                 "sampling_rate = 0.3\n[eval]\nevery = 2\n"
                                                 "[checkpoint]\nevery = 1\nkeep = 0\n");
  }

  CliResult Train(const std::string& config, const std::string& out,
                  const std::string& extra = "") {
    return RunFedrec("--log-level off train --config " + Quote(config) + " --out " +
                         Quote(Out(out)) + " " + extra,
                     dir_.path());
  }
  CliResult Resume(const std::string& out, const std::string& extra = "",
                   const std::string& log = "off") {
    return RunFedrec(
        "--log-level " + log + " train --resume --out " + Quote(Out(out)) + " " + extra,
        dir_.path());
  }
  std::string Out(const std::string& name) const { return (dir_.path() / name).string(); }
  std::string Ckpt(const std::string& run, int round) const {
    char name[64];
    std::snprintf(name, sizeof(name), "/checkpoints/ckpt-%08d.ckpt", round);
    return Out(run) + name;
  }

  TempDir dir_{"ident"};
  std::string data_, central_, federated_;
};

TEST_F(CliResumeIdentity, SecondWriterIsRefused) {
  // Long enough that the second writer comes while the first trains.
  const std::string longer =
      "--set federation.rounds=250 --set eval.every=0 --set checkpoint.keep=2";
  const CliResult undisturbed = Train(federated_, "undisturbed", longer);
  ASSERT_EQ(undisturbed.exit_code, 0) << undisturbed.err;

  Background first("--log-level off train --config " + Quote(federated_) + " --out " +
                       Quote(Out("run")) + " " + longer,
                   dir_.path());
  ASSERT_TRUE(WaitUntilTraining(Out("run")));
  const std::string holder =
      "in use by another fedrec process (pid " + std::to_string(first.pid()) + " on host ";
  ExpectOneLineError(Resume("run"), holder);
  // Two fresh starts into the same --out: the second is refused alike.
  ExpectOneLineError(Train(federated_, "run", longer), holder);
  ASSERT_EQ(first.Wait(), 0);
  EXPECT_EQ(Sha(first.Out()), Sha(undisturbed.out));
  EXPECT_FALSE(Sha(first.Out()).empty());
}

TEST_F(CliResumeIdentity, LockOfAKilledWriterIsReleased) {
  const std::string longer =
      "--set federation.rounds=250 --set eval.every=0 --set checkpoint.keep=2";
  const CliResult undisturbed = Train(federated_, "undisturbed", longer);
  ASSERT_EQ(undisturbed.exit_code, 0) << undisturbed.err;
  Background first("--log-level off train --config " + Quote(federated_) + " --out " +
                       Quote(Out("run")) + " " + longer,
                   dir_.path());
  ASSERT_TRUE(WaitUntilTraining(Out("run")));
  first.Kill();
  const CliResult resumed = Resume("run");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(Sha(resumed.out), Sha(undisturbed.out));
}

TEST_F(CliResumeIdentity, ResumeRefusesAChangedDataset) {
  for (const std::string& config : {central_, federated_}) {
    const std::string run = config == central_ ? "central" : "federated";
    ASSERT_EQ(Train(config, run).exit_code, 0);
    const std::string original = ReadText(data_);
    {
      std::ofstream(data_, std::ios::app) << "1 2\n";  // one more interaction
    }
    const CliResult r = Resume(run);
    ExpectOneLineError(r, "data.path: " + data_ + " has changed since ckpt-00000004.ckpt");
    // Back to the run's own data: the resume is accepted again.
    { std::ofstream(data_, std::ios::trunc) << original; }
    EXPECT_EQ(Resume(run).exit_code, 0) << run;
  }
}

TEST_F(CliResumeIdentity, ResumeRefusesAForeignCheckpoint) {
  for (const std::string& config : {central_, federated_}) {
    const std::string run = config == central_ ? "central" : "federated";
    ASSERT_EQ(Train(config, run).exit_code, 0);
    ASSERT_EQ(Train(config, run + "_other").exit_code, 0);
    // The other run's newest checkpoint, planted as this run's newest.
    fs::copy_file(Ckpt(run + "_other", 4), Ckpt(run, 4), fs::copy_options::overwrite_existing);
    ExpectOneLineError(Resume(run), "ckpt-00000004.ckpt: belongs to another run");
  }
}

TEST_F(CliResumeIdentity, ResumeRefusesACheckpointWhoseRoundDisagreesWithItsName) {
  for (const std::string& config : {central_, federated_}) {
    const std::string run = config == central_ ? "central" : "federated";
    ASSERT_EQ(Train(config, run).exit_code, 0);
    fs::copy_file(Ckpt(run, 2), Ckpt(run, 5));
    ExpectOneLineError(Resume(run), "ckpt-00000005.ckpt: holds round 2 but its name says round 5");
  }
}

TEST_F(CliResumeIdentity, ResumeFallsBackToTheNewestGoodCheckpoint) {
  for (const std::string& config : {central_, federated_}) {
    const std::string run = config == central_ ? "central" : "federated";
    const CliResult full = Train(config, run);
    ASSERT_EQ(full.exit_code, 0) << full.err;
    // The newest truncated, the one before it with a flipped payload bit.
    fs::resize_file(Ckpt(run, 4), fs::file_size(Ckpt(run, 4)) / 2);
    {
      std::fstream f(Ckpt(run, 3), std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(-5, std::ios::end);
      const char c = static_cast<char>(f.peek() ^ 1);
      f.seekp(-5, std::ios::end);
      f.put(c);
    }
    const CliResult resumed = Resume(run, "", "warn");
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_THAT(resumed.err, HasSubstr("ckpt-00000004.ckpt: truncated"));
    EXPECT_THAT(resumed.err, HasSubstr("ckpt-00000003.ckpt: digest mismatch"));
    EXPECT_THAT(resumed.err, HasSubstr("falling back from damaged ckpt-00000004.ckpt to "
                                       "ckpt-00000002.ckpt (round 2)"));
    EXPECT_EQ(Sha(resumed.out), Sha(full.out)) << run;
    EXPECT_TRUE(fs::exists(Ckpt(run, 4) + ".damaged"));
    EXPECT_TRUE(fs::exists(Ckpt(run, 4)));  // recomputed
  }
}

TEST_F(CliResumeIdentity, ResumeAllowsOnlySafeConfigChangesAndRecordsThem) {
  for (const std::string& config : {central_, federated_}) {
    const bool central = config == central_;
    const std::string run = central ? "central" : "federated";
    const std::string rounds_key = central ? "train.epochs" : "federation.rounds";
    ASSERT_EQ(Train(config, run).exit_code, 0);
    ExpectOneLineError(Resume(run, "--set train.lr=0.5 --set train.local_lr=0.5"),
                       "train --resume: train.l");
    ExpectOneLineError(Resume(run, "--set seed=8"), "seed = 8 differs from the run's 7");
    // Extended: the same model as a run configured with 6 from the start.
    const CliResult longer = Train(config, run + "_6", "--set " + rounds_key + "=6");
    ASSERT_EQ(longer.exit_code, 0) << longer.err;
    const CliResult extended = Resume(run, "--set " + rounds_key + "=6 --set eval.every=3");
    ASSERT_EQ(extended.exit_code, 0) << extended.err;
    EXPECT_EQ(Sha(extended.out), Sha(longer.out)) << run;
    const auto summary = nlohmann::json::parse(ReadText(Out(run) + "/summary.json"));
    ASSERT_TRUE(summary.contains("resume_config_changes")) << summary.dump();
    EXPECT_EQ(summary["resume_config_changes"][0]["key"], rounds_key);
    EXPECT_EQ(summary["run_id"].get<std::string>().size(), 32u);
    // config.toml follows, so a later plain --resume keeps the new length.
    EXPECT_THAT(ReadText(Out(run) + "/config.toml"), HasSubstr("= 6\n"));
  }
}

}  // namespace
}  // namespace fedrec::testing
