#include "content/bert_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "content/sentence_encoder.h"
#include "tests/content/tiny_bert.h"
#include "tests/testing/status.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::content {
namespace {

using ::testing::HasSubstr;
using tiny::ReferenceBert;
using tiny::TinyBert;
using tiny::TinyBertSpec;

BertEncoder MakeEncoder(const std::map<std::string, Array>& tensors, size_t heads) {
  SafetensorsFile file;
  file.tensors = tensors;
  auto e = BertEncoder::FromSafetensors(file, BertLoadOptions{heads, 1e-12f}, "tiny");
  EXPECT_TRUE(e.ok()) << e.status();
  return *std::move(e);
}

std::vector<std::vector<int32_t>> RandomSequences(size_t count, size_t max_len, size_t vocab,
                                                  uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> seqs(count);
  for (auto& s : seqs) {
    s.resize(1 + rng() % max_len);
    for (int32_t& id : s) id = static_cast<int32_t>(rng() % vocab);
  }
  return seqs;
}

std::vector<float> EncodeAll(const BertEncoder& e, const std::vector<std::vector<int32_t>>& seqs) {
  BertWorkspace ws;
  std::vector<float> out(seqs.size() * e.dim());
  const absl::Status s = e.Encode(seqs, &ws, out);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST(BertEncoderTest, InfersTheArchitectureFromShapes) {
  TinyBertSpec spec;
  spec.layers = 3;
  spec.intermediate = 12;
  const BertEncoder e = MakeEncoder(TinyBert(spec), 2);
  EXPECT_EQ(e.config().vocab_size, 30u);
  EXPECT_EQ(e.config().hidden, 8u);
  EXPECT_EQ(e.config().layers, 3u);
  EXPECT_EQ(e.config().heads, 2u);
  EXPECT_EQ(e.config().intermediate, 12u);
  EXPECT_EQ(e.config().max_positions, 16u);
  EXPECT_EQ(e.config().type_vocab_size, 2u);
}

TEST(BertEncoderTest, MatchesADoublePrecisionReference) {
  for (const size_t heads : {1, 2, 4}) {
    TinyBertSpec spec;
    spec.heads = heads;
    spec.seed = static_cast<uint32_t>(11 + heads);
    const auto tensors = TinyBert(spec);
    const BertEncoder e = MakeEncoder(tensors, heads);
    const ReferenceBert ref(tensors, spec);
    const auto seqs = RandomSequences(20, spec.positions, spec.vocab, 3);
    const std::vector<float> out = EncodeAll(e, seqs);
    double worst = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
      const std::vector<double> want = ref.Embed(seqs[i]);
      for (size_t j = 0; j < spec.hidden; ++j) {
        worst = std::max(worst, std::abs(out[i * spec.hidden + j] - want[j]));
      }
    }
    EXPECT_LT(worst, 1e-5) << heads << " heads";
  }
}

TEST(BertEncoderTest, AcceptsTheBertPrefix) {
  TinyBertSpec spec;
  spec.prefix = "bert.";
  const auto tensors = TinyBert(spec);
  const BertEncoder e = MakeEncoder(tensors, 2);
  const std::vector<std::vector<int32_t>> seqs = {{2, 5, 9, 3}};
  const std::vector<float> out = EncodeAll(e, seqs);
  const std::vector<double> want = ReferenceBert(tensors, spec).Embed(seqs[0]);
  for (size_t j = 0; j < spec.hidden; ++j) EXPECT_NEAR(out[j], want[j], 1e-5);
}

TEST(BertEncoderTest, PaddingInvariance) {
  TinyBertSpec spec;
  const BertEncoder e = MakeEncoder(TinyBert(spec), 2);
  const std::vector<int32_t> sentence = {2, 7, 8, 3};
  const std::vector<float> alone = EncodeAll(e, {sentence});
  auto batch = RandomSequences(9, spec.positions, spec.vocab, 5);
  batch.insert(batch.begin() + 4, sentence);
  batch.push_back(std::vector<int32_t>(spec.positions, 6));  // the longest possible
  const std::vector<float> together = EncodeAll(e, batch);
  for (size_t j = 0; j < spec.hidden; ++j) {
    EXPECT_NEAR(together[4 * spec.hidden + j], alone[j], 1e-6);
  }
  // The same batch again, in a workspace grown by a larger one: bitwise.
  BertWorkspace ws;
  std::vector<float> big(batch.size() * spec.hidden), again(spec.hidden);
  ASSERT_TRUE(e.Encode(batch, &ws, big).ok());
  const std::vector<std::vector<int32_t>> one = {sentence};
  ASSERT_TRUE(e.Encode(one, &ws, again).ok());
  EXPECT_EQ(0, std::memcmp(again.data(), alone.data(), again.size() * sizeof(float)));
}

TEST(BertEncoderTest, RefusesBadInput) {
  TinyBertSpec spec;
  const BertEncoder e = MakeEncoder(TinyBert(spec), 2);
  BertWorkspace ws;
  std::vector<float> out(spec.hidden);
  std::vector<std::vector<int32_t>> seqs = {{2, 30, 3}};
  EXPECT_THAT(testing::StatusMessage(e.Encode(seqs, &ws, out)), HasSubstr("token id 30"));
  seqs = {std::vector<int32_t>(17, 4)};
  EXPECT_THAT(testing::StatusMessage(e.Encode(seqs, &ws, out)), HasSubstr("17 tokens"));
  seqs = {{}};
  EXPECT_FALSE(e.Encode(seqs, &ws, out).ok());
}

TEST(BertEncoderTest, RefusesMalformedWeights) {
  TinyBertSpec spec;
  SafetensorsFile file;
  file.tensors = TinyBert(spec);
  auto e = BertEncoder::FromSafetensors(file, BertLoadOptions{3, 1e-12f}, "w.safetensors");
  EXPECT_THAT(testing::StatusMessage(e.status()),
              HasSubstr("w.safetensors: 3 heads do not divide the hidden size 8"));
  file.tensors.erase("encoder.layer.1.output.LayerNorm.bias");
  e = BertEncoder::FromSafetensors(file, BertLoadOptions{2, 1e-12f}, "w.safetensors");
  EXPECT_THAT(testing::StatusMessage(e.status()),
              HasSubstr("no tensor encoder.layer.1.output.LayerNorm.bias"));
  file.tensors = TinyBert(spec);
  file.tensors["encoder.layer.0.attention.self.key.weight"].shape = {4, 16};
  e = BertEncoder::FromSafetensors(file, BertLoadOptions{2, 1e-12f}, "w.safetensors");
  EXPECT_THAT(testing::StatusMessage(e.status()), HasSubstr("has shape [4,16]"));
  file.tensors.clear();
  e = BertEncoder::FromSafetensors(file, BertLoadOptions{2, 1e-12f}, "w.safetensors");
  EXPECT_THAT(testing::StatusMessage(e.status()), HasSubstr("not a BERT model"));
}

// A sentence encoder over the tiny BERT and a vocab of 30 tokens.
const std::vector<std::string>& kVocab = tiny::TinyVocab();

std::vector<std::string> Texts(size_t n) {
  std::mt19937 rng(9);
  std::vector<std::string> texts(n);
  for (auto& t : texts) {
    const size_t words = rng() % 14;
    for (size_t w = 0; w < words; ++w) t += kVocab[5 + rng() % (kVocab.size() - 5)] + " ";
  }
  return texts;
}

SentenceEncoder MakeSentenceEncoder() {
  auto tok = WordPieceTokenizer::FromJson(tiny::BertTokenizerJson(kVocab), "tok");
  EXPECT_TRUE(tok.ok());
  return SentenceEncoder::FromParts(*std::move(tok), MakeEncoder(TinyBert({}), 2));
}

TEST(SentenceEncoderTest, ThreadCountInvariance) {
  const SentenceEncoder enc = MakeSentenceEncoder();
  const std::vector<std::string> texts = Texts(150);
  std::vector<std::vector<float>> outs;
  for (const size_t threads : {1, 2, 3, 8}) {
    auto out = enc.Encode(texts, EncodeOptions{threads, 8, 16, nullptr});
    ASSERT_TRUE(out.ok()) << out.status();
    outs.push_back(*std::move(out));
  }
  for (size_t k = 1; k < outs.size(); ++k) {
    ASSERT_EQ(outs[k].size(), outs[0].size());
    EXPECT_EQ(0, std::memcmp(outs[k].data(), outs[0].data(), outs[0].size() * sizeof(float)))
        << "thread count " << k;
  }
}

TEST(SentenceEncoderTest, RowsFollowTheInputOrderAndMatchTheReference) {
  const SentenceEncoder enc = MakeSentenceEncoder();
  const std::vector<std::string> texts = Texts(40);
  auto out = enc.Encode(texts, EncodeOptions{2, 5, 10, nullptr});
  ASSERT_TRUE(out.ok()) << out.status();
  const auto tensors = TinyBert({});
  const ReferenceBert ref(tensors, {});
  for (size_t i = 0; i < texts.size(); ++i) {
    auto ids = enc.tokenizer().Encode(texts[i], 10);
    ASSERT_TRUE(ids.ok());
    const std::vector<double> want = ref.Embed(*ids);
    for (size_t j = 0; j < 8; ++j) EXPECT_NEAR((*out)[i * 8 + j], want[j], 1e-5) << i;
  }
  EXPECT_FALSE(enc.Encode(texts, EncodeOptions{2, 0, 10, nullptr}).ok());
  EXPECT_FALSE(enc.Encode(texts, EncodeOptions{2, 4, 1, nullptr}).ok());
  const std::vector<std::string> bad = {"toy", "caf\xe9"};
  EXPECT_THAT(testing::StatusMessage(enc.Encode(bad, EncodeOptions{}).status()),
              HasSubstr("text 1: "));
}

TEST(SentenceEncoderTest, LoadsAModelDirectory) {
  fedrec::testing::TempDir dir("content");
  const auto tensors = TinyBert({});
  ASSERT_TRUE(WriteSafetensors(dir.Path("model.safetensors"), tensors).ok());
  dir.File("tokenizer.json", tiny::BertTokenizerJson(kVocab));
  // Heads from config.json (the default, 8 / 32, would be 1).
  dir.File("config.json", R"({"hidden_act": "gelu", "num_attention_heads": 2,
                              "layer_norm_eps": 1e-12})");
  auto enc = SentenceEncoder::Load(dir.path().string());
  ASSERT_TRUE(enc.ok()) << enc.status();
  EXPECT_EQ(enc->model().config().heads, 2u);
  const std::vector<std::string> texts = Texts(12);
  auto a = enc->Encode(texts, EncodeOptions{});
  auto b = MakeSentenceEncoder().Encode(texts, EncodeOptions{});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);

  std::filesystem::remove(dir.Path("config.json"));
  enc = SentenceEncoder::Load(dir.path().string());
  ASSERT_TRUE(enc.ok()) << enc.status();
  EXPECT_EQ(enc->model().config().heads, 1u);
  enc = SentenceEncoder::Load(dir.path().string(), SentenceEncoderOptions{2});
  EXPECT_EQ(enc->model().config().heads, 2u);

  std::filesystem::remove(dir.Path("tokenizer.json"));
  enc = SentenceEncoder::Load(dir.path().string());
  EXPECT_EQ(enc.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(testing::StatusMessage(enc.status()), HasSubstr("tokenizer.json: no such file"));
  enc = SentenceEncoder::Load(dir.Path("absent"));
  EXPECT_THAT(testing::StatusMessage(enc.status()), HasSubstr("no model directory"));
}

}  // namespace
}  // namespace fedrec::content
