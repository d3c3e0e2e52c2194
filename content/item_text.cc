#include "content/item_text.h"

#include <charconv>
#include <filesystem>
#include <unordered_set>

#include "core/atomic_file.h"
#include "core/utf8.h"

namespace fedrec::content {
namespace {

// ML-100K's 19 genre flags, in file order.
constexpr const char* kGenres[] = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};
constexpr size_t kNumGenres = sizeof(kGenres) / sizeof(kGenres[0]);
constexpr size_t kUItemFields = 5 + kNumGenres;

absl::Status LineError(const std::string& path, size_t line, const std::string& what) {
  return absl::InvalidArgumentError(path + ":" + std::to_string(line) + ": " + what);
}

std::vector<std::string_view> Split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  for (size_t pos = 0;;) {
    const size_t next = s.find(sep, pos);
    if (next == std::string_view::npos) {
      out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, next - pos));
    pos = next + sep.size();
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ParseId(std::string_view s, int64_t* id) {
  s = Trim(s);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *id);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// Adds one item, refusing a duplicate id.
class Builder {
 public:
  explicit Builder(const std::string& path) : path_(path) {}
  absl::Status Add(size_t line, std::string_view id_field, std::string text) {
    int64_t id = 0;
    if (!ParseId(id_field, &id)) {
      return LineError(path_, line,
                       "item id '" + std::string(Trim(id_field)) + "' is not an integer");
    }
    if (!seen_.insert(id).second) {
      return LineError(path_, line, "duplicate item id " + std::to_string(id));
    }
    items_.ids.push_back(id);
    items_.texts.push_back(std::move(text));
    return absl::OkStatus();
  }
  absl::StatusOr<ItemTexts> Finish() && {
    if (items_.ids.empty()) return absl::InvalidArgumentError(path_ + ": no items");
    return std::move(items_);
  }

 private:
  const std::string& path_;
  ItemTexts items_;
  std::unordered_set<int64_t> seen_;
};

absl::StatusOr<ItemTexts> ParseMovieLens(std::string_view text, const std::string& path) {
  Builder b(path);
  size_t line_no = 0;
  for (std::string_view line : Split(text, "\n")) {
    ++line_no;
    line = Trim(line);
    if (line.empty()) continue;
    std::string out;
    std::string_view id;
    if (line.find("::") != std::string_view::npos) {  // ML-1M movies.dat
      const auto f = Split(line, "::");
      if (f.size() != 3) {
        return LineError(path, line_no,
                         "expected 3 '::'-separated fields, got " + std::to_string(f.size()));
      }
      id = f[0];
      out = std::string(Trim(f[1]));
      std::string genres;
      for (std::string_view g : Split(f[2], "|")) {
        g = Trim(g);
        if (g.empty() || g == "(no genres listed)") continue;
        genres += (genres.empty() ? "" : ", ") + std::string(g);
      }
      if (!genres.empty()) out += ". " + genres;
    } else {
      const auto f = Split(line, "|");
      if (f.size() != kUItemFields) {
        return LineError(path, line_no,
                         "expected " + std::to_string(kUItemFields) +
                             " '|'-separated fields (u.item), got " + std::to_string(f.size()));
      }
      id = f[0];
      out = std::string(Trim(f[1]));
      std::string genres;
      for (size_t g = 0; g < kNumGenres; ++g) {
        const std::string_view flag = Trim(f[5 + g]);
        if (flag != "0" && flag != "1") {
          return LineError(path, line_no,
                           "genre flag " + std::to_string(g + 1) + " is '" + std::string(flag) +
                               "', not 0 or 1");
        }
        if (flag == "1" && g != 0) genres += (genres.empty() ? "" : ", ") + std::string(kGenres[g]);
      }
      if (!genres.empty()) out += ". " + genres;
    }
    FEDREC_RETURN_IF_ERROR(b.Add(line_no, id, std::move(out)));
  }
  return std::move(b).Finish();
}

char CsvDelimiter(std::string_view text, const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".tsv" || ext == ".tab") return '\t';
  if (ext == ".csv") return ',';
  const std::string_view first = text.substr(0, text.find('\n'));
  return first.find('\t') != std::string_view::npos ? '\t' : ',';
}

absl::StatusOr<ItemTexts> ParseCsv(std::string_view text, const std::string& path) {
  const char delim = CsvDelimiter(text, path);
  Builder b(path);
  size_t line_no = 1;
  size_t i = 0;
  bool first_record = true;
  while (i < text.size()) {
    const size_t record_line = line_no;
    std::vector<std::string> fields(1);
    bool quoted_any = false;
    // One record: fields until an unquoted newline.
    while (i < text.size()) {
      const char c = text[i];
      if (c == '"' && fields.back().empty()) {
        quoted_any = true;
        ++i;
        bool closed = false;
        while (i < text.size()) {
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              fields.back().push_back('"');
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (text[i] == '\n') ++line_no;
          fields.back().push_back(text[i++]);
        }
        if (!closed) return LineError(path, record_line, "unterminated quoted field");
        continue;
      }
      ++i;
      if (c == '\n') {
        ++line_no;
        break;
      }
      if (c == delim) {
        fields.emplace_back();
      } else if (c != '\r') {
        fields.back().push_back(c);
      }
    }
    if (fields.size() == 1 && !quoted_any && Trim(fields[0]).empty()) continue;  // blank line
    int64_t unused = 0;
    if (first_record && !ParseId(fields[0], &unused)) {  // a header
      first_record = false;
      continue;
    }
    first_record = false;
    if (fields.size() != 2) {
      return LineError(path, record_line,
                       "expected 2 fields (item_id" + std::string(delim == '\t' ? "<tab>" : ",") +
                           "text), got " + std::to_string(fields.size()) +
                           " (quote a text that holds the delimiter)");
    }
    FEDREC_RETURN_IF_ERROR(b.Add(record_line, fields[0], std::string(Trim(fields[1]))));
  }
  return std::move(b).Finish();
}

bool LooksLikeMovieLens(std::string_view text, const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (name == "u.item" || name == "movies.dat" ||
      std::filesystem::path(path).extension() == ".item") {
    return true;
  }
  const std::string_view first = text.substr(0, text.find('\n'));
  return Split(first, "|").size() == kUItemFields;
}

}  // namespace

absl::StatusOr<ItemTextFormat> ParseItemTextFormat(const std::string& name) {
  if (name == "auto") return ItemTextFormat::kAuto;
  if (name == "movielens") return ItemTextFormat::kMovieLens;
  if (name == "csv") return ItemTextFormat::kCsv;
  return absl::InvalidArgumentError("--format: '" + name + "' is not auto, movielens or csv");
}

std::string Latin1ToUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

absl::StatusOr<ItemTexts> ParseItemTexts(std::string_view bytes, const std::string& path,
                                         ItemTextFormat format) {
  std::string converted;
  if (!IsValidUtf8(bytes)) {
    converted = Latin1ToUtf8(bytes);
    bytes = converted;
  }
  if (format == ItemTextFormat::kAuto) {
    format = LooksLikeMovieLens(bytes, path) ? ItemTextFormat::kMovieLens : ItemTextFormat::kCsv;
  }
  return format == ItemTextFormat::kMovieLens ? ParseMovieLens(bytes, path) : ParseCsv(bytes, path);
}

absl::StatusOr<ItemTexts> ReadItemTexts(const std::string& path, ItemTextFormat format) {
  FEDREC_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseItemTexts(bytes, path, format);
}

}  // namespace fedrec::content
