// Test fixtures of tests/content: a tokenizer.json for a given vocab, a tiny
// randomly initialised BERT in Hugging Face's tensor names and layouts, and a
// straightforward double-precision reference forward pass over it (naive
// loops, PyTorch's [out x in] weights read directly), independent of
// content/bert_encoder.cc.
#pragma once

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "data/tensor_files.h"

namespace fedrec::content::tiny {

// A vocab of 30 tokens for the tiny BERT: specials, words and pieces.
inline const std::vector<std::string>& TinyVocab() {
  static const std::vector<std::string> vocab = {
      "[PAD]", "[UNK]",  "[CLS]", "[SEP]", "[MASK]", "the",   "toy", "story", "(",    ")",
      "199",   "##5",    ".",     ",",     "comedy", "drama", "war", "star",  "wars", "un",
      "##aff", "##able", "a",     "of",    "and",    "in",    "man", "s",     "'",    "life"};
  return vocab;
}

inline std::string BertTokenizerJson(const std::vector<std::string>& vocab, size_t max_chars = 100,
                                     nlohmann::json normalizer = nullptr) {
  if (normalizer.is_null()) {
    normalizer = {{"type", "BertNormalizer"},
                  {"clean_text", true},
                  {"handle_chinese_chars", true},
                  {"strip_accents", nullptr},
                  {"lowercase", true}};
  }
  nlohmann::json v = nlohmann::json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  auto id = [&](const std::string& t) {
    for (size_t i = 0; i < vocab.size(); ++i) {
      if (vocab[i] == t) return static_cast<int>(i);
    }
    return -1;
  };
  nlohmann::json j;
  j["version"] = "1.0";
  j["truncation"] = {{"max_length", 128}, {"strategy", "LongestFirst"}, {"stride", 0}};
  j["normalizer"] = normalizer;
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
        {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}}},
      {"special_tokens",
       {{"[CLS]", {{"id", "[CLS]"}, {"ids", {id("[CLS]")}}, {"tokens", {"[CLS]"}}}},
        {"[SEP]", {{"id", "[SEP]"}, {"ids", {id("[SEP]")}}, {"tokens", {"[SEP]"}}}}}}};
  j["model"] = {{"type", "WordPiece"},
                {"unk_token", "[UNK]"},
                {"continuing_subword_prefix", "##"},
                {"max_input_chars_per_word", max_chars},
                {"vocab", v}};
  return j.dump();
}

struct TinyBertSpec {
  size_t vocab = 30, hidden = 8, layers = 2, heads = 2, intermediate = 16, positions = 16;
  uint32_t seed = 7;
  std::string prefix;  // "" or "bert."
};

inline Array RandomArray(std::vector<uint64_t> shape, std::mt19937* rng, float mean, float sd) {
  Array a;
  a.kind = Array::Kind::kFloat;
  a.dtype = "F32";
  a.shape = shape;
  std::normal_distribution<float> normal(mean, sd);
  a.floats.resize(a.size());
  for (float& f : a.floats) f = normal(*rng);
  return a;
}

// Weights large enough that attention is far from uniform and GELU far from
// linear.
inline std::map<std::string, Array> TinyBert(const TinyBertSpec& s) {
  std::mt19937 rng(s.seed);
  std::map<std::string, Array> t;
  const std::string& p = s.prefix;
  const uint64_t h = s.hidden, in = s.intermediate;
  t[p + "embeddings.word_embeddings.weight"] = RandomArray({s.vocab, h}, &rng, 0, 1);
  t[p + "embeddings.position_embeddings.weight"] = RandomArray({s.positions, h}, &rng, 0, 0.5);
  t[p + "embeddings.token_type_embeddings.weight"] = RandomArray({2, h}, &rng, 0, 0.5);
  t[p + "embeddings.LayerNorm.weight"] = RandomArray({h}, &rng, 1, 0.2);
  t[p + "embeddings.LayerNorm.bias"] = RandomArray({h}, &rng, 0, 0.2);
  Array ids;
  ids.kind = Array::Kind::kInt;
  ids.shape = {1, s.positions};
  ids.ints.resize(s.positions);
  t[p + "embeddings.position_ids"] = ids;
  for (size_t l = 0; l < s.layers; ++l) {
    const std::string q = p + "encoder.layer." + std::to_string(l) + ".";
    for (const char* name : {"attention.self.query", "attention.self.key", "attention.self.value",
                             "attention.output.dense"}) {
      t[q + name + ".weight"] = RandomArray({h, h}, &rng, 0, 0.6);
      t[q + name + ".bias"] = RandomArray({h}, &rng, 0, 0.2);
    }
    t[q + "intermediate.dense.weight"] = RandomArray({in, h}, &rng, 0, 0.5);
    t[q + "intermediate.dense.bias"] = RandomArray({in}, &rng, 0, 0.2);
    t[q + "output.dense.weight"] = RandomArray({h, in}, &rng, 0, 0.3);
    t[q + "output.dense.bias"] = RandomArray({h}, &rng, 0, 0.2);
    for (const char* name : {"attention.output.LayerNorm", "output.LayerNorm"}) {
      t[q + name + ".weight"] = RandomArray({h}, &rng, 1, 0.2);
      t[q + name + ".bias"] = RandomArray({h}, &rng, 0, 0.2);
    }
  }
  return t;
}

// The reference: BertModel + mean pooling + normalisation, in double.
class ReferenceBert {
 public:
  ReferenceBert(const std::map<std::string, Array>& t, const TinyBertSpec& s, double eps = 1e-12)
      : t_(t), s_(s), eps_(eps) {}

  std::vector<double> Embed(const std::vector<int32_t>& ids) const {
    const size_t n = ids.size(), h = s_.hidden;
    std::vector<std::vector<double>> x(n, std::vector<double>(h));
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < h; ++j) {
        x[i][j] = W("embeddings.word_embeddings.weight", ids[i] * h + j) +
                  W("embeddings.position_embeddings.weight", i * h + j) +
                  W("embeddings.token_type_embeddings.weight", j);
      }
    }
    LayerNorm(&x, "embeddings.LayerNorm");
    for (size_t l = 0; l < s_.layers; ++l) {
      const std::string p = "encoder.layer." + std::to_string(l) + ".";
      auto q = Linear(x, p + "attention.self.query", h, h);
      auto k = Linear(x, p + "attention.self.key", h, h);
      auto v = Linear(x, p + "attention.self.value", h, h);
      const size_t dh = h / s_.heads;
      std::vector<std::vector<double>> ctx(n, std::vector<double>(h, 0.0));
      for (size_t head = 0; head < s_.heads; ++head) {
        for (size_t i = 0; i < n; ++i) {
          std::vector<double> w(n);
          double m = -1e300;
          for (size_t j = 0; j < n; ++j) {
            double dot = 0;
            for (size_t d = 0; d < dh; ++d) dot += q[i][head * dh + d] * k[j][head * dh + d];
            w[j] = dot / std::sqrt(static_cast<double>(dh));
            m = std::max(m, w[j]);
          }
          double sum = 0;
          for (double& e : w) sum += (e = std::exp(e - m));
          for (size_t j = 0; j < n; ++j) {
            for (size_t d = 0; d < dh; ++d)
              ctx[i][head * dh + d] += w[j] / sum * v[j][head * dh + d];
          }
        }
      }
      auto a = Linear(ctx, p + "attention.output.dense", h, h);
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < h; ++j) a[i][j] += x[i][j];
      }
      LayerNorm(&a, p + "attention.output.LayerNorm");
      auto inter = Linear(a, p + "intermediate.dense", h, s_.intermediate);
      for (auto& row : inter) {
        for (double& u : row) u = 0.5 * u * (1 + std::erf(u / std::sqrt(2.0)));
      }
      x = Linear(inter, p + "output.dense", s_.intermediate, h);
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < h; ++j) x[i][j] += a[i][j];
      }
      LayerNorm(&x, p + "output.LayerNorm");
    }
    std::vector<double> pooled(h, 0.0);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < h; ++j) pooled[j] += x[i][j] / static_cast<double>(n);
    }
    double norm = 0;
    for (double v : pooled) norm += v * v;
    norm = std::sqrt(norm);
    for (double& v : pooled) v /= norm;
    return pooled;
  }

 private:
  double W(const std::string& name, size_t i) const { return t_.at(s_.prefix + name).floats.at(i); }

  // y = x W^T + b with PyTorch's [out x in] weight.
  std::vector<std::vector<double>> Linear(const std::vector<std::vector<double>>& x,
                                          const std::string& name, size_t in, size_t out) const {
    std::vector<std::vector<double>> y(x.size(), std::vector<double>(out));
    for (size_t i = 0; i < x.size(); ++i) {
      for (size_t o = 0; o < out; ++o) {
        double acc = W(name + ".bias", o);
        for (size_t k = 0; k < in; ++k) acc += x[i][k] * W(name + ".weight", o * in + k);
        y[i][o] = acc;
      }
    }
    return y;
  }

  void LayerNorm(std::vector<std::vector<double>>* x, const std::string& name) const {
    for (auto& row : *x) {
      double mean = 0, var = 0;
      for (double v : row) mean += v / static_cast<double>(row.size());
      for (double v : row) var += (v - mean) * (v - mean) / static_cast<double>(row.size());
      for (size_t j = 0; j < row.size(); ++j) {
        row[j] =
            (row[j] - mean) / std::sqrt(var + eps_) * W(name + ".weight", j) + W(name + ".bias", j);
      }
    }
  }

  const std::map<std::string, Array>& t_;
  TinyBertSpec s_;
  double eps_;
};

}  // namespace fedrec::content::tiny
