#include "content/wordpiece.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/testing/status.h"
#include "tests/testing/temp_dir.h"

namespace fedrec::content {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kVocab = {
    "[PAD]",  "[UNK]", "[CLS]",    "[SEP]", "[MASK]", "the", "cafe", "un",   "##aff",
    "##able", "toy",   "story",    "(",     ")",      "199", "##5",  ".",    ",",
    "'",      "s",     "children", "creme", "brulee", "!",   "Toy",  "Café", "é"};

// A tokenizer.json as tokenizers writes it for BERT, with the given
// normalizer and max_input_chars_per_word.
std::string TokenizerJson(nlohmann::json normalizer, size_t max_chars = 100) {
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < kVocab.size(); ++i) vocab[kVocab[i]] = i;
  nlohmann::json j;
  j["version"] = "1.0";
  j["truncation"] = {{"max_length", 128}, {"strategy", "LongestFirst"}, {"stride", 0}};
  j["normalizer"] = normalizer;
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single",
                          {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
                           {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                           {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}}},
                         {"special_tokens",
                          {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
                           {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}}}};
  j["model"] = {{"type", "WordPiece"},
                {"unk_token", "[UNK]"},
                {"continuing_subword_prefix", "##"},
                {"max_input_chars_per_word", max_chars},
                {"vocab", vocab}};
  return j.dump();
}

nlohmann::json BertNormalizer(nlohmann::json strip_accents = nullptr, bool lowercase = true) {
  return {{"type", "BertNormalizer"},
          {"clean_text", true},
          {"handle_chinese_chars", true},
          {"strip_accents", strip_accents},
          {"lowercase", lowercase}};
}

WordPieceTokenizer Make(nlohmann::json normalizer = BertNormalizer(), size_t max_chars = 100) {
  auto t = WordPieceTokenizer::FromJson(TokenizerJson(normalizer, max_chars), "tok.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

std::vector<std::string> Pieces(const WordPieceTokenizer& t, const std::string& text) {
  auto p = t.Tokenize(text);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : std::vector<std::string>{};
}

TEST(WordPieceTest, ReadsTheConfiguration) {
  const WordPieceTokenizer t = Make();
  EXPECT_EQ(t.vocab_size(), kVocab.size());
  EXPECT_EQ(t.cls_id(), 2);
  EXPECT_EQ(t.sep_id(), 3);
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_TRUE(t.config().strip_accents);  // null follows lowercase
  EXPECT_EQ(t.config().truncation_max_length, 128u);
}

TEST(WordPieceTest, LoadsFromAFile) {
  testing::TempDir dir("content");
  const std::string path = dir.File("tokenizer.json", TokenizerJson(BertNormalizer()));
  auto t = WordPieceTokenizer::Load(path);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->TokenId("story"), 11);
  EXPECT_EQ(WordPieceTokenizer::Load(dir.Path("absent.json")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(WordPieceTest, SplitsPunctuationAndDigitsIntoPieces) {
  const WordPieceTokenizer t = Make();
  EXPECT_THAT(Pieces(t, "Toy Story (1995)"), ElementsAre("toy", "story", "(", "199", "##5", ")"));
  EXPECT_THAT(Pieces(t, "Children's"), ElementsAre("children", "'", "s"));
  EXPECT_THAT(Pieces(t, "the,the.the!"), ElementsAre("the", ",", "the", ".", "the", "!"));
}

TEST(WordPieceTest, ContinuationPieces) {
  const WordPieceTokenizer t = Make();
  EXPECT_THAT(Pieces(t, "unaffable"), ElementsAre("un", "##aff", "##able"));
  // No full split: the whole word is unknown, not its tail.
  EXPECT_THAT(Pieces(t, "unaffablex the"), ElementsAre("[UNK]", "the"));
  EXPECT_THAT(Pieces(t, "xyz"), ElementsAre("[UNK]"));
}

TEST(WordPieceTest, LongWordsAreUnknown) {
  const WordPieceTokenizer t = Make(BertNormalizer(), 5);
  EXPECT_THAT(Pieces(t, "unaffable story"), ElementsAre("[UNK]", "story"));
  // Characters, not bytes, are counted: "crème" is 5 characters, 6 bytes.
  const WordPieceTokenizer u = Make(BertNormalizer(false), 5);
  EXPECT_THAT(Pieces(u, "café"), ElementsAre("[UNK]"));  // not in vocab, but 4 chars
  EXPECT_THAT(Pieces(Make(BertNormalizer(), 6), "brûlée"), ElementsAre("brulee"));
}

TEST(WordPieceTest, StripsAccentsOfLatinLetters) {
  const WordPieceTokenizer t = Make();
  EXPECT_THAT(Pieces(t, "Crème Brûlée!"), ElementsAre("creme", "brulee", "!"));
  EXPECT_THAT(Pieces(t, "CAFÉ"), ElementsAre("cafe"));
  // Already decomposed: the combining acute accent is dropped.
  EXPECT_THAT(Pieces(t, "cafe\u0301"), ElementsAre("cafe"));
  // Latin Extended-A.
  auto words = t.PreTokenize("Łódź Škoda İstanbul ő");
  ASSERT_TRUE(words.ok());
  EXPECT_THAT(*words, ElementsAre("łodz", "skoda", "istanbul", "o"));
}

TEST(WordPieceTest, KeepsAccentsAndCaseWhenConfigured) {
  const WordPieceTokenizer t = Make(BertNormalizer(false, false));
  EXPECT_THAT(Pieces(t, "Toy Café é"), ElementsAre("Toy", "Café", "é"));
  // strip_accents null with lowercase false: accents stay.
  const WordPieceTokenizer u = Make(BertNormalizer(nullptr, false));
  EXPECT_FALSE(u.config().strip_accents);
  // lowercase without stripping.
  const WordPieceTokenizer v = Make(BertNormalizer(false, true));
  auto words = v.PreTokenize("CAFÉ ÀÖ");
  ASSERT_TRUE(words.ok());
  EXPECT_THAT(*words, ElementsAre("café", "àö"));
}

TEST(WordPieceTest, CleansControlsAndWhitespace) {
  const WordPieceTokenizer t = Make();
  // Tab, newline, no-break space and ideographic space separate words;
  // zero-width space, soft hyphen and other controls vanish.
  EXPECT_THAT(Pieces(t, "the\tcafe\nthe\u00a0toy\u3000story"),
              ElementsAre("the", "cafe", "the", "toy", "story"));
  EXPECT_THAT(Pieces(t, "ca\u200bfe st\u00adory t\x01he"), ElementsAre("cafe", "story", "the"));
  EXPECT_THAT(Pieces(t, "   "), ElementsAre());
}

TEST(WordPieceTest, UnicodePunctuationAndChineseCharacters) {
  const WordPieceTokenizer t = Make();
  EXPECT_THAT(Pieces(t, "\u201cthe\u201d\u2014cafe\u00bb"),
              ElementsAre("[UNK]", "the", "[UNK]", "[UNK]", "cafe", "[UNK]"));
  EXPECT_THAT(Pieces(t, "the\u4e2dthe"), ElementsAre("the", "[UNK]", "the"));
  // Not punctuation in BERT's sense (a math symbol): stays inside the word.
  EXPECT_THAT(Pieces(t, "the\u00d7the"), ElementsAre("[UNK]"));
}

TEST(WordPieceTest, EncodeAddsSpecialTokensAndTruncates) {
  const WordPieceTokenizer t = Make();
  auto ids = t.Encode("Toy Story", 0);
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(2, 10, 11, 3));
  ids = t.Encode("toy story the cafe", 4);
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(2, 10, 11, 3));
  // Truncation counts pieces, so it may cut a word after a continuation.
  ids = t.Encode("unaffable the", 4);
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(2, 7, 8, 3));
  ids = t.Encode("", 16);
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(2, 3));
  ids = t.Encode("the", 2);
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(2, 3));
  EXPECT_EQ(t.Encode("the", 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WordPieceTest, RefusesInvalidUtf8) {
  const WordPieceTokenizer t = Make();
  auto ids = t.Encode("caf\xe9", 0);  // latin-1, not UTF-8
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(testing::StatusMessage(ids.status()), HasSubstr("UTF-8"));
}

TEST(WordPieceTest, RefusesOtherTokenizers) {
  nlohmann::json j = nlohmann::json::parse(TokenizerJson(BertNormalizer()));
  j["model"]["type"] = "BPE";
  auto t = WordPieceTokenizer::FromJson(j.dump(), "bpe.json");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(testing::StatusMessage(t.status()), HasSubstr("bpe.json: model.type"));

  j = nlohmann::json::parse(TokenizerJson(BertNormalizer()));
  j["normalizer"] = {{"type", "NFKC"}};
  t = WordPieceTokenizer::FromJson(j.dump(), "nfkc.json");
  EXPECT_THAT(testing::StatusMessage(t.status()), HasSubstr("nfkc.json: normalizer.type NFKC"));

  t = WordPieceTokenizer::FromJson("{\"model\": 3", "broken.json");
  EXPECT_THAT(testing::StatusMessage(t.status()), HasSubstr("broken.json: not a JSON object"));
}

TEST(WordPieceTest, CharacterClasses) {
  EXPECT_TRUE(IsBertPunctuation(U'$'));  // ASCII symbols count as punctuation
  EXPECT_TRUE(IsBertPunctuation(U'\u00bf'));
  EXPECT_FALSE(IsBertPunctuation(U'\u00d7'));
  EXPECT_TRUE(IsBertWhitespace(U'\u2003'));
  EXPECT_TRUE(IsBertControl(U'\u200b'));
  EXPECT_FALSE(IsBertControl(U'\n'));
  EXPECT_TRUE(IsChineseChar(U'\u4e2d'));
  std::u32string out;
  AppendLowercase(U'\u0130', &out);
  EXPECT_EQ(out, U"i\u0307");
}

}  // namespace
}  // namespace fedrec::content
