// A BERT WordPiece tokenizer read from a Hugging Face `tokenizer.json`: the
// subset of the `tokenizers` pipeline that BERT-family sentence encoders
// (all-MiniLM-L6-v2, bert-base-uncased) use.
//
//   normalizer     BertNormalizer: clean_text (drop NUL, U+FFFD and control
//                  characters, map whitespace to ' '), handle_chinese_chars
//                  (spaces around CJK ideographs), strip_accents (NFD, then
//                  drop non-spacing marks; `null` follows `lowercase`),
//                  lowercase
//   pre_tokenizer  BertPreTokenizer: split on whitespace, each punctuation
//                  character its own word
//   model          WordPiece: greedy longest match first, continuation
//                  pieces prefixed (`##`), a word with no full split or
//                  longer than max_input_chars_per_word becomes [UNK]
//   post_processor TemplateProcessing or BertProcessing: [CLS] A [SEP]
//
// Unicode coverage (the tables in wordpiece.cc; MovieLens titles need only
// Latin-1): accent stripping decomposes Latin-1 Supplement (U+00C0-00FF) and
// Latin Extended-A (U+0100-017F) letters and drops combining marks
// U+0300-036F; lowercasing covers ASCII, Latin-1, Latin Extended-A, basic
// Greek (U+0391-03A9) and Cyrillic (U+0400-042F); punctuation is ASCII
// punctuation plus the P* characters of Latin-1, General Punctuation
// (U+2010-205E), CJK Symbols and Punctuation and the fullwidth ASCII forms;
// whitespace and control characters follow Unicode's White_Space and Cc/Cf
// (Cf for the common format characters: soft hyphen, zero-width and
// direction marks, BOM). Characters outside these tables pass through
// unchanged, which differs from `tokenizers` only for accented or uppercase
// letters of other scripts and for their punctuation. Added tokens written
// literally in the text ("[MASK]") are not matched as special tokens.
//
// Input text must be valid UTF-8 (InvalidArgument otherwise).
//
// Thread-safety: immutable after Load; Encode may run on many threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace fedrec::content {

struct WordPieceConfig {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  // tokenizer.json's "truncation.max_length" (0: none). Sentence-transformers
  // overrides it with its own max_seq_length; callers pass their own limit.
  size_t truncation_max_length = 0;
};

class WordPieceTokenizer {
 public:
  // Reads `path` (tokenizer.json). InvalidArgument "<path>: <reason>" for
  // malformed JSON or an unsupported normalizer, pre-tokenizer, model or
  // post-processor type; NotFound for a missing file.
  static absl::StatusOr<WordPieceTokenizer> Load(const std::string& path);
  static absl::StatusOr<WordPieceTokenizer> FromJson(std::string_view json,
                                                     const std::string& name);

  // Token ids of "[CLS] text [SEP]", the text's pieces truncated so that the
  // whole is at most max_length ids (max_length >= 2; 0 means no limit).
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text, size_t max_length) const;
  // The pieces of the text (no special tokens, no truncation): for tests and
  // debugging.
  absl::StatusOr<std::vector<std::string>> Tokenize(std::string_view text) const;

  // The normalizer and pre-tokenizer alone: the words WordPiece receives.
  absl::StatusOr<std::vector<std::string>> PreTokenize(std::string_view text) const;

  const WordPieceConfig& config() const { return config_; }
  size_t vocab_size() const { return vocab_size_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  // -1 if absent.
  int32_t TokenId(std::string_view token) const;

 private:
  WordPieceTokenizer() = default;
  void WordToIds(const std::string& word, std::vector<int32_t>* ids) const;

  WordPieceConfig config_;
  std::unordered_map<std::string, int32_t> vocab_;
  size_t vocab_size_ = 0;  // 1 + the largest id
  std::vector<std::string> id_to_token_;
  int32_t unk_id_ = -1;
  int32_t cls_id_ = -1;
  int32_t sep_id_ = -1;
};

// The normalizer's character functions, exposed for tests. Code points.
bool IsBertWhitespace(char32_t c);
bool IsBertControl(char32_t c);
bool IsBertPunctuation(char32_t c);
bool IsChineseChar(char32_t c);
// Appends the canonical decomposition's base letter of `c` with its accents
// dropped (a code point; `c` itself when the tables know no decomposition),
// or nothing for a combining mark.
void AppendStrippedAccents(char32_t c, std::u32string* out);
// Appends the lowercase form (İ -> "i\u0307", as Unicode's full mapping).
void AppendLowercase(char32_t c, std::u32string* out);

}  // namespace fedrec::content
