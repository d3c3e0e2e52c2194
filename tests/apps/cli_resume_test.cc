// DESIGN.md invariant: a run killed at any moment and resumed ends with the
// same final model as an uninterrupted run. Kills the real binary with
// SIGKILL (timeout -s KILL) at several moments of a central training run.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/testing/fedrec_cli.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

TEST(CliResume, KilledAtAnyMomentAndResumedEndsIdentically) {
  TempDir dir("resume");
  const std::string data = (dir.path() / "s.txt").string();
  ASSERT_EQ(
      RunFedrec("data synth --users 1500 --items 400 --seed 5 --out '" + data + "'", dir.path())
          .exit_code,
      0);
  const std::string config =
      dir.File("c.toml", "seed = 3\n[data]\npath = '" + data +
                             "'\nmax_len = 50\n"
                             "[model]\ntype = 'sasrec'\ndim = 16\nblocks = 1\n"
                             "[train]\nepochs = 8\nbatch_size = 64\n"
                             "[federation]\nmode = 'central'\n"
                             "[eval]\nevery = 2\n[checkpoint]\nevery = 1\nkeep = 2\n");
  const auto start = std::chrono::steady_clock::now();
  const CliResult full = RunFedrec("--log-level off train --config '" + config + "' --out '" +
                                       (dir.path() / "full").string() + "'",
                                   dir.path());
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto expected = nlohmann::json::parse(full.out);

  const std::string bin = FedrecBin();
  ASSERT_FALSE(bin.empty());
  for (double fraction : {0.15, 0.4, 0.65, 0.9}) {
    const std::string out = (dir.path() / ("k" + std::to_string(fraction))).string();
    const std::string kill_cmd = "timeout -s KILL " + std::to_string(seconds * fraction) + " '" +
                                 bin + "' --log-level off train --config '" + config + "' --out '" +
                                 out + "' >/dev/null 2>&1";
    (void)std::system(kill_cmd.c_str());
    WaitUntilUnlocked(out);
    CliResult resumed;
    if (std::filesystem::exists(out + "/config.toml")) {
      resumed = RunFedrec("--log-level off train --resume --out '" + out + "'", dir.path());
    } else {  // killed before the run directory existed: nothing to resume
      std::filesystem::remove_all(out);
      resumed = RunFedrec("--log-level off train --config '" + config + "' --out '" + out + "'",
                          dir.path());
    }
    ASSERT_EQ(resumed.exit_code, 0) << "fraction " << fraction << ": " << resumed.err;
    const auto got = nlohmann::json::parse(resumed.out);
    EXPECT_EQ(got["model_sha256"], expected["model_sha256"]) << "fraction " << fraction;
    EXPECT_EQ(got["test_at_best"], expected["test_at_best"]) << "fraction " << fraction;
  }
}

}  // namespace
}  // namespace fedrec::testing
