#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <string>
#include <string_view>

#include "data/reader_internal.h"

namespace fedrec::reader_internal {
namespace {

// First non-blank line (for detection): empty when there is none;
// `*too_long_line` is its line number when it exceeds 1 MiB (else 0).
std::string_view FirstDataLine(std::string_view text, uint64_t* too_long_line) {
  LineCursor cursor(text);
  std::string_view line;
  bool too_long = false;
  *too_long_line = 0;
  while (cursor.Next(&line, &too_long)) {
    if (too_long) {
      *too_long_line = cursor.line_no();
      return line;
    }
    if (!IsBlankLine(line)) return line;
  }
  return {};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsNumber(std::string_view f) {
  if (f.empty()) return false;
  double v;
  const auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  return ec == std::errc() && ptr == f.data() + f.size();
}

// Column indices from header names; false when user or item is missing.
bool ColumnsFromHeader(const std::array<std::string_view, kMaxFields>& fields, int n,
                       CsvColumns* cols) {
  cols->user = cols->item = cols->rating = cols->timestamp = -1;
  for (int i = 0; i < std::min(n, kMaxFields); ++i) {
    const std::string name = Lower(fields[i]);
    if (name == "user" || name == "user_id" || name == "userid" || name == "uid") {
      cols->user = i;
    } else if (name == "item" || name == "item_id" || name == "itemid" || name == "movieid" ||
               name == "movie_id" || name == "iid") {
      cols->item = i;
    } else if (name == "rating" || name == "score") {
      cols->rating = i;
    } else if (name == "timestamp" || name == "time" || name == "ts") {
      cols->timestamp = i;
    }
  }
  return cols->user >= 0 && cols->item >= 0;
}

}  // namespace

absl::StatusOr<ResolvedFormat> Detect(const std::string& path, std::string_view text) {
  uint64_t too_long_line = 0;
  const std::string_view line = FirstDataLine(text, &too_long_line);
  if (too_long_line > 0) return ErrorAt(path, too_long_line, "line longer than 1 MiB");
  if (line.empty()) return InvalidInput(path, "file is empty");
  std::array<std::string_view, kMaxFields> f;
  const std::string shown = Quoted(line.substr(0, 80));
  const auto undetectable = [&]() {
    return InvalidInput(
        path, "cannot detect the format from the first line " + shown + "; name it with --format");
  };
  ResolvedFormat r;
  if (line.find("::") != std::string_view::npos) {
    r.format = DataFormat::kMovieLensDat;
    return r;
  }
  const bool has_comma = line.find(',') != std::string_view::npos;
  const bool has_tab = line.find('\t') != std::string_view::npos;
  LineSpec spec;
  if (has_comma) {
    spec.delim = Delim::kChar;
    spec.ch = ',';
  } else if (has_tab && std::count(line.begin(), line.end(), '\t') >= 1 &&
             line.find(' ') == std::string_view::npos) {
    spec.delim = Delim::kChar;
    spec.ch = '\t';
  } else {
    spec.delim = Delim::kWhitespace;
  }
  const int n = Split(line, spec, &f);
  if (n < 2 || n > kMaxFields) return undetectable();
  bool numeric = true;
  for (int i = 0; i < n; ++i) numeric = numeric && IsNumber(f[i]);
  r.csv.delimiter = spec.delim == Delim::kWhitespace ? ' ' : spec.ch;
  if (numeric) {
    if (spec.ch == '\t' && spec.delim == Delim::kChar && n == 4) {
      r.format = DataFormat::kMovieLens;
      return r;
    }
    // Two whitespace-separated ids, or two tab-separated ids in a ".txt"
    // file (the SASRec convention), are SASRec text.
    if (n == 2 && (spec.delim == Delim::kWhitespace ||
                   (spec.ch == '\t' && std::filesystem::path(path).extension() == ".txt"))) {
      r.format = DataFormat::kSasrec;
      return r;
    }
    if (n > 4) return undetectable();
    r.format = DataFormat::kCsv;
    r.csv.has_header = false;
    r.csv.user = 0;
    r.csv.item = 1;
    r.csv.rating = n >= 3 ? 2 : -1;
    r.csv.timestamp = n >= 4 ? 3 : -1;
    return r;
  }
  // A header line.
  if (has_comma && n == 4 && Lower(f[0]) == "userid" && Lower(f[1]) == "movieid" &&
      Lower(f[2]) == "rating" && Lower(f[3]) == "timestamp") {
    r.format = DataFormat::kMovieLensCsv;
    return r;
  }
  r.format = DataFormat::kCsv;
  r.csv.has_header = true;
  if (!ColumnsFromHeader(f, n, &r.csv)) {
    return InvalidInput(path, "cannot find user and item columns in the header " + shown +
                                  "; name the format and columns explicitly");
  }
  return r;
}

}  // namespace fedrec::reader_internal
