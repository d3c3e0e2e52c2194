// A stalled rank ends a federated run with one message naming the rank and
// the round (federation.round_timeout_s; comm/collective.h, "Deadlines"),
// through the real binary: under mpirun with a rank SIGSTOPped, under mpirun
// and locally with a rank held by the FEDREC_TEST_STALL seam
// (worker/worker_loop.cc). Label mpi: needs mpirun (Open MPI).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "tests/testing/fedrec_cli.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr char kMpirun[] =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    "OMPI_MCA_rmaps_base_oversubscribe=1 exec mpirun --oversubscribe -np 3 ";

class CliStall : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("stall");
    const std::string data = (dir_->path() / "s.txt").string();
    ASSERT_EQ(
        RunFedrec("data synth --users 400 --items 150 --seed 5 --out '" + data + "'", dir_->path())
            .exit_code,
        0);
    config_ = dir_->File("c.toml", "seed = 3\n[data]\npath = '" + data +
                                       "'\nmax_len = 30\n"
                                       "[model]\ntype = 'sasrec'\ndim = 16\nblocks = 1\n"
                                       "[federation]\nworkers = 2\nrounds = 100000\n"
                                       "sampling_rate = 0.1\n"
                                       "[eval]\nevery = 0\n[checkpoint]\nevery = 0\n");
  }
  std::string Out(const std::string& name) const { return (dir_->path() / name).string(); }
  std::string Train(const std::string& out) const {
    return "'" + FedrecBin() + "' --log-level warn train --config '" + config_ + "' --out '" + out +
           "' --set federation.round_timeout_s=2";
  }

  std::unique_ptr<TempDir> dir_;
  std::string config_;
};

// Starts `command` under /bin/sh with stdout and stderr into files; the
// returned pid is the command's own when it starts with `exec`.
pid_t Start(const std::string& command, const std::string& out, const std::string& err) {
  const std::string full = command + " >'" + out + "' 2>'" + err + "' </dev/null";
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // so a failed test can end the whole job
    execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// The child of `parent` whose environment says OMPI_COMM_WORLD_RANK=`rank`.
pid_t RankProcess(pid_t parent, int rank) {
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
    std::istringstream rest(line.substr(line.rfind(')') + 1));
    char state = 0;
    pid_t ppid = 0;
    if (!(rest >> state >> ppid) || ppid != parent) continue;
    std::ifstream environ(entry.path() / "environ");
    std::string var;
    while (std::getline(environ, var, '\0')) {
      if (var == want) return static_cast<pid_t>(std::stol(name));
    }
  }
  return -1;
}

// Waits up to `limit` for `pid`; its exit code, or -1 if it was still
// running (then its process group is killed) or died of a signal.
int WaitFor(pid_t pid, std::chrono::seconds limit, std::chrono::duration<double>* took) {
  const Clock::time_point start = Clock::now();
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() - start > limit) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      *took = Clock::now() - start;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *took = Clock::now() - start;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HasAMetricsLine(const std::string& run) {
  std::error_code ec;
  return std::filesystem::file_size(run + "/metrics.jsonl", ec) > 0 && !ec;
}

// The real thing: a worker process stopped with SIGSTOP in the middle of
// training. Where it stops (computing, or inside a collective it announced)
// decides which of the two messages names it.
TEST_F(CliStall, StalledRankEndsTheJobWithAMessage) {
  const std::string run = Out("mpi"), out = Out("mpi.out"), err = Out("mpi.err");
  const pid_t mpirun = Start(kMpirun + Train(run), out, err);
  ASSERT_GT(mpirun, 0);
  const Clock::time_point start = Clock::now();
  while (!HasAMetricsLine(run)) {
    ASSERT_LT(Clock::now() - start, std::chrono::seconds(120)) << ReadText(err);
    ASSERT_EQ(waitpid(mpirun, nullptr, WNOHANG), 0) << "mpirun ended early: " << ReadText(err);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const pid_t rank2 = RankProcess(mpirun, 2);
  ASSERT_GT(rank2, 0) << "no rank 2 among mpirun's children";
  ASSERT_EQ(kill(rank2, SIGSTOP), 0);

  std::chrono::duration<double> took{};
  const int code = WaitFor(mpirun, std::chrono::seconds(60), &took);
  const std::string stderr_text = ReadText(err);
  EXPECT_NE(code, 0) << stderr_text;
  EXPECT_NE(code, -1) << "the job did not end by itself: " << stderr_text;
  // 2 s deadline, up to 1 s of pings, MPI_Abort; slack for a busy machine.
  EXPECT_LT(took.count(), 15.0) << stderr_text;
  EXPECT_THAT(stderr_text,
              ContainsRegex("(^|\n)fedrec: error: round [0-9]+: rank 2 (did not reach the "
                            "[a-z]+ within 2 s|stopped inside the [a-z]+: all ranks reached "
                            "it, it did not complete within 2 s, and rank 2 does not answer) "
                            "\\(stalled or stopped\\); ending the job "
                            "\\(federation.round_timeout_s\\)\n"));
  kill(rank2, SIGKILL);  // in case MPI_Abort left it stopped
}

// A worker held before round 3 under mpirun: rank 0 names it and the round.
TEST_F(CliStall, StalledRankIsNamedWithItsRoundUnderMpirun) {
  const CliResult r =
      RunShell(std::string("FEDREC_TEST_STALL=2:3:60 ") + kMpirun + "-x FEDREC_TEST_STALL " +
                   Train(Out("mpi")) + " --set federation.rounds=10",
               dir_->path());
  EXPECT_NE(r.exit_code, 0);
  // The job's first line; mpirun and the killed ranks may add their own.
  EXPECT_THAT(r.err,
              ::testing::StartsWith("fedrec: error: round 3: rank 2 did not reach the allreduce "
                                    "within 2 s (stalled or stopped); ending the job "
                                    "(federation.round_timeout_s)\n"));
}

// The local-threads run: the held worker thread finds the group broken when
// it wakes, every rank unwinds, and the run ends with rank 0's one line.
TEST_F(CliStall, StalledWorkerThreadEndsTheLocalRunWithAMessage) {
  const Clock::time_point start = Clock::now();
  const CliResult r = RunShell("FEDREC_TEST_STALL=2:3:4 " + Train(Out("local")) +
                                   " --set federation.rounds=10 --set backend.comm=local",
                               dir_->path());
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "fedrec: error: round 3: rank 2 did not reach the allreduce within 2 s (stalled or "
            "stopped); ending the job (federation.round_timeout_s)\n");
  EXPECT_EQ(ReadText(Out("local") + "/metrics.jsonl").size() > 0, true);
  EXPECT_LT(took, 30.0);
}

// Without a deadline, a worker that is merely slow is waited for.
TEST_F(CliStall, ZeroTimeoutWaitsForASlowRank) {
  const CliResult r = RunShell("FEDREC_TEST_STALL=1:2:3 " + Train(Out("slow")) +
                                   " --set federation.rounds=3 --set federation.round_timeout_s=0",
                               dir_->path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace fedrec::testing
