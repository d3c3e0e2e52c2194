#include "data/synth_content.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "data/item_features.h"
#include "data/loader.h"
#include "data/tensor_files.h"
#include "tests/testing/temp_dir.h"

namespace fedrec {
namespace {

using ::fedrec::testing::TestDir;

SynthOptions Small() {
  SynthOptions o;
  o.users = 400;
  o.items = 600;
  o.clusters = 12;
  o.seed = 42;
  return o;
}

double Dot(const float* a, const float* b, uint32_t n) {
  double s = 0;
  for (uint32_t i = 0; i < n; ++i) s += double{a[i]} * b[i];
  return s;
}

// Mean cosine of item pairs in the same cluster and in different clusters
// (rows are unit vectors).
struct Cosines {
  double same = 0, other = 0;
};
Cosines MeanCosines(const SynthOptions& o, const SynthContentOptions& c) {
  const std::vector<float> x = SynthItemFeatures(o, c);
  Cosines out;
  uint64_t same = 0, other = 0;
  for (uint32_t i = 0; i < o.items; ++i) {
    for (uint32_t j = i + 1; j < o.items; ++j) {
      const double cos = Dot(&x[size_t{i} * c.dim], &x[size_t{j} * c.dim], c.dim);
      if (SynthClusterOf(o, i) == SynthClusterOf(o, j)) {
        out.same += cos;
        ++same;
      } else {
        out.other += cos;
        ++other;
      }
    }
  }
  out.same /= static_cast<double>(same);
  out.other /= static_cast<double>(other);
  return out;
}

TEST(SynthContent, FeaturesAreUnitRowsAndDeterministicForAnyThreadCount) {
  SynthOptions o = Small();
  SynthContentOptions c;
  o.threads = 1;
  const std::vector<float> one = SynthItemFeatures(o, c);
  ASSERT_EQ(one.size(), size_t{o.items} * c.dim);
  o.threads = 3;
  EXPECT_EQ(SynthItemFeatures(o, c), one);
  for (uint32_t i = 0; i < o.items; ++i) {
    ASSERT_NEAR(Dot(&one[size_t{i} * c.dim], &one[size_t{i} * c.dim], c.dim), 1.0, 1e-5);
  }
  o.seed = 43;
  EXPECT_NE(SynthItemFeatures(o, c), one);
  c.dim = 16;
  EXPECT_EQ(SynthItemFeatures(o, c).size(), size_t{o.items} * 16);
}

TEST(SynthContent, SameClusterIsCloserAndNoiseBlursItMonotonically) {
  const SynthOptions o = Small();
  SynthContentOptions c;
  // f = 64: the cosine of two independent unit vectors has sd 1/8; the
  // other-cluster mean averages ~11 centroid pairs per cluster, the margins
  // below are several of its standard errors.
  c.noise = 0.0;
  const Cosines exact = MeanCosines(o, c);
  EXPECT_NEAR(exact.same, 1.0, 1e-5);  // every item is its centroid
  double previous_gap = exact.same - exact.other;
  for (const double noise : {0.25, 0.5, 1.0, 2.0}) {
    c.noise = noise;
    const Cosines got = MeanCosines(o, c);
    // E[same] = 1 / (1 + noise^2) for large f.
    EXPECT_NEAR(got.same, 1.0 / (1.0 + noise * noise), 0.06) << noise;
    EXPECT_NEAR(got.other, 0.0, 0.1) << noise;
    const double gap = got.same - got.other;
    EXPECT_GT(gap, 0.1) << noise;
    EXPECT_LT(gap, previous_gap) << noise;
    previous_gap = gap;
  }
}

TEST(SynthContent, WritesFeaturesWithTheDatasetsOriginalIds) {
  const auto dir = TestDir();
  const SynthOptions o = Small();
  SynthContentOptions c;
  c.dim = 8;
  const std::string data = (dir / "s.txt").string();
  const std::string npy = (dir / "features.npy").string();
  ASSERT_TRUE(WriteSyntheticDataset(o, data).ok());
  ASSERT_TRUE(WriteSyntheticItemFeatures(o, c, npy).ok());
  EXPECT_EQ(SynthIdsPath(npy), (dir / "features.ids.npy").string());

  auto features = ReadNpy(npy);
  ASSERT_TRUE(features.ok()) << features.status();
  EXPECT_EQ(features->shape, (std::vector<uint64_t>{o.items, c.dim}));
  auto ids = ReadNpy(SynthIdsPath(npy));
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_EQ(ids->shape, std::vector<uint64_t>{o.items});
  for (uint32_t i = 0; i < o.items; ++i) ASSERT_EQ(ids->ints[i], int64_t{i} + 1);

  // Keyed by the dataset's original ids, each row is the item's own.
  LoadOptions lo;
  lo.use_cache = false;
  auto dataset = LoadDataset(data, lo);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  auto loaded = LoadItemFeatures({.path = npy}, dataset->item_ids);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const std::vector<float> expected = SynthItemFeatures(o, c);
  ASSERT_EQ((*loaded)->num_items, dataset->num_items());
  for (uint32_t d = 0; d < dataset->num_items(); ++d) {
    const uint64_t item = dataset->item_ids[d] - 1;
    const auto row = (*loaded)->Row(d);
    ASSERT_TRUE(std::equal(row.begin(), row.end(), expected.begin() + item * c.dim)) << d;
  }
}

TEST(SynthContent, TextCarriesTheClusterInItsWords) {
  const auto dir = TestDir();
  const SynthOptions o = Small();
  SynthContentOptions c;
  const std::string tsv = (dir / "items.tsv").string();
  ASSERT_TRUE(WriteSyntheticItemText(o, c, tsv).ok());
  auto text = ReadFileToString(tsv);
  ASSERT_TRUE(text.ok());
  std::istringstream in(*text);
  std::vector<std::set<std::string>> words(o.items);
  uint32_t line_no = 0;
  for (std::string line; std::getline(in, line); ++line_no) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos);
    ASSERT_EQ(line.substr(0, tab), std::to_string(line_no + 1));
    EXPECT_EQ(line.substr(tab + 1), SynthItemText(o, c, line_no));
    std::istringstream ws(line.substr(tab + 1));
    uint32_t count = 0;
    for (std::string w; ws >> w; ++count) words[line_no].insert(w);
    EXPECT_EQ(count, c.text_words);
  }
  ASSERT_EQ(line_no, o.items);
  // Items of a cluster share words; items of different clusters rarely do.
  double same = 0, other = 0;
  uint64_t n_same = 0, n_other = 0;
  for (uint32_t i = 0; i < o.items; i += 3) {
    for (uint32_t j = i + 1; j < o.items; j += 7) {
      double shared = 0;
      for (const std::string& w : words[i]) shared += words[j].count(w);
      (SynthClusterOf(o, i) == SynthClusterOf(o, j) ? same : other) += shared;
      ++(SynthClusterOf(o, i) == SynthClusterOf(o, j) ? n_same : n_other);
    }
  }
  EXPECT_GT(same / static_cast<double>(n_same), 3.0);
  EXPECT_LT(other / static_cast<double>(n_other), 0.5);
}

TEST(SynthContent, RefusesBadOptions) {
  const auto dir = TestDir();
  const SynthOptions o = Small();
  SynthContentOptions c;
  c.dim = 0;
  EXPECT_EQ(WriteSyntheticItemFeatures(o, c, (dir / "f.npy").string()).message(),
            "synth: --feature-dim must be at least 1");
  c = {};
  c.noise = -1;
  EXPECT_THAT(std::string(WriteSyntheticItemFeatures(o, c, (dir / "f.npy").string()).message()),
              ::testing::HasSubstr("--feature-noise"));
  c = {};
  EXPECT_THAT(std::string(WriteSyntheticItemFeatures(o, c, (dir / "f.bin").string()).message()),
              ::testing::HasSubstr("must end in .npy"));
  c.text_noise = 2;
  EXPECT_THAT(std::string(WriteSyntheticItemText(o, c, (dir / "t.tsv").string()).message()),
              ::testing::HasSubstr("--text-noise"));
  EXPECT_FALSE(std::filesystem::exists(dir / "f.npy"));
  EXPECT_FALSE(std::filesystem::exists(dir / "t.tsv"));
}

}  // namespace
}  // namespace fedrec
