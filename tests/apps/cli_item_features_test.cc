// Item content features through the real binary: their identity goes into
// summary.json and every checkpoint (`fedrec inspect`), and a resume or an
// evaluation with other features is refused; a bad feature file is refused
// before anything is written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/tensor_files.h"
#include "tests/testing/fedrec_cli.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;


class CliItemFeatures : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = Path("s.txt");
    ASSERT_EQ(
        RunFedrec("data synth --users 120 --items 150 --seed 3 --out " + Quote(data_), dir_.path())
            .exit_code,
        0);
    // Rows for ids 0..199: a superset of the synthetic items' ids.
    WriteFeatures(0.0f);
    config_ = dir_.File("c.toml", "seed = 2\n[data]\npath = '" + data_ +
                                      "'\nmax_len = 20\nitem_features = '" + Path("f.npy") +
                                      "'\n[model]\ntype = 'sasrec'\ndim = 8\nblocks = 1\n"
                                      "[train]\nepochs = 2\nbatch_size = 32\n"
                                      "[federation]\nmode = 'central'\n[checkpoint]\nevery = 1\n");
  }

  void WriteFeatures(float first_value) {
    constexpr uint64_t kRows = 200, kDim = 4;
    std::vector<float> values(kRows * kDim);
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) * 0.25f;
    values[kDim] = first_value;  // row 1: item 1 (synthetic ids start at 1)
    std::vector<int64_t> ids(kRows);
    for (uint64_t i = 0; i < kRows; ++i) ids[i] = static_cast<int64_t>(i);
    const std::vector<uint64_t> shape = {kRows, kDim}, id_shape = {kRows};
    ASSERT_TRUE(WriteNpy(Path("f.npy"), shape, std::span<const float>(values)).ok());
    ASSERT_TRUE(WriteNpy(Path("f.ids.npy"), id_shape, std::span<const int64_t>(ids)).ok());
  }

  std::string Path(const std::string& name) const { return (dir_.path() / name).string(); }

  TempDir dir_{"features"};
  std::string data_, config_;
};

TEST_F(CliItemFeatures, IdentityIsRecordedAndChecked) {
  const CliResult train =
      RunFedrec("--log-level off train --config " + Quote(config_) + " --out " + Quote(Path("run")),
                dir_.path());
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const auto summary = nlohmann::json::parse(train.out);
  ASSERT_TRUE(summary.contains("item_features")) << train.out;
  const std::string sha = summary["item_features"]["sha256"];
  EXPECT_EQ(sha.size(), 64u);
  EXPECT_EQ(summary["item_features"]["dim"], 4);

  const std::string best = Path("run") + "/checkpoints/best.ckpt";
  const CliResult inspect = RunFedrec("inspect " + Quote(best), dir_.path());
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_THAT(inspect.out, HasSubstr("item features   " + Path("f.npy") + " dim=4 sha256=" + sha));

  const std::string eval = "--log-level off eval --checkpoint " + Quote(best) + " --data " +
                           Quote(data_) + " --split test";
  const CliResult evaluated = RunFedrec(eval, dir_.path());
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;

  WriteFeatures(5.0f);  // same path, other content
  ExpectOneLineError(RunFedrec("--log-level off train --resume --out " + Quote(Path("run")) +
                                   " --set train.epochs=3",
                               dir_.path()),
                     "data.item_features: " + Path("f.npy") + " has changed since");
  ExpectOneLineError(RunFedrec(eval, dir_.path()),
                     "evaluate with the features the model was trained on");

  WriteFeatures(0.0f);  // the original bytes again: both work
  const CliResult again = RunFedrec(eval, dir_.path());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(RunFedrec("--log-level off train --resume --out " + Quote(Path("run")) +
                          " --set train.epochs=3",
                      dir_.path())
                .exit_code,
            0);
}

TEST_F(CliItemFeatures, BadFeaturesAreRefusedBeforeAnythingIsWritten) {
  WriteFeatures(std::numeric_limits<float>::quiet_NaN());
  ExpectOneLineError(
      RunFedrec("--log-level off train --config " + Quote(config_) + " --out " + Quote(Path("run")),
                dir_.path()),
      Path("f.npy") + ": row 1 (item 1) holds a non-finite value");
  EXPECT_FALSE(fs::exists(Path("run")));

  fs::remove(Path("f.ids.npy"));
  WriteText(Path("f.ids.txt"), "1\n2\n");
  ExpectOneLineError(
      RunFedrec("--log-level off train --config " + Quote(config_) + " --out " + Quote(Path("run")),
                dir_.path()),
      "2 item ids for 200 feature rows");
  EXPECT_FALSE(fs::exists(Path("run")));
}

}  // namespace
}  // namespace fedrec::testing
