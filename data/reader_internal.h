// Internals of the interaction-file readers (data/reader.h), shared by
// reader.cc (the API and file access), reader_detect.cc (format detection)
// and reader_parse.cc (the line parser). Not an API: include it only from
// those files.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/status.h"
#include "data/reader.h"

namespace fedrec::reader_internal {

inline constexpr size_t kMaxLineBytes = size_t{1} << 20;  // 1 MiB
inline constexpr int kMaxFields = 64;                     // fields beyond this are only counted

// InvalidArgument "<path>:<line>: <reason>".
absl::Status ErrorAt(const std::string& path, uint64_t line, std::string_view reason);
// `f` in single quotes for a message; past 40 characters, cut and ended with "...".
std::string Quoted(std::string_view f);

enum class Delim { kChar, kDoubleColon, kWhitespace };

// How one concrete format splits and which columns mean what.
struct LineSpec {
  Delim delim = Delim::kChar;
  char ch = ',';
  int columns = -1;  // expected column count; -1: take it from the first line
  bool header = false;
  int user = 0, item = 1, rating = -1, timestamp = -1;
};

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Splits `line` into fields; returns the total count (fields past kMaxFields
// are counted, not stored).
int Split(std::string_view line, const LineSpec& spec,
          std::array<std::string_view, kMaxFields>* out);

// Iterates the lines of a file: strips a BOM, CR before LF; reports line
// numbers (1-based, physical) and refuses lines over 1 MiB.
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {
    if (text.size() >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) p_ += 3;
  }
  // False at the end of input. `*too_long` is set when the line exceeds 1 MiB.
  bool Next(std::string_view* line, bool* too_long) {
    if (p_ >= end_) return false;
    ++line_no_;
    const char* nl =
        static_cast<const char*>(std::memchr(p_, '\n', static_cast<size_t>(end_ - p_)));
    const char* e = nl == nullptr ? end_ : nl;
    size_t len = static_cast<size_t>(e - p_);
    if (len > 0 && p_[len - 1] == '\r') --len;
    *line = std::string_view(p_, len);
    *too_long = len > kMaxLineBytes;
    p_ = nl == nullptr ? end_ : nl + 1;
    return true;
  }
  uint64_t line_no() const { return line_no_; }

 private:
  const char* p_;
  const char* end_;
  uint64_t line_no_ = 0;
};

inline bool IsBlankLine(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return IsBlank(c) || c == '\r'; });
}

// Checks a kCsv column mapping (InvalidArgument naming `path`).
absl::Status CheckCsvColumns(const std::string& path, const CsvColumns& c);

// Auto detection (see ResolveFormat in reader.h) from the first non-blank
// line of `text` and the name `path`.
absl::StatusOr<ResolvedFormat> Detect(const std::string& path, std::string_view text);

// Parses all of `text` in `format`, which is not kAuto.
absl::StatusOr<RawInteractions> Parse(const std::string& path, std::string_view text,
                                      const ResolvedFormat& format);

}  // namespace fedrec::reader_internal
