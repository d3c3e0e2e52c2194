// Every class of bad input ends with exit code 2, one line
// "fedrec: error: <where>: <what>", and no partial output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/isa.h"
#include "proto/checkpoint.h"
#include "tests/testing/fedrec_cli.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

void ExpectUserError(const CliResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, StartsWith("fedrec: error: "));
  EXPECT_THAT(r.err, HasSubstr(fragment));
  // One line: the message and its newline, nothing else.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

std::string Stats(const std::string& path, const std::string& extra = "") {
  return "data stats --no-cache --input '" + path + "' " + extra;
}

class CliErrors : public ::testing::Test {
 protected:
  TempDir dir_{"cli"};
};

// The build's ISA is on --version; a CPU without it is refused before any
// work (core/isa_guard.cc), with one line and nothing written.
TEST_F(CliErrors, ACpuWithoutTheBuildsIsaIsRefusedBeforeAnything) {
  const CliResult version = RunFedrec("--version", dir_.path());
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_THAT(version.out, HasSubstr("(ISA " + BuildIsaDescription() + ")"));
  const std::string features = BuildIsaFeatureList();
  const std::filesystem::path out = dir_.path() / "synth.txt";
  const std::string synth = "data synth --users 20 --items 10 --out '" + out.string() + "'";
  if (features.empty()) {
    const CliResult r =
        RunShell("FEDREC_TEST_CPU_LACKS=avx2 '" + FedrecBin() + "' " + synth, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << "a baseline build needs no extension: " << r.err;
    return;
  }
  const std::string first = features.substr(0, features.find(' '));
  const CliResult r =
      RunShell("FEDREC_TEST_CPU_LACKS=" + first + " '" + FedrecBin() + "' " + synth, dir_.path());
  ExpectUserError(r, "this CPU lacks " + first + ";");
  EXPECT_THAT(r.err, HasSubstr(std::string("built for ") + BuildIsa()));
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(CliErrors, MissingFile) {
  ExpectUserError(RunFedrec(Stats((dir_.path() / "nope.data").string()), dir_.path()),
                  "nope.data: no such file");
}

TEST_F(CliErrors, Directory) {
  ExpectUserError(RunFedrec(Stats(dir_.path().string()), dir_.path()), "is a directory");
}

TEST_F(CliErrors, EmptyFile) {
  ExpectUserError(RunFedrec(Stats(dir_.File("e.data", "")), dir_.path()), "e.data");
  ExpectUserError(RunFedrec(Stats(dir_.File("blank.data", "\n\n  \n")), dir_.path()), "blank.data");
}

TEST_F(CliErrors, WrongColumnCount) {
  const auto p = dir_.File("u.data", "1\t2\t5\t100\n1\t3\t4\n");
  ExpectUserError(RunFedrec(Stats(p, "--format movielens"), dir_.path()), "u.data:2:");
}

TEST_F(CliErrors, NonIntegerId) {
  const auto p = dir_.File("u.data", "1\t2\t5\t100\nabc\t3\t4\t101\n");
  ExpectUserError(RunFedrec(Stats(p, "--format movielens"), dir_.path()), "u.data:2:");
}

TEST_F(CliErrors, NegativeId) {
  const auto p = dir_.File("u.data", "1\t-2\t5\t100\n");
  ExpectUserError(RunFedrec(Stats(p, "--format movielens"), dir_.path()), "u.data:1:");
}

TEST_F(CliErrors, IdOverflowing64Bits) {
  const auto p = dir_.File("seq.txt", "1 2\n18446744073709551616 3\n");
  ExpectUserError(RunFedrec(Stats(p, "--format sasrec"), dir_.path()), "seq.txt:2:");
}

TEST_F(CliErrors, NanOrInfiniteRating) {
  const auto nan = dir_.File("nan.data", "1\t2\tnan\t100\n");
  ExpectUserError(RunFedrec(Stats(nan, "--format movielens"), dir_.path()), "nan.data:1:");
  const auto inf = dir_.File("inf.data", "1\t2\t5\t100\n1\t3\tinf\t101\n");
  ExpectUserError(RunFedrec(Stats(inf, "--format movielens"), dir_.path()), "inf.data:2:");
}

TEST_F(CliErrors, LineLongerThanOneMebibyte) {
  std::string big = "1 2\n1 " + std::string(1 << 20, '7') + "\n";
  const auto p = dir_.File("long.txt", big);
  ExpectUserError(RunFedrec(Stats(p, "--format sasrec"), dir_.path()), "long.txt:2:");
}

TEST_F(CliErrors, UnknownFormat) {
  const auto p = dir_.File("u.data", "1\t2\t5\t100\n");
  ExpectUserError(RunFedrec(Stats(p, "--format parquet"), dir_.path()), "parquet");
}

TEST_F(CliErrors, BadConfigKeyOrValueWritesNoRunDirectory) {
  const auto out = dir_.path() / "run";
  const auto bad_key = dir_.File("k.toml", "seed = 1\n[train]\nlrr = 0.1\n");
  ExpectUserError(
      RunFedrec("train --config '" + bad_key + "' --out '" + out.string() + "'", dir_.path()),
      "k.toml:3:");
  EXPECT_FALSE(std::filesystem::exists(out));
  const auto bad_value = dir_.File("v.toml", "[train]\nlr = -1.0\n");
  ExpectUserError(
      RunFedrec("train --config '" + bad_value + "' --out '" + out.string() + "'", dir_.path()),
      "train.lr");
  EXPECT_FALSE(std::filesystem::exists(out));
  ExpectUserError(RunFedrec("train --config '" + bad_value + "' --set train.lr=abc --out '" +
                                out.string() + "'",
                            dir_.path()),
                  "train.lr");
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(CliErrors, UnknownSubcommandOrFlagIsAUsageError) {
  ExpectUserError(RunFedrec("frobnicate", dir_.path()), "command line");
  ExpectUserError(RunFedrec("eval --bogus", dir_.path()), "command line");
}

TEST_F(CliErrors, SynthWithBadOptionsWritesNothing) {
  const auto out = dir_.path() / "s.txt";
  ExpectUserError(
      RunFedrec("data synth --users 0 --items 10 --out '" + out.string() + "'", dir_.path()),
      "users");
  EXPECT_FALSE(std::filesystem::exists(out));
}

// A small real checkpoint, written through the library.
std::string WriteSmallCheckpoint(const TempDir& dir) {
  Checkpoint ckpt;
  ckpt.mutable_model()->set_type("pop");
  ckpt.mutable_model()->set_num_items(3);
  const float scores[3] = {3.0f, 1.0f, 2.0f};
  *ckpt.add_tensors() = TensorToProto("item_scores", ConstTensorView{scores, 1, 3});
  ckpt.set_round(7);
  StampCheckpoint(&ckpt);
  const std::string path = (dir.path() / "model.ckpt").string();
  EXPECT_TRUE(WriteCheckpoint(path, ckpt).ok());
  return path;
}

TEST_F(CliErrors, InspectReadsAGoodCheckpoint) {
  const std::string path = WriteSmallCheckpoint(dir_);
  const CliResult r = RunFedrec("inspect --json '" + path + "'", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"round\": 7"));
  const CliResult text = RunFedrec("inspect '" + path + "'", dir_.path());
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("sha256"));
}

TEST_F(CliErrors, TruncatedCheckpoint) {
  const std::string path = WriteSmallCheckpoint(dir_);
  const std::string bytes = ReadText(path);
  for (size_t keep : {size_t{0}, size_t{5}, size_t{30}, bytes.size() - 1}) {
    const std::string cut = dir_.File("cut.ckpt", bytes.substr(0, keep));
    const CliResult r = RunFedrec("inspect '" + cut + "'", dir_.path());
    ExpectUserError(r, "cut.ckpt: ");
  }
}

TEST_F(CliErrors, AlteredCheckpoint) {
  const std::string path = WriteSmallCheckpoint(dir_);
  std::string bytes = ReadText(path);
  bytes[bytes.size() - 3] ^= 0x10;  // one bit of the payload
  const std::string flipped = dir_.File("flip.ckpt", bytes);
  ExpectUserError(RunFedrec("inspect '" + flipped + "'", dir_.path()), "digest mismatch");
}

TEST_F(CliErrors, WrongVersionOrNotACheckpoint) {
  const std::string path = WriteSmallCheckpoint(dir_);
  std::string bytes = ReadText(path);
  bytes[8] = 9;  // format version 9
  const std::string v9 = dir_.File("v9.ckpt", bytes);
  ExpectUserError(RunFedrec("inspect '" + v9 + "'", dir_.path()), "version");
  const std::string junk = dir_.File("junk.ckpt", std::string(100, 'x'));
  ExpectUserError(RunFedrec("inspect '" + junk + "'", dir_.path()), "not a fedrec checkpoint");
}

}  // namespace
}  // namespace fedrec::testing
