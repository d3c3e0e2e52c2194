// all-MiniLM-L6-v2 against sentence-transformers: token ids from Hugging Face
// tokenizers and sentence embeddings (cosine >= 0.999) for the texts of
// minilm_golden.json, made by make_minilm_golden.py. Runs only when the model
// is in the cache (FEDREC_WITH_ENCODER=1 scripts/setup.sh); skipped otherwise.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "content/sentence_encoder.h"
#include "data/tensor_files.h"

namespace fedrec::content {
namespace {

namespace fs = std::filesystem;

class MiniLmGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = DefaultModelDir();
    if (!fs::exists(fs::path(dir_) / "model.safetensors") ||
        !fs::exists(fs::path(dir_) / "tokenizer.json")) {
      GTEST_SKIP() << "all-MiniLM-L6-v2 is not in " << dir_
                   << "; fetch it with FEDREC_WITH_ENCODER=1 scripts/setup.sh";
    }
    std::ifstream in(fs::path(FEDREC_CONTENT_TEST_DIR) / "minilm_golden.json");
    ASSERT_TRUE(in) << "minilm_golden.json missing";
    std::stringstream buffer;
    buffer << in.rdbuf();
    golden_ = nlohmann::json::parse(buffer.str());
    texts_ = golden_.at("texts").get<std::vector<std::string>>();
  }

  std::string dir_;
  nlohmann::json golden_;
  std::vector<std::string> texts_;
};

TEST_F(MiniLmGoldenTest, TokenIdsMatchHuggingFaceTokenizers) {
  auto tokenizer = WordPieceTokenizer::Load((fs::path(dir_) / "tokenizer.json").string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const size_t max_length = golden_.at("max_length").get<size_t>();
  const auto want = golden_.at("ids").get<std::vector<std::vector<int32_t>>>();
  ASSERT_EQ(want.size(), texts_.size());
  for (size_t i = 0; i < texts_.size(); ++i) {
    auto ids = tokenizer->Encode(texts_[i], max_length);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, want[i]) << texts_[i];
  }
}

TEST_F(MiniLmGoldenTest, EmbeddingsMatchSentenceTransformers) {
  auto encoder = SentenceEncoder::Load(dir_);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  EXPECT_EQ(encoder->model().config().layers, 6u);
  EXPECT_EQ(encoder->model().config().heads, 12u);
  EXPECT_EQ(encoder->model().config().intermediate, 1536u);
  ASSERT_EQ(encoder->dim(), 384u);
  auto golden = ReadNpy((fs::path(FEDREC_CONTENT_TEST_DIR) / "minilm_golden.npy").string());
  ASSERT_TRUE(golden.ok()) << golden.status();
  ASSERT_EQ(golden->shape, (std::vector<uint64_t>{texts_.size(), 384}));
  auto out = encoder->Encode(texts_, EncodeOptions{2, 8, kDefaultMaxLength, nullptr});
  ASSERT_TRUE(out.ok()) << out.status();
  double worst = 1;
  for (size_t i = 0; i < texts_.size(); ++i) {
    double dot = 0, a2 = 0, b2 = 0;
    for (size_t j = 0; j < 384; ++j) {
      const double a = (*out)[i * 384 + j], b = golden->floats[i * 384 + j];
      dot += a * b;
      a2 += a * a;
      b2 += b * b;
    }
    const double cosine = dot / std::sqrt(a2 * b2);
    EXPECT_GE(cosine, 0.999) << texts_[i];
    EXPECT_NEAR(a2, 1.0, 1e-5);
    worst = std::min(worst, cosine);
  }
  RecordProperty("worst_cosine", std::to_string(worst));
  std::cout << "worst cosine: 1 - " << std::setprecision(3) << 1 - worst << "\n";
}

}  // namespace
}  // namespace fedrec::content
