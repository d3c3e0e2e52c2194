// Federated runs through the real binary: the same final model locally and
// under mpirun, and after SIGKILL + --resume at any moment (DESIGN.md
// invariants). Label mpi: needs mpirun (Open MPI); label slow: kill/resume.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "tests/testing/fedrec_cli.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

// Runs `mpirun --oversubscribe -np N fedrec ARGS`.
CliResult RunMpi(int np, const std::string& args, const std::filesystem::path& scratch) {
  return RunShell(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      "OMPI_MCA_rmaps_base_oversubscribe=1 mpirun --oversubscribe -np " +
          std::to_string(np) + " '" + FedrecBin() + "' " + args,
      scratch);
}

// Waits (up to 30 s) until no process has `run` on its command line: a rank
// killed before it took the run's lock would otherwise still be creating the
// directory that the test goes on to clear. "[/]" keeps the shell that runs
// pgrep from matching itself.
void WaitUntilNoProcessUses(const std::string& run) {
  const std::string cmd =
      "pgrep -f -- '[" + run.substr(0, 1) + "]" + run.substr(1) + "' >/dev/null";
  for (int i = 0; i < 300 && std::system(cmd.c_str()) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

class CliFederated : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("fed");
    data_ = (dir_->path() / "s.txt").string();
    ASSERT_EQ(
        RunFedrec("data synth --users 400 --items 150 --seed 5 --out '" + data_ + "'", dir_->path())
            .exit_code,
        0);
    config_ = dir_->File("c.toml", "seed = 3\n[data]\npath = '" + data_ +
                                       "'\nmax_len = 30\n"
                                       "[model]\ntype = 'sasrec'\ndim = 16\nblocks = 1\n"
                                       "[train]\nlocal_epochs = 1\nlocal_lr = 0.1\n"
                                       "[federation]\nmode = 'federated'\nworkers = 2\n"
                                       "rounds = 12\nsampling_rate = 0.1\n"
                                       "server_optimizer = 'fedadam'\nserver_lr = 0.02\n"
                                       "[eval]\nevery = 4\n[checkpoint]\nevery = 2\nkeep = 2\n");
  }
  std::string Out(const std::string& name) const { return (dir_->path() / name).string(); }

  std::unique_ptr<TempDir> dir_;
  std::string data_, config_;
};

TEST_F(CliFederated, MpiRunMatchesTheLocalRun) {
  const CliResult local = RunFedrec("--log-level off train --config '" + config_ +
                                        "' --set federation.workers=4 --out '" + Out("local") + "'",
                                    dir_->path());
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const auto expected = nlohmann::json::parse(local.out);
  for (int np : {2, 3}) {
    const CliResult mpi = RunMpi(np,
                                 "--log-level warn train --config '" + config_ + "' --out '" +
                                     Out(std::to_string(np).insert(0, "mpi")) + "'",
                                 dir_->path());
    ASSERT_EQ(mpi.exit_code, 0) << mpi.err;
    const auto got = nlohmann::json::parse(mpi.out);  // only rank 0 prints
    EXPECT_EQ(got["backend"], "mpi");
    EXPECT_EQ(got["workers"], np - 1);
    EXPECT_EQ(got["model_sha256"], expected["model_sha256"]) << "np " << np;
    EXPECT_EQ(got["test_at_best"], expected["test_at_best"]) << "np " << np;
  }
}

TEST_F(CliFederated, MpiSecureAggregationMatchesThePlainLocalRun) {
  const CliResult local =
      RunFedrec("--log-level off train --config '" + config_ + "' --out '" + Out("plain") + "'",
                dir_->path());
  ASSERT_EQ(local.exit_code, 0) << local.err;
  for (const char* scope : {"worker", "client"}) {
    const CliResult mpi = RunMpi(3,
                                 std::string("--log-level warn train --config '") + config_ +
                                     "' --set secagg.enabled=true --set secagg.scope=" + scope +
                                     " --out '" + Out(scope) + "'",
                                 dir_->path());
    ASSERT_EQ(mpi.exit_code, 0) << mpi.err;
    EXPECT_EQ(nlohmann::json::parse(mpi.out)["model_sha256"],
              nlohmann::json::parse(local.out)["model_sha256"])
        << scope;
  }
}

TEST_F(CliFederated, MpiDistributedDpMatchesTheLocalRun) {
  // Each client's discrete Gaussian share is keyed by the pinned noise seed,
  // so the ranks that host the clients do not change the model.
  const std::string args = "--log-level off train --config '" + config_ +
                           "' --set secagg.enabled=true --set privacy.mode=distributed "
                           "--set privacy.noise_multiplier=0.5 --set privacy.noise_seed=11 "
                           "--set privacy.min_clients=2 --set federation.rounds=6 --out '";
  const CliResult local = RunFedrec(args + Out("ddg_local") + "'", dir_->path());
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const auto expected = nlohmann::json::parse(local.out);
  EXPECT_EQ(expected["privacy"]["mode"], "distributed");
  const CliResult mpi =
      RunMpi(3, args + Out("ddg_mpi") + "' --set secagg.scope=client", dir_->path());
  ASSERT_EQ(mpi.exit_code, 0) << mpi.err;
  const auto got = nlohmann::json::parse(mpi.out);
  EXPECT_EQ(got["model_sha256"], expected["model_sha256"]);
  EXPECT_EQ(got["privacy"]["epsilon"], expected["privacy"]["epsilon"]);
}

TEST_F(CliFederated, MpiLocalParametersStayInTheirRanksShardsAndMatchTheLocalRun) {
  const std::string mf = "--log-level off train --config '" + config_ +
                         "' --set model.type=mf_bpr --set federation.rounds=6 --out '";
  const CliResult local =
      RunFedrec(mf + Out("mf_local") + "' --set federation.workers=3", dir_->path());
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const CliResult mpi = RunMpi(3, mf + Out("mf_mpi") + "'", dir_->path());
  ASSERT_EQ(mpi.exit_code, 0) << mpi.err;
  EXPECT_EQ(nlohmann::json::parse(mpi.out)["model_sha256"],
            nlohmann::json::parse(local.out)["model_sha256"]);
  // Rank 0's checkpoint lists two worker shards; eval reads them back.
  const std::string best = Out("mf_mpi") + "/checkpoints/best.ckpt";
  const CliResult inspect = RunFedrec("inspect '" + best + "'", dir_->path());
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("local shards    2"), std::string::npos) << inspect.out;
  const CliResult eval = RunFedrec(
      "eval --checkpoint '" + best + "' --data '" + data_ + "' --split test", dir_->path());
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  // A shard gone: resume under mpirun ends every rank with the reason.
  for (const auto& e : std::filesystem::directory_iterator(Out("mf_mpi") + "/checkpoints")) {
    if (e.path().filename().string().find("w2-of-2.local") != std::string::npos) {
      std::filesystem::remove(e.path());
    }
  }
  const CliResult resumed =
      RunMpi(3, "--log-level off train --out '" + Out("mf_mpi") + "' --resume", dir_->path());
  EXPECT_EQ(resumed.exit_code, 2) << resumed.err;
  EXPECT_NE(resumed.err.find("w2-of-2.local"), std::string::npos) << resumed.err;
}

TEST_F(CliFederated, MpiKilledAndResumedEndsIdentically) {
  const std::string args =
      "--log-level off train --config '" + config_ + "' --set federation.rounds=40 --out '";
  const auto start = std::chrono::steady_clock::now();
  const CliResult full = RunMpi(3, args + Out("full") + "'", dir_->path());
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto expected = nlohmann::json::parse(full.out);
  // Kill the whole job part-way (timeout signals mpirun, whose ranks die
  // with it), then resume under mpirun.
  const std::pair<double, const char*> kills[] = {{0.5, "k50"}, {0.8, "k80"}};
  for (const auto& [fraction, name] : kills) {
    const std::string out = Out(name);
    std::ostringstream kill_cmd;
    kill_cmd << "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout -s KILL "
             << seconds * fraction << " mpirun --oversubscribe -np 3 '" << FedrecBin() << "' "
             << args << out << "' >/dev/null 2>&1";
    (void)std::system(kill_cmd.str().c_str());
    // The ranks outlive mpirun for a moment; until rank 0 is gone it still
    // holds the run directory and a resume would be refused.
    WaitUntilUnlocked(out);
    WaitUntilNoProcessUses(out);
    CliResult resumed;
    if (std::filesystem::exists(out + "/config.toml")) {
      resumed = RunMpi(3, "--log-level off train --resume --out '" + out + "'", dir_->path());
    } else {
      std::filesystem::remove_all(out);
      resumed = RunMpi(3, args + out + "'", dir_->path());
    }
    ASSERT_EQ(resumed.exit_code, 0) << name << ": " << resumed.err;
    EXPECT_EQ(nlohmann::json::parse(resumed.out)["model_sha256"], expected["model_sha256"]) << name;
  }
}

TEST_F(CliFederated, KilledAtAnyMomentAndResumedEndsIdentically) {
  const auto start = std::chrono::steady_clock::now();
  const std::string args =
      "--log-level off train --config '" + config_ + "' --set federation.rounds=40 --out '";
  const CliResult full = RunFedrec(args + Out("full") + "'", dir_->path());
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto expected = nlohmann::json::parse(full.out);
  const std::pair<double, const char*> kills[] = {
      {0.2, "k20"}, {0.45, "k45"}, {0.7, "k70"}, {0.95, "k95"}};
  for (const auto& [fraction, name] : kills) {
    const std::string out = Out(name);
    std::ostringstream kill_cmd;
    kill_cmd << "timeout -s KILL " << seconds * fraction << " '" << FedrecBin() << "' " << args
             << out << "' >/dev/null 2>&1";
    (void)std::system(kill_cmd.str().c_str());
    // The ranks outlive mpirun for a moment; until rank 0 is gone it still
    // holds the run directory and a resume would be refused.
    WaitUntilUnlocked(out);
    CliResult resumed;
    if (std::filesystem::exists(out + "/config.toml")) {
      resumed = RunFedrec("--log-level off train --resume --out '" + out + "'", dir_->path());
    } else {
      std::filesystem::remove_all(out);
      resumed = RunFedrec(args + out + "'", dir_->path());
    }
    ASSERT_EQ(resumed.exit_code, 0) << "fraction " << fraction << ": " << resumed.err;
    const auto got = nlohmann::json::parse(resumed.out);
    EXPECT_EQ(got["model_sha256"], expected["model_sha256"]) << "fraction " << fraction;
    EXPECT_EQ(got["test_at_best"], expected["test_at_best"]) << "fraction " << fraction;
  }
}

}  // namespace
}  // namespace fedrec::testing
