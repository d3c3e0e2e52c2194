#include "core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/status.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::testing::HasSubstr;

using ::fedrec::testing::StatusMessage;

// Expects InvalidArgument with exactly this message.
void ExpectError(const absl::StatusOr<Config>& c, const std::string& message) {
  ASSERT_FALSE(c.ok()) << "expected error: " << message;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusMessage(c.status()), message);
}

TEST(Config, DefaultsOnly) {
  auto c = LoadConfig("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, Config{});
  EXPECT_EQ(c->data.max_len, 200);
  EXPECT_EQ(c->eval.negatives, 100);
  EXPECT_EQ(c->model.type, "sasrec");
  EXPECT_FALSE(c->privacy.noise_seed.has_value());
}

TEST(Config, ParsesAFile) {
  const std::string text = R"(
seed = 7
[data]
path = "data/ml-1m/ratings.dat"
kcore = 5
dedupe_consecutive = true
[model]
type = "gru4rec"
dim = 64
heads = 2
[train]
lr = 1          # an integer is accepted for a number
[federation]
sampling_rate = 0.5
partition = "dirichlet:0.3"
[privacy]
mode = "central"
target_epsilon = 8.0
noise_seed = 123
[aggregation]
bits = 64
)";
  auto c = ParseConfig(text, "run.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->seed, 7u);
  EXPECT_EQ(c->data.path, "data/ml-1m/ratings.dat");
  EXPECT_EQ(c->data.kcore, 5);
  EXPECT_TRUE(c->data.dedupe_consecutive);
  EXPECT_EQ(c->model.type, "gru4rec");
  EXPECT_EQ(c->model.dim, 64);
  EXPECT_EQ(c->train.lr, 1.0);
  EXPECT_EQ(c->federation.sampling_rate, 0.5);
  EXPECT_EQ(c->federation.partition, "dirichlet:0.3");
  EXPECT_EQ(c->privacy.target_epsilon, 8.0);
  EXPECT_EQ(c->privacy.noise_seed, 123u);
  EXPECT_EQ(c->aggregation.bits, 64);
}

TEST(Config, UnknownKeyAndSection) {
  ExpectError(ParseConfig("[train]\nepochs = 3\n\nlrr = 0.1\n", "config.toml"),
              "config.toml:4: unknown key 'train.lrr'");
  ExpectError(ParseConfig("seed = 1\n[trian]\nlr = 0.1\n", "config.toml"),
              "config.toml:2: unknown section 'trian'");
  ExpectError(ParseConfig("sed = 1\n", "config.toml"), "config.toml:1: unknown key 'sed'");
  ExpectError(ParseConfig("train = 3\n", "c.toml"),
              "c.toml:1: 'train' must be a table ([train]), got integer");
  ExpectError(ParseConfig("[train.sub]\nx = 1\n", "c.toml"), "c.toml:1: unknown key 'train.sub'");
}

TEST(Config, WrongType) {
  ExpectError(ParseConfig("[model]\ntype = \"pop\"\n[train]\nlr = \"fast\"\n", "config.toml"),
              "config.toml:4: train.lr: expected a number, got string");
  ExpectError(ParseConfig("[model]\ndim = 1.5\n", "config.toml"),
              "config.toml:2: model.dim: expected an integer, got float");
  ExpectError(ParseConfig("[secagg]\nenabled = 1\n", "config.toml"),
              "config.toml:2: secagg.enabled: expected a boolean, got integer");
  ExpectError(ParseConfig("[data]\npath = [1, 2]\n", "config.toml"),
              "config.toml:2: data.path: expected a string, got array");
}

TEST(Config, OutOfRange) {
  ExpectError(ParseConfig("[train]\nlr = 0.0\n", "config.toml"),
              "config.toml:2: train.lr: must be > 0");
  ExpectError(ParseConfig("[federation]\nsampling_rate = 1.5\n", "c.toml"),
              "c.toml:2: federation.sampling_rate: must be in (0, 1]");
  ExpectError(ParseConfig("[federation]\nsampling_rate = 0\n", "c.toml"),
              "c.toml:2: federation.sampling_rate: must be in (0, 1]");
  ExpectError(ParseConfig("[aggregation]\nbits = 16\n", "c.toml"),
              "c.toml:2: aggregation.bits: must be 32 or 64");
  ExpectError(ParseConfig("[model]\ntype = \"bert\"\n", "c.toml"),
              "c.toml:2: model.type: unknown value 'bert' (allowed: sasrec, gru4rec, mf_bpr, "
              "mf_rating, pop)");
  ExpectError(ParseConfig("[data]\nmax_len = 0\n", "c.toml"),
              "c.toml:2: data.max_len: must be >= 1");
  ExpectError(ParseConfig("seed = -1\n", "c.toml"), "c.toml:1: seed: must be >= 0");
  ExpectError(ParseConfig("[privacy]\ndelta = 1.0\n", "c.toml"),
              "c.toml:2: privacy.delta: must be in (0, 1)");
  ExpectError(ParseConfig("[federation]\npartition = \"dirichlet:-1\"\n", "c.toml"),
              "c.toml:2: federation.partition: 'dirichlet:-1': dirichlet needs a positive ALPHA "
              "(e.g. dirichlet:0.5)");
  ExpectError(ParseConfig("[federation]\npartition = \"random\"\n", "c.toml"),
              "c.toml:2: federation.partition: unknown value 'random' (allowed: hash, "
              "contiguous, dirichlet:ALPHA)");
  ExpectError(ParseConfig("[train]\nlr = nan\n", "c.toml"), "c.toml:2: train.lr: must be > 0");
  ExpectError(ParseConfig("[eval]\nfinal_protocols = \"sampled,ful\"\n", "c.toml"),
              "c.toml:2: eval.final_protocols: 'sampled,ful': 'ful' is not a protocol (a "
              "comma-separated list of sampled, full, e.g. \"sampled,full\" or \"sampled\")");
  ExpectError(ParseConfig("[eval]\nfinal_protocols = \"\"\n", "c.toml"),
              "c.toml:2: eval.final_protocols: '': '' is not a protocol (a comma-separated list "
              "of sampled, full, e.g. \"sampled,full\" or \"sampled\")");
  ExpectError(ParseConfig("[eval]\nfinal_protocols = \"full,full\"\n", "c.toml"),
              "c.toml:2: eval.final_protocols: 'full,full': 'full' is listed twice");
}

TEST(Config, FinalProtocols) {
  EXPECT_EQ(ParseConfig("", "c.toml")->eval.final_protocols, "sampled,full");
  for (const std::string v : {"sampled", "full", "full,sampled"}) {
    const auto c = ParseConfig("[eval]\nfinal_protocols = \"" + v + "\"\n", "c.toml");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->eval.final_protocols, v);
  }
}

TEST(Config, CrossKeyChecks) {
  ExpectError(ParseConfig("[model]\ndim = 50\nheads = 3\n", "c.toml"),
              "c.toml: model.dim: must be a multiple of model.heads (3)");
  ExpectError(ParseConfig("[privacy]\nmode = \"central\"\n", "c.toml"),
              "c.toml: privacy: mode 'central' needs privacy.noise_multiplier > 0 or "
              "privacy.target_epsilon");
  auto c = LoadConfig("", {"privacy.mode=distributed", "privacy.noise_multiplier=1.1"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(StatusMessage(c.status()), HasSubstr("config: privacy.mode: 'distributed' needs"));
  ExpectError(ParseConfig("[backend]\ntf32 = true\n", "c.toml"),
              "c.toml: backend.tf32: true needs backend.compute = \"cuda\" (TF32 is a GPU "
              "tensor-core format; the CPU computes in FP32)");
  EXPECT_TRUE(ParseConfig("[backend]\ntf32 = true\ncompute = \"cuda\"\n", "c.toml").ok());
}

TEST(Config, SyntaxErrorHasLine) {
  auto c = ParseConfig("[train]\nlr = 0.1\nepochs = = 3\n", "config.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(StatusMessage(c.status()), ::testing::StartsWith("config.toml:3: "));
}

TEST(Config, Overrides) {
  auto c = LoadConfig(
      "", {"train.lr=0.01", "model.type=mf_bpr", "seed=9", "secagg.enabled=true",
           "data.path=/tmp/x.csv", "data.format=\"csv\"", "train.epochs = 4",
           "privacy.noise_seed=5", "federation.partition=dirichlet:0.5", "data.path=123"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->train.lr, 0.01);
  EXPECT_EQ(c->model.type, "mf_bpr");
  EXPECT_EQ(c->seed, 9u);
  EXPECT_TRUE(c->secagg.enabled);
  EXPECT_EQ(c->data.format, "csv");
  EXPECT_EQ(c->train.epochs, 4);
  EXPECT_EQ(c->privacy.noise_seed, 5u);
  EXPECT_EQ(c->federation.partition, "dirichlet:0.5");
  EXPECT_EQ(c->data.path, "123");  // a string key takes the raw text
  // Integer for a float key is converted.
  auto d = LoadConfig("", {"federation.server_lr=2"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->federation.server_lr, 2.0);
}

// model.recipe = "modern" changes the defaults of the loss keys only; a key
// set in the file or by --set keeps its value; the resolved text round-trips.
TEST(Config, ModernRecipeSetsDefaultsThatExplicitKeysOverride) {
  auto paper = LoadConfig("", {});
  ASSERT_TRUE(paper.ok());
  EXPECT_EQ(paper->model.recipe, "paper");
  EXPECT_EQ(paper->train.loss, "auto");
  auto modern = LoadConfig("", {"model.recipe=modern"});
  ASSERT_TRUE(modern.ok()) << modern.status();
  EXPECT_EQ(modern->train.loss, "sampled_softmax");
  EXPECT_EQ(modern->train.negatives, 256);
  EXPECT_FALSE(modern->train.normalize_embeddings);
  EXPECT_EQ(modern->train.temperature, 1.0);
  const testing::TempDir dir("recipe");
  const std::string path = dir.File("run.toml",
                                    "[model]\nrecipe = \"modern\"\n[train]\nnegatives = 64\n"
                                    "normalize_embeddings = true\n");
  auto mixed = LoadConfig(path, {"train.loss=gbce"});
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(mixed->train.loss, "gbce");
  EXPECT_EQ(mixed->train.negatives, 64);
  EXPECT_TRUE(mixed->train.normalize_embeddings);
  auto again = ParseConfig(ToToml(*mixed), "resolved.toml", {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == *mixed);
  auto gru = LoadConfig("", {"model.recipe=modern", "model.type=gru4rec"});
  ASSERT_TRUE(gru.ok()) << gru.status();
  EXPECT_EQ(gru->train.loss, "sampled_softmax");
  EXPECT_EQ(gru->train.negatives, 256);
  auto mf = LoadConfig("", {"model.recipe=modern", "model.type=mf_bpr"});
  ASSERT_FALSE(mf.ok());
  EXPECT_NE(std::string(mf.status().message()).find("model.recipe"), std::string::npos);
  auto bad = LoadConfig("", {"train.negative_sampler=zipf"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("train.negative_sampler"), std::string::npos);
  EXPECT_FALSE(LoadConfig("", {"train.gbce_t=1.5"}).ok());
  EXPECT_FALSE(LoadConfig("", {"train.temperature=0"}).ok());
  EXPECT_FALSE(LoadConfig("", {"train.patience=-1"}).ok());
  EXPECT_TRUE(LoadConfig("", {"train.patience=3"}).ok());  // federated
  EXPECT_TRUE(LoadConfig("", {"train.patience=3", "federation.mode=central"}).ok());
}

TEST(Config, OverridesApplyAfterTheFile) {
  const testing::TempDir dir("cfg");
  const std::string path = dir.File("run.toml", "[train]\nlr = 0.5\nepochs = 2\n");
  auto c = LoadConfig(path, {"train.lr=0.25"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->train.lr, 0.25);
  EXPECT_EQ(c->train.epochs, 2);
  auto missing = LoadConfig(dir.Path("nope.toml"), {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(Config, RoundTimeoutIsFiniteSecondsAtLeastZero) {
  EXPECT_EQ(Config().federation.round_timeout_s, 1800);
  ExpectError(LoadConfig("", {"federation.round_timeout_s=-1"}),
              "--set federation.round_timeout_s=-1: must be in [0, 1000000000]");
  ExpectError(ParseConfig("[federation]\nround_timeout_s = inf\n", "c.toml"),
              "c.toml:2: federation.round_timeout_s: must be in [0, 1000000000]");
  absl::StatusOr<Config> c = LoadConfig("", {"federation.round_timeout_s=0"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->federation.round_timeout_s, 0);  // no deadline
  c = LoadConfig("", {"federation.round_timeout_s=2"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->federation.round_timeout_s, 2);
}

TEST(Config, MalformedOverrides) {
  ExpectError(LoadConfig("", {"train.lr=abc"}), "--set train.lr=abc: expected a number");
  ExpectError(LoadConfig("", {"model.dim=1.5"}), "--set model.dim=1.5: expected an integer");
  ExpectError(LoadConfig("", {"secagg.enabled=yes"}),
              "--set secagg.enabled=yes: expected a boolean");
  ExpectError(LoadConfig("", {"train.lrr=1"}), "--set train.lrr=1: unknown key 'train.lrr'");
  ExpectError(LoadConfig("", {"trian.lr=1"}), "--set trian.lr=1: unknown section 'trian'");
  ExpectError(LoadConfig("", {"train.lr"}), "--set train.lr: expected section.key=value");
  ExpectError(LoadConfig("", {"train.lr=-1"}), "--set train.lr=-1: must be > 0");
  ExpectError(LoadConfig("", {"model.type=bert"}),
              "--set model.type=bert: unknown value 'bert' (allowed: sasrec, gru4rec, mf_bpr, "
              "mf_rating, pop)");
}

// Found by fuzz_config: a bare --set string with bytes that are not UTF-8
// was accepted, and the config.toml written from it could not be read back.
TEST(Config, SetRefusesAStringThatIsNotUtf8) {
  const std::string set =
      "data.path=aggregation.weighta.path=aggregat\x90\x90\x91\xd1\x96\x91\x98\xc2'x y.csv'";
  auto c = ParseConfig("[model]\ntype = \"gru4rec\"\n", "fuzz.toml",
                       {"model.dim=8", "seed = 9", "secagg.enabled=true", set});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(StatusMessage(c.status()), HasSubstr("not valid UTF-8"));
  // Valid UTF-8 stays accepted and survives the config.toml round trip.
  auto ok = LoadConfig("", {"data.path=donn\xc3\xa9"
                            "es/\xe6\x95\xb0\xe6\x8d\xae.csv"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  auto back = ParseConfig(ToToml(*ok), "config.toml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, *ok);
}

TEST(Config, ToTomlRoundTrips) {
  auto defaults = LoadConfig("", {});
  ASSERT_TRUE(defaults.ok());
  auto back = ParseConfig(ToToml(*defaults), "resolved.toml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, *defaults);

  auto c = LoadConfig(
      "", {"train.lr=0.1", "privacy.mode=central", "privacy.target_epsilon=3", "privacy.delta=1e-7",
           "privacy.noise_seed=99", "data.path=dir with \"quotes\" and \\ backslash",
           "federation.sampling_rate=0.123456789012345678", "seed=0", "model.dropout=0"});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string toml = ToToml(*c);
  auto c2 = ParseConfig(toml, "resolved.toml");
  ASSERT_TRUE(c2.ok()) << c2.status() << "\n" << toml;
  EXPECT_EQ(*c2, *c);
  EXPECT_THAT(toml, HasSubstr("[privacy]\n"));
  EXPECT_THAT(toml, HasSubstr("# Seed of every counter-based simulation stream.\nseed = 0\n"));
  EXPECT_EQ(ToToml(*c2), toml);
}

TEST(Config, KeysMarkdownListsEveryKey) {
  const std::string md = ConfigKeysMarkdown();
  EXPECT_THAT(md, HasSubstr("| key | type | default | description |"));
  EXPECT_THAT(md, HasSubstr("| `train.lr` | number | `0.001` |"));
  EXPECT_THAT(md, HasSubstr("| `privacy.noise_seed` | integer | `unset` |"));
  for (const std::string& name : ConfigKeyNames()) {
    EXPECT_THAT(md, HasSubstr("| `" + name + "` |"));
  }
  EXPECT_EQ(ConfigKeyNames().size(), 81u);
}

}  // namespace
}  // namespace fedrec

namespace fedrec {
namespace {

// Every shipped example must load (keys, types, ranges, cross-key checks).
TEST(ConfigExamples, EveryExampleLoads) {
  const std::string root = FEDREC_SOURCE_DIR;
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root + "/examples")) {
    if (entry.path().extension() != ".toml") continue;
    auto config = LoadConfig(entry.path().string());
    EXPECT_TRUE(config.ok()) << entry.path() << ": " << config.status();
    ++loaded;
  }
  EXPECT_GE(loaded, 7);
}

}  // namespace
}  // namespace fedrec
