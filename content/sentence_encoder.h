// A sentence-transformers model directory as one object: WordPiece tokenizer
// + BERT encoder + mean pooling + L2 normalisation, run over many texts in
// batches on a thread pool.
//
// Model directory: tokenizer.json and model.safetensors are required.
// config.json (Hugging Face BertConfig), when present, supplies
// num_attention_heads and layer_norm_eps and must say hidden_act "gelu";
// without it the heads come from SentenceEncoderOptions::heads (default
// hidden / 32, MiniLM's 32-dimensional heads: 12 for all-MiniLM-L6-v2) and
// eps is 1e-12. The max sequence length defaults to 256 tokens
// (sentence-transformers' max_seq_length for all-MiniLM-L6-v2, which
// overrides the 128 written in its tokenizer.json), capped at the model's
// position count.
//
// Batching: texts are tokenised, ordered by token count (stable), and cut
// into batches of `batch_size` consecutive texts, so a batch holds texts of
// similar length; batches run in parallel (core/thread_pool.h), one
// workspace per thread. The batches depend only on the texts and
// batch_size, so the output is bitwise the same for any thread count.
//
// Thread-safety: immutable after Load; Encode may be called concurrently.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "content/bert_encoder.h"
#include "content/wordpiece.h"
#include "core/progress.h"
#include "core/status.h"

namespace fedrec::content {

inline constexpr size_t kDefaultMaxLength = 256;

// Where `FEDREC_WITH_ENCODER=1 scripts/setup.sh` puts all-MiniLM-L6-v2:
// ${XDG_CACHE_HOME:-$HOME/.cache}/fedrec/models/all-MiniLM-L6-v2.
std::string DefaultModelDir();

struct SentenceEncoderOptions {
  size_t heads = 0;  // 0: config.json's, else hidden / 32
};

struct EncodeOptions {
  size_t threads = 0;  // 0 = all cores
  size_t batch_size = 32;
  size_t max_length = kDefaultMaxLength;  // tokens with [CLS] and [SEP]; >= 2
  ProgressReporter* progress = nullptr;   // advanced by the texts of each batch
};

class SentenceEncoder {
 public:
  // NotFound "<dir>: no model directory ..." or "<dir>/tokenizer.json: ..."
  // naming the missing file; InvalidArgument for malformed files.
  static absl::StatusOr<SentenceEncoder> Load(const std::string& dir,
                                              const SentenceEncoderOptions& options = {});
  static SentenceEncoder FromParts(WordPieceTokenizer tokenizer, BertEncoder model);

  size_t dim() const { return model_->dim(); }
  const WordPieceTokenizer& tokenizer() const { return *tokenizer_; }
  const BertEncoder& model() const { return *model_; }

  // texts.size() x dim() floats, row-major, row i the embedding of texts[i].
  // InvalidArgument "text <i>: <reason>" for text that is not UTF-8, or for
  // bad options.
  absl::StatusOr<std::vector<float>> Encode(std::span<const std::string> texts,
                                            const EncodeOptions& options) const;

 private:
  SentenceEncoder(std::shared_ptr<const WordPieceTokenizer> tokenizer,
                  std::shared_ptr<const BertEncoder> model)
      : tokenizer_(std::move(tokenizer)), model_(std::move(model)) {}

  std::shared_ptr<const WordPieceTokenizer> tokenizer_;
  std::shared_ptr<const BertEncoder> model_;
};

}  // namespace fedrec::content
