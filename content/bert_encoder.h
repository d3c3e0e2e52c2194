// A BERT-family transformer encoder (BertModel without the pooler) in float
// with Eigen, and sentence-transformers' mean pooling + L2 normalisation on
// top: what all-MiniLM-L6-v2 computes for a sentence.
//
// Per sequence of token ids ([CLS] ... [SEP], no padding):
//   x = LN(word[id] + position[p] + token_type[0])
//   per layer: a = LN(x + Attn(x) Wo + bo)          (bidirectional, all heads)
//              x = LN(a + GELU_erf(a Wi + bi) Wo2 + bo2)
//   embedding = normalise(mean over the sequence's positions of x)
// as Hugging Face's BertModel in eval mode (no dropout). Sequences are never
// padded: a batch stacks its sequences' rows for the dense layers (one GEMM
// each) and runs attention per sequence over exactly its own keys, which is
// what the padded computation with an attention mask gives for the real
// positions (masked keys get weight exp(-inf) = 0), minus the wasted work.
//
// Weights: a safetensors file with Hugging Face's BertModel names
// (embeddings.word_embeddings.weight, encoder.layer.{i}.attention.self.query
// .weight, ...), with or without a "bert." prefix. The shapes give the vocab,
// hidden size, layer count, intermediate size and position count; the head
// count is not in the weights and comes from BertLoadOptions (MiniLM-L6-H384:
// 12 heads of 32 dims). Linear weights are stored transposed to [in x out]
// on load.
//
// Determinism: a sequence's embedding depends only on the batch it is
// computed in (the GEMM shapes), never on the thread or the workspace; the
// same batches give bitwise the same result. Across different batchings it
// agrees to float rounding (~1e-6).
//
// Thread-safety: a BertEncoder is immutable after loading; Encode may run on
// many threads at once, each with its own BertWorkspace.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/tensor_files.h"
#include "models/layers/eigen_types.h"

namespace fedrec::content {

struct BertConfig {
  size_t vocab_size = 0;
  size_t hidden = 0;
  size_t layers = 0;
  size_t heads = 0;
  size_t intermediate = 0;
  size_t max_positions = 0;
  size_t type_vocab_size = 0;
  float layer_norm_eps = 1e-12f;
};

struct BertLoadOptions {
  // Attention heads; 0 = hidden / 32 (MiniLM's 32-dimensional heads).
  size_t heads = 0;
  float layer_norm_eps = 1e-12f;
};

// Scratch of one thread; grows to the largest batch seen, then is reused.
struct BertWorkspace {
  layers::AlignedVector<float> x, qkv, ctx, tmp, inter, scores;
};

class BertEncoder {
 public:
  using Matrix = layers::Matrix<float>;
  using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;

  // InvalidArgument "<name>: <reason>" for a missing tensor, a shape that
  // disagrees with the others, or heads that do not divide the hidden size.
  static absl::StatusOr<BertEncoder> FromSafetensors(const SafetensorsFile& file,
                                                     const BertLoadOptions& options,
                                                     const std::string& name);
  static absl::StatusOr<BertEncoder> Load(const std::string& path, const BertLoadOptions& options);

  const BertConfig& config() const { return config_; }
  size_t dim() const { return config_.hidden; }

  // Embeds each sequence (token ids, each < vocab_size, 1 <= length <=
  // max_positions) into one row of `out` (sequences.size() x dim(),
  // row-major): mean-pooled, L2-normalised. InvalidArgument for a bad id or
  // length.
  absl::Status Encode(std::span<const std::vector<int32_t>> sequences, BertWorkspace* ws,
                      std::span<float> out) const;

 private:
  struct Layer {
    Matrix qkv_w;  // hidden x 3 hidden: [query | key | value]
    RowVector qkv_b;
    Matrix out_w;  // hidden x hidden
    RowVector out_b, ln1_g, ln1_b;
    Matrix inter_w;  // hidden x intermediate
    RowVector inter_b;
    Matrix output_w;  // intermediate x hidden
    RowVector output_b, ln2_g, ln2_b;
  };

  BertConfig config_;
  Matrix word_, position_, token_type_;  // [vocab | positions | types] x hidden
  RowVector emb_ln_g_, emb_ln_b_;
  std::vector<Layer> layers_;
};

}  // namespace fedrec::content
