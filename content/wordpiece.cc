#include "content/wordpiece.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/utf8.h"

namespace fedrec::content {
namespace {

struct Range {
  char32_t lo, hi;
};

template <size_t N>
bool InRanges(char32_t c, const Range (&ranges)[N]) {
  for (const Range& r : ranges) {
    if (c >= r.lo && c <= r.hi) return true;
  }
  return false;
}

// Unicode P* characters outside ASCII that IsBertPunctuation knows.
constexpr Range kPunctuation[] = {
    {0x00A1, 0x00A1}, {0x00A7, 0x00A7}, {0x00AB, 0x00AB}, {0x00B6, 0x00B7}, {0x00BB, 0x00BB},
    {0x00BF, 0x00BF}, {0x037E, 0x037E}, {0x0387, 0x0387}, {0x055A, 0x055F}, {0x0589, 0x058A},
    {0x05BE, 0x05BE}, {0x05C0, 0x05C0}, {0x05C3, 0x05C3}, {0x05C6, 0x05C6}, {0x05F3, 0x05F4},
    {0x060C, 0x060D}, {0x061B, 0x061B}, {0x061E, 0x061F}, {0x066A, 0x066D}, {0x06D4, 0x06D4},
    {0x0964, 0x0965}, {0x0970, 0x0970}, {0x0E4F, 0x0E4F}, {0x0E5A, 0x0E5B}, {0x2010, 0x2027},
    {0x2030, 0x2043}, {0x2045, 0x2051}, {0x2053, 0x205E}, {0x2E00, 0x2E2E}, {0x2E30, 0x2E4F},
    {0x3001, 0x3003}, {0x3008, 0x3011}, {0x3014, 0x301F}, {0x3030, 0x3030}, {0x303D, 0x303D},
    {0x30A0, 0x30A0}, {0x30FB, 0x30FB}, {0xFE10, 0xFE19}, {0xFE30, 0xFE52}, {0xFE54, 0xFE61},
    {0xFE63, 0xFE63}, {0xFE68, 0xFE68}, {0xFE6A, 0xFE6B}, {0xFF01, 0xFF03}, {0xFF05, 0xFF0A},
    {0xFF0C, 0xFF0F}, {0xFF1A, 0xFF1B}, {0xFF1F, 0xFF20}, {0xFF3B, 0xFF3D}, {0xFF3F, 0xFF3F},
    {0xFF5B, 0xFF5B}, {0xFF5D, 0xFF5D}, {0xFF5F, 0xFF65},
};

// Cc, the common Cf characters, Co (private use).
constexpr Range kControl[] = {
    {0x0000, 0x001F},   {0x007F, 0x009F},     {0x00AD, 0x00AD}, {0x0600, 0x0605}, {0x061C, 0x061C},
    {0x06DD, 0x06DD},   {0x070F, 0x070F},     {0x180E, 0x180E}, {0x200B, 0x200F}, {0x202A, 0x202E},
    {0x2060, 0x2064},   {0x2066, 0x206F},     {0xE000, 0xF8FF}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB},
    {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD},
};

constexpr Range kChinese[] = {
    {0x4E00, 0x9FFF},   {0x3400, 0x4DBF},   {0x20000, 0x2A6DF}, {0x2A700, 0x2B73F},
    {0x2B740, 0x2B81F}, {0x2B920, 0x2CEAF}, {0xF900, 0xFAFF},   {0x2F800, 0x2FA1F},
};

// Base letters of the canonical decompositions of U+00C0-00FF and
// U+0100-017F; '.' = no canonical decomposition (Æ, Ø, ß, Đ, Ł, Œ, ...).
constexpr char kLatin1Base[] = "AAAAAA.CEEEEIIII.NOOOOO..UUUUY..aaaaaa.ceeeeiiii.nooooo..uuuuy.y";
constexpr char kLatinExtABase[] =
    "AaAaAaCcCcCcCcDd..EeEeEeEeEeGgGgGgGgHh..IiIiIiIiI...JjKk.LlLlLl."
    "...NnNnNn...OoOoOo..RrRrRrSsSsSsSsTtTt..UuUuUuUuUuUuWwYyYZzZzZz.";
static_assert(sizeof(kLatin1Base) == 64 + 1 && sizeof(kLatinExtABase) == 128 + 1);

bool IsCombiningMark(char32_t c) { return c >= 0x0300 && c <= 0x036F; }

// Decodes valid UTF-8 (checked by the caller).
std::u32string DecodeUtf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    char32_t c = b & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(c);
    i += n;
  }
  return out;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

absl::Status Invalid(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(name + ": " + what);
}

// The id of a special token named in a post-processor.
absl::StatusOr<int32_t> SpecialId(const std::unordered_map<std::string, int32_t>& vocab,
                                  const std::string& token, const std::string& name) {
  auto it = vocab.find(token);
  if (it == vocab.end()) return Invalid(name, "special token " + token + " is not in the vocab");
  return it->second;
}

}  // namespace

bool IsBertWhitespace(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool IsBertControl(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return InRanges(c, kControl);
}

bool IsBertPunctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  return c >= 0xA1 && InRanges(c, kPunctuation);
}

bool IsChineseChar(char32_t c) { return c >= 0x3400 && InRanges(c, kChinese); }

void AppendStrippedAccents(char32_t c, std::u32string* out) {
  if (IsCombiningMark(c)) return;
  char base = '.';
  if (c >= 0xC0 && c <= 0xFF) base = kLatin1Base[c - 0xC0];
  if (c >= 0x100 && c <= 0x17F) base = kLatinExtABase[c - 0x100];
  out->push_back(base == '.' ? c : static_cast<char32_t>(base));
}

void AppendLowercase(char32_t c, std::u32string* out) {
  char32_t lower = c;
  if ((c >= 'A' && c <= 'Z') || (c >= 0x391 && c <= 0x3A1) || (c >= 0x3A3 && c <= 0x3A9) ||
      (c >= 0x410 && c <= 0x42F)) {
    lower = c + 0x20;  // ASCII, Greek and Cyrillic capitals are 0x20 below
  } else if (c < 0xC0) {
    lower = c;
  } else if (c <= 0xDE) {
    lower = c == 0xD7 ? c : c + 0x20;
  } else if (c == 0x130) {
    out->push_back('i');
    out->push_back(0x307);
    return;
  } else if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) ||
             (c >= 0x14A && c <= 0x177)) {
    lower = c | 1;
  } else if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) {
    lower = (c & 1) ? c + 1 : c;
  } else if (c == 0x178) {
    lower = 0xFF;
  } else if (c >= 0x400 && c <= 0x40F) {
    lower = c + 0x50;
  }
  out->push_back(lower);
}

absl::StatusOr<WordPieceTokenizer> WordPieceTokenizer::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path + ": cannot open");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return FromJson(buffer.str(), path);
}

absl::StatusOr<WordPieceTokenizer> WordPieceTokenizer::FromJson(std::string_view json,
                                                                const std::string& name) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Invalid(name, "not a JSON object");
  WordPieceTokenizer t;
  WordPieceConfig& c = t.config_;
  try {
    const nlohmann::json& model = j.at("model");
    if (model.value("type", "") != "WordPiece") {
      return Invalid(name, "model.type is not WordPiece (only BERT WordPiece tokenizers are read)");
    }
    c.unk_token = model.value("unk_token", c.unk_token);
    c.continuing_subword_prefix =
        model.value("continuing_subword_prefix", c.continuing_subword_prefix);
    c.max_input_chars_per_word = model.value("max_input_chars_per_word", size_t{100});
    for (const auto& [token, id] : model.at("vocab").items()) {
      const int64_t v = id.get<int64_t>();
      if (v < 0 || v > INT32_MAX) return Invalid(name, "vocab id of " + token + " out of range");
      t.vocab_.emplace(token, static_cast<int32_t>(v));
      t.vocab_size_ = std::max(t.vocab_size_, static_cast<size_t>(v) + 1);
    }
    if (t.vocab_.empty()) return Invalid(name, "model.vocab is empty");
    t.id_to_token_.resize(t.vocab_size_);
    for (const auto& [token, id] : t.vocab_) t.id_to_token_[id] = token;

    const nlohmann::json& norm = j.value("normalizer", nlohmann::json());
    if (norm.is_null()) {
      c.clean_text = c.handle_chinese_chars = c.strip_accents = c.lowercase = false;
    } else {
      if (norm.value("type", "") != "BertNormalizer") {
        return Invalid(name, "normalizer.type " + norm.value("type", "?") +
                                 " is not supported (only BertNormalizer)");
      }
      c.clean_text = norm.value("clean_text", true);
      c.handle_chinese_chars = norm.value("handle_chinese_chars", true);
      c.lowercase = norm.value("lowercase", true);
      const nlohmann::json& strip = norm.value("strip_accents", nlohmann::json());
      c.strip_accents = strip.is_null() ? c.lowercase : strip.get<bool>();
    }
    const nlohmann::json& pre = j.value("pre_tokenizer", nlohmann::json());
    if (pre.is_null() || pre.value("type", "") != "BertPreTokenizer") {
      return Invalid(name, "pre_tokenizer is not BertPreTokenizer");
    }

    const nlohmann::json& post = j.value("post_processor", nlohmann::json());
    const std::string post_type = post.is_object() ? post.value("type", "") : "";
    if (post_type == "TemplateProcessing") {
      const nlohmann::json& single = post.at("single");
      if (!single.is_array() || single.size() != 3 || !single[0].contains("SpecialToken") ||
          !single[1].contains("Sequence") || !single[2].contains("SpecialToken")) {
        return Invalid(name, "post_processor.single is not [CLS] $A [SEP]");
      }
      c.cls_token = single[0]["SpecialToken"].at("id").get<std::string>();
      c.sep_token = single[2]["SpecialToken"].at("id").get<std::string>();
      const nlohmann::json& specials = post.at("special_tokens");
      t.cls_id_ = specials.at(c.cls_token).at("ids").at(0).get<int32_t>();
      t.sep_id_ = specials.at(c.sep_token).at("ids").at(0).get<int32_t>();
    } else if (post_type == "BertProcessing") {
      c.cls_token = post.at("cls").at(0).get<std::string>();
      t.cls_id_ = post.at("cls").at(1).get<int32_t>();
      c.sep_token = post.at("sep").at(0).get<std::string>();
      t.sep_id_ = post.at("sep").at(1).get<int32_t>();
    } else {
      return Invalid(name, "post_processor is neither TemplateProcessing nor BertProcessing");
    }
    const nlohmann::json& trunc = j.value("truncation", nlohmann::json());
    if (trunc.is_object()) c.truncation_max_length = trunc.value("max_length", size_t{0});
  } catch (const nlohmann::json::exception& e) {
    return Invalid(name, std::string("unexpected structure: ") + e.what());
  }
  FEDREC_ASSIGN_OR_RETURN(t.unk_id_, SpecialId(t.vocab_, c.unk_token, name));
  if (t.cls_id_ < 0 || t.sep_id_ < 0 || static_cast<size_t>(t.cls_id_) >= t.vocab_size_ ||
      static_cast<size_t>(t.sep_id_) >= t.vocab_size_) {
    return Invalid(name, "special token ids outside the vocab");
  }
  return t;
}

int32_t WordPieceTokenizer::TokenId(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
}

absl::StatusOr<std::vector<std::string>> WordPieceTokenizer::PreTokenize(
    std::string_view text) const {
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("text is not valid UTF-8");
  const std::u32string input = DecodeUtf8(text);
  // Normalizer, in the order of tokenizers' BertNormalizer.
  std::u32string a;
  a.reserve(input.size());
  for (char32_t ch : input) {
    if (config_.clean_text) {
      if (ch == 0 || ch == 0xFFFD || IsBertControl(ch)) continue;
      if (IsBertWhitespace(ch)) ch = ' ';
    }
    if (config_.handle_chinese_chars && IsChineseChar(ch)) {
      a.push_back(' ');
      a.push_back(ch);
      a.push_back(' ');
    } else {
      a.push_back(ch);
    }
  }
  if (config_.strip_accents) {
    std::u32string b;
    b.reserve(a.size());
    for (char32_t ch : a) AppendStrippedAccents(ch, &b);
    a.swap(b);
  }
  if (config_.lowercase) {
    std::u32string b;
    b.reserve(a.size());
    for (char32_t ch : a) AppendLowercase(ch, &b);
    a.swap(b);
  }
  // Pre-tokenizer: whitespace separates, punctuation is a word of its own.
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char32_t ch : a) {
    if (IsBertWhitespace(ch)) {
      flush();
    } else if (IsBertPunctuation(ch)) {
      flush();
      AppendUtf8(ch, &word);
      flush();
    } else {
      AppendUtf8(ch, &word);
    }
  }
  flush();
  return words;
}

void WordPieceTokenizer::WordToIds(const std::string& word, std::vector<int32_t>* ids) const {
  size_t chars = 0;
  for (unsigned char b : word) chars += (b & 0xC0) != 0x80;
  if (chars > config_.max_input_chars_per_word) {
    ids->push_back(unk_id_);
    return;
  }
  const size_t first = ids->size();
  std::string piece;
  for (size_t start = 0; start < word.size();) {
    int32_t found = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      // Only cut at character boundaries.
      if (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) continue;
      piece.assign(start > 0 ? config_.continuing_subword_prefix : std::string());
      piece.append(word, start, end - start);
      auto it = vocab_.find(piece);
      if (it != vocab_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      ids->resize(first);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(found);
    start = end;
  }
}

absl::StatusOr<std::vector<int32_t>> WordPieceTokenizer::Encode(std::string_view text,
                                                                size_t max_length) const {
  if (max_length != 0 && max_length < 2) {
    return absl::InvalidArgumentError("max_length must be at least 2 ([CLS] and [SEP])");
  }
  FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> words, PreTokenize(text));
  std::vector<int32_t> ids{cls_id_};
  for (const std::string& w : words) {
    WordToIds(w, &ids);
    if (max_length != 0 && ids.size() >= max_length - 1) break;
  }
  if (max_length != 0 && ids.size() > max_length - 1) ids.resize(max_length - 1);
  ids.push_back(sep_id_);
  return ids;
}

absl::StatusOr<std::vector<std::string>> WordPieceTokenizer::Tokenize(std::string_view text) const {
  FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> words, PreTokenize(text));
  std::vector<std::string> pieces;
  std::vector<int32_t> ids;
  for (const std::string& w : words) {
    ids.clear();
    WordToIds(w, &ids);
    for (int32_t id : ids) pieces.push_back(id_to_token_[id]);
  }
  return pieces;
}

}  // namespace fedrec::content
