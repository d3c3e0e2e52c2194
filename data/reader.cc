#include "data/reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>

namespace fedrec {
namespace {

constexpr size_t kMaxLineBytes = size_t{1} << 20;  // 1 MiB
constexpr int kMaxFields = 64;                     // fields beyond this are only counted
constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

absl::Status ErrorAt(const std::string& path, uint64_t line, std::string_view reason) {
  return InvalidInput(path + ":" + std::to_string(line), reason);
}

// A read-only memory map of a whole file (or an empty view for size 0).
class MappedFile {
 public:
  static absl::StatusOr<MappedFile> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError(path + ": no such file");
      if (errno == EACCES) return InvalidInput(path, "permission denied");
      return InvalidInput(path, std::string("cannot open: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return InvalidInput(path, std::string("cannot stat: ") + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return InvalidInput(path, "is a directory");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return InvalidInput(path, "is not a regular file");
    }
    MappedFile file;
    file.size_ = static_cast<size_t>(st.st_size);
    if (file.size_ > 0) {
      void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return InvalidInput(path, std::string("cannot map: ") + std::strerror(errno));
      }
      ::madvise(p, file.size_, MADV_SEQUENTIAL | MADV_WILLNEED);
      file.data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    return file;
  }

  MappedFile(MappedFile&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }

  std::string_view view() const { return {data_ == nullptr ? "" : data_, size_}; }

 private:
  MappedFile() = default;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Original id -> raw dense id, in order of first appearance. Small ids (the
// common case: MovieLens, SASRec files) go through a direct array; larger
// ones through an open-addressing hash table with linear probing.
class IdMap {
 public:
  // Returns the dense id of `id`, appending it to `table` when new; kNone
  // when more than 2^32-1 distinct ids were seen.
  uint32_t GetOrAdd(uint64_t id, std::vector<uint64_t>* table) {
    if (id < kDirectLimit) {
      if (id >= direct_.size()) {
        direct_.resize(
            std::min<uint64_t>(kDirectLimit, std::max<uint64_t>(id + 1, 2 * direct_.size())),
            kNone);
      }
      uint32_t& slot = direct_[id];
      if (slot == kNone) slot = Append(id, table);
      return slot;
    }
    if (2 * (count_ + 1) > keys_.size()) Grow();
    size_t mask = keys_.size() - 1;
    for (size_t pos = Hash(id) & mask;; pos = (pos + 1) & mask) {
      if (values_[pos] == kNone) {
        keys_[pos] = id;
        values_[pos] = Append(id, table);
        ++count_;
        return values_[pos];
      }
      if (keys_[pos] == id) return values_[pos];
    }
  }

 private:
  static constexpr uint64_t kDirectLimit = uint64_t{1} << 22;

  static size_t Hash(uint64_t id) {
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return static_cast<size_t>(id);
  }
  static uint32_t Append(uint64_t id, std::vector<uint64_t>* table) {
    if (table->size() >= kNone) return kNone;
    table->push_back(id);
    return static_cast<uint32_t>(table->size() - 1);
  }
  void Grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<uint32_t> old_values = std::move(values_);
    const size_t capacity = old_keys.empty() ? 1024 : 2 * old_keys.size();
    keys_.assign(capacity, 0);
    values_.assign(capacity, kNone);
    const size_t mask = capacity - 1;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_values[i] == kNone) continue;
      size_t pos = Hash(old_keys[i]) & mask;
      while (values_[pos] != kNone) pos = (pos + 1) & mask;
      keys_[pos] = old_keys[i];
      values_[pos] = old_values[i];
    }
  }

  std::vector<uint32_t> direct_;
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> values_;
  size_t count_ = 0;
};

enum class Delim { kChar, kDoubleColon, kWhitespace };

// How one concrete format splits and which columns mean what.
struct LineSpec {
  Delim delim = Delim::kChar;
  char ch = ',';
  int columns = -1;  // expected column count; -1: take it from the first line
  bool header = false;
  int user = 0, item = 1, rating = -1, timestamp = -1;
};

LineSpec SpecFor(const ResolvedFormat& f) {
  LineSpec s;
  switch (f.format) {
    case DataFormat::kMovieLens:
      s = {Delim::kChar, '\t', 4, false, 0, 1, 2, 3};
      break;
    case DataFormat::kMovieLensDat:
      s = {Delim::kDoubleColon, ':', 4, false, 0, 1, 2, 3};
      break;
    case DataFormat::kMovieLensCsv:
      s = {Delim::kChar, ',', 4, true, 0, 1, 2, 3};
      break;
    case DataFormat::kSasrec:
      s = {Delim::kWhitespace, ' ', 2, false, 0, 1, -1, -1};
      break;
    case DataFormat::kCsv:
    case DataFormat::kAuto:
      s.delim = f.csv.delimiter == ' ' ? Delim::kWhitespace : Delim::kChar;
      s.ch = f.csv.delimiter;
      s.columns = -1;
      s.header = f.csv.has_header;
      s.user = f.csv.user;
      s.item = f.csv.item;
      s.rating = f.csv.rating;
      s.timestamp = f.csv.timestamp;
      break;
  }
  return s;
}

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Splits `line` into fields; returns the total count (fields past kMaxFields
// are counted, not stored).
int Split(std::string_view line, const LineSpec& spec,
          std::array<std::string_view, kMaxFields>* out) {
  const char* p = line.data();
  const char* end = p + line.size();
  int n = 0;
  auto push = [&](const char* b, const char* e) {
    if (spec.delim == Delim::kChar && spec.ch != '\t') {
      while (b < e && *b == ' ') ++b;
      while (e > b && e[-1] == ' ') --e;
    }
    if (e - b >= 2 && *b == '"' && e[-1] == '"') ++b, --e;
    if (n < kMaxFields) (*out)[n] = std::string_view(b, static_cast<size_t>(e - b));
    ++n;
  };
  switch (spec.delim) {
    case Delim::kChar: {
      const char* b = p;
      for (;;) {
        const char* q =
            static_cast<const char*>(std::memchr(b, spec.ch, static_cast<size_t>(end - b)));
        if (q == nullptr) {
          push(b, end);
          break;
        }
        push(b, q);
        b = q + 1;
      }
      break;
    }
    case Delim::kDoubleColon: {
      const char* b = p;
      for (const char* q = p; q < end;) {
        if (q + 1 < end && q[0] == ':' && q[1] == ':') {
          push(b, q);
          q += 2;
          b = q;
        } else {
          ++q;
        }
      }
      push(b, end);
      break;
    }
    case Delim::kWhitespace: {
      const char* q = p;
      while (q < end) {
        while (q < end && IsBlank(*q)) ++q;
        if (q == end) break;
        const char* b = q;
        while (q < end && !IsBlank(*q)) ++q;
        push(b, q);
      }
      break;
    }
  }
  return n;
}

// Unsigned decimal; false on anything else or on overflow.
inline bool ParseU64(std::string_view f, uint64_t* out) {
  if (f.empty() || f.size() > 64) return false;
  uint64_t v = 0;
  if (f.size() <= 19) {
    for (char c : f) {
      const unsigned d = static_cast<unsigned char>(c) - '0';
      if (d > 9) return false;
      v = v * 10 + d;
    }
  } else {
    for (char c : f) {
      const unsigned d = static_cast<unsigned char>(c) - '0';
      if (d > 9) return false;
      if (__builtin_mul_overflow(v, uint64_t{10}, &v) || __builtin_add_overflow(v, d, &v)) {
        return false;
      }
    }
  }
  *out = v;
  return true;
}

inline bool AllDigits(std::string_view f) {
  return !f.empty() && std::all_of(f.begin(), f.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string Quoted(std::string_view f) {
  constexpr size_t kShown = 40;
  std::string s = "'";
  s.append(f.substr(0, kShown));
  if (f.size() > kShown) s.append("...");
  s.append("'");
  return s;
}

// Why `f` is not a valid id (called only after ParseU64 failed).
std::string IdError(std::string_view what, std::string_view f) {
  std::string s = std::string(what) + " id " + Quoted(f);
  if (f.size() > 1 && f[0] == '-' && AllDigits(f.substr(1))) return s + " is negative";
  if (AllDigits(f)) return s + " does not fit in 64 bits";
  return s + " is not a non-negative integer";
}

inline bool ParseI64(std::string_view f, int64_t* out) {
  const bool neg = !f.empty() && f[0] == '-';
  uint64_t mag = 0;
  if (!ParseU64(neg ? f.substr(1) : f, &mag)) return false;
  if (neg) {
    if (mag > uint64_t{1} << 63) return false;
    *out = static_cast<int64_t>(0 - mag);
  } else {
    if (mag > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(mag);
  }
  return true;
}

std::string TimestampError(std::string_view f) {
  const std::string_view digits = (!f.empty() && f[0] == '-') ? f.substr(1) : f;
  if (AllDigits(digits)) return "timestamp " + Quoted(f) + " does not fit in 64 bits";
  return "timestamp " + Quoted(f) + " is not an integer";
}

// False (with the reason) when `f` is not a finite number.
inline bool ParseRating(std::string_view f, float* out, std::string* reason) {
  if (f.size() == 1 && f[0] >= '0' && f[0] <= '9') {
    *out = static_cast<float>(f[0] - '0');
    return true;
  }
  double v = 0;
  const auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  if (f.empty() || ptr != f.data() + f.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    *reason = "rating " + Quoted(f) + " is not a number";
    return false;
  }
  if (!std::isfinite(v) || ec == std::errc::result_out_of_range ||
      std::fabs(v) > std::numeric_limits<float>::max()) {
    *reason = "rating " + Quoted(f) + " is not a finite number";
    return false;
  }
  *out = static_cast<float>(v);
  return true;
}

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

absl::Status CheckCsvColumns(const std::string& path, const CsvColumns& c) {
  if (c.user < 0 || c.item < 0)
    return InvalidInput(path, "csv: user and item columns are required");
  const int maxcol = std::max({c.user, c.item, c.rating, c.timestamp});
  if (maxcol >= kMaxFields) {
    return InvalidInput(path, "csv: column index " + std::to_string(maxcol) +
                                  " is over the limit of " + std::to_string(kMaxFields - 1));
  }
  if (c.rating < -1 || c.timestamp < -1) return InvalidInput(path, "csv: negative column index");
  if (c.delimiter == '\n' || c.delimiter == '\r' || c.delimiter == '"') {
    return InvalidInput(path, "csv: invalid delimiter");
  }
  return absl::OkStatus();
}

enum Role : uint8_t { kIgnore, kUser, kItem, kRating, kTimestamp };

// Parses a well-formed line in one pass without splitting it first: plain
// digits for ids and timestamps, a plain number for the rating, exactly
// `columns` fields. Returns false for anything else (quotes, padding,
// signs, bad values, wrong column count); the caller then re-parses the line
// on the general path, which also produces the error message.
inline bool FastLine(std::string_view line, const LineSpec& spec, const Role* roles, int columns,
                     uint64_t* user, uint64_t* item, float* rating, int64_t* ts) {
  const char* p = line.data();
  const char* const end = p + line.size();
  const bool ws = spec.delim == Delim::kWhitespace;
  if (spec.delim == Delim::kDoubleColon) return false;
  const char delim = spec.ch;
  if (ws) {
    while (p < end && IsBlank(*p)) ++p;
  }
  for (int col = 0;; ++col) {
    if (col >= columns) return false;
    const Role role = roles[col];
    if (role == kUser || role == kItem || role == kTimestamp) {
      const char* b = p;
      uint64_t v = 0;
      while (p < end) {
        const unsigned d = static_cast<unsigned char>(*p) - '0';
        if (d > 9) break;
        v = v * 10 + d;
        ++p;
      }
      // Up to 18 digits cannot overflow either uint64 or int64.
      if (p == b || p - b > 18) return false;
      if (role == kUser) {
        *user = v;
      } else if (role == kItem) {
        *item = v;
      } else {
        *ts = static_cast<int64_t>(v);
      }
    } else {
      const char* b = p;
      if (ws) {
        while (p < end && !IsBlank(*p)) ++p;
      } else {
        const void* q = std::memchr(p, delim, static_cast<size_t>(end - p));
        p = q == nullptr ? end : static_cast<const char*>(q);
      }
      if (role == kRating) {
        if (p - b == 1 && static_cast<unsigned>(*b - '0') <= 9) {
          *rating = static_cast<float>(*b - '0');
        } else {
          double v = 0;
          const auto r = std::from_chars(b, p, v);
          if (r.ec != std::errc() || r.ptr != p || !std::isfinite(v) ||
              std::fabs(v) > std::numeric_limits<float>::max()) {
            return false;
          }
          *rating = static_cast<float>(v);
        }
      }
    }
    if (ws) {
      const char* q = p;
      while (p < end && IsBlank(*p)) ++p;
      if (p == end) return col + 1 == columns;
      if (p == q) return false;
    } else {
      if (p == end) return col + 1 == columns;
      if (*p != delim) return false;
      ++p;
    }
  }
}

absl::StatusOr<RawInteractions> Parse(const std::string& path, std::string_view text,
                                      const ResolvedFormat& format) {
  const LineSpec spec = SpecFor(format);
  if (format.format == DataFormat::kCsv) FEDREC_RETURN_IF_ERROR(CheckCsvColumns(path, format.csv));
  const int needed = std::max({spec.user, spec.item, spec.rating, spec.timestamp}) + 1;

  RawInteractions out;
  // A guess of 20 bytes per line avoids most reallocations on MovieLens-like
  // input without over-reserving much on wider formats.
  const size_t guess = text.size() / 20 + 16;
  out.users.reserve(guess);
  out.items.reserve(guess);
  out.timestamps.reserve(guess);
  out.ratings.reserve(guess);
  IdMap user_map, item_map;

  LineCursor cursor(text);
  std::string_view line;
  bool too_long = false;
  bool header_pending = spec.header;
  bool saw_header = false;
  int columns = spec.columns;
  std::array<std::string_view, kMaxFields> f;
  std::string reason;
  const auto add = [&](uint64_t user, uint64_t item, float rating, int64_t ts) {
    const uint32_t u = user_map.GetOrAdd(user, &out.user_ids);
    const uint32_t i = item_map.GetOrAdd(item, &out.item_ids);
    if (u == kNone || i == kNone || out.users.size() >= kNone) return false;
    out.users.push_back(u);
    out.items.push_back(i);
    out.timestamps.push_back(ts);
    out.ratings.push_back(rating);
    return true;
  };
  std::array<Role, kMaxFields> roles{};
  const auto set_roles = [&] {
    roles.fill(kIgnore);
    roles[spec.user] = kUser;
    roles[spec.item] = kItem;
    if (spec.rating >= 0) roles[spec.rating] = kRating;
    if (spec.timestamp >= 0) roles[spec.timestamp] = kTimestamp;
  };
  if (columns > 0) set_roles();
  const auto too_many = [&](uint64_t line_no) {
    return ErrorAt(path, line_no, "more than 2^32-1 distinct ids or interactions");
  };
  while (cursor.Next(&line, &too_long)) {
    const uint64_t line_no = cursor.line_no();
    if (too_long) return ErrorAt(path, line_no, "line longer than 1 MiB");
    if (line.empty()) continue;
    if (columns > 0 && columns <= kMaxFields && !header_pending) {
      uint64_t user = 0, item = 0;
      float rating = 1.0f;
      int64_t ts = static_cast<int64_t>(line_no);
      if (FastLine(line, spec, roles.data(), columns, &user, &item, &rating, &ts)) {
        if (!add(user, item, rating, ts)) return too_many(line_no);
        continue;
      }
    }
    // General path: blank lines, the first line, headers, unusual but valid
    // lines, and every error.
    if (IsBlankLine(line)) continue;
    const int n = Split(line, spec, &f);
    if (columns < 0) {
      columns = n;
      if (columns < needed) {
        return ErrorAt(
            path, line_no,
            "expected at least " + std::to_string(needed) + " columns, found " + std::to_string(n));
      }
      if (columns <= kMaxFields) set_roles();
    }
    if (n != columns) {
      return ErrorAt(
          path, line_no,
          "expected " + std::to_string(columns) + " columns, found " + std::to_string(n));
    }
    if (header_pending) {
      header_pending = false;
      // A first line whose user and item fields are integers is data, not a
      // header: keep it.
      uint64_t probe = 0;
      if (!ParseU64(f[spec.user], &probe) || !ParseU64(f[spec.item], &probe)) {
        saw_header = true;
        continue;
      }
    }
    uint64_t user = 0, item = 0;
    if (!ParseU64(f[spec.user], &user))
      return ErrorAt(path, line_no, IdError("user", f[spec.user]));
    if (!ParseU64(f[spec.item], &item))
      return ErrorAt(path, line_no, IdError("item", f[spec.item]));
    float rating = 1.0f;
    if (spec.rating >= 0 && !ParseRating(f[spec.rating], &rating, &reason)) {
      return ErrorAt(path, line_no, reason);
    }
    int64_t ts = static_cast<int64_t>(line_no);
    if (spec.timestamp >= 0 && !ParseI64(f[spec.timestamp], &ts)) {
      return ErrorAt(path, line_no, TimestampError(f[spec.timestamp]));
    }
    if (!add(user, item, rating, ts)) return too_many(line_no);
  }
  if (out.users.empty()) {
    return InvalidInput(path,
                        saw_header ? "file has a header but no interactions" : "file is empty");
  }
  return out;
}

}  // namespace

absl::StatusOr<DataFormat> ParseDataFormat(const std::string& name) {
  static constexpr std::pair<const char*, DataFormat> kNames[] = {
      {"auto", DataFormat::kAuto},
      {"movielens", DataFormat::kMovieLens},
      {"movielens-dat", DataFormat::kMovieLensDat},
      {"movielens-csv", DataFormat::kMovieLensCsv},
      {"sasrec", DataFormat::kSasrec},
      {"csv", DataFormat::kCsv},
  };
  for (const auto& [n, f] : kNames) {
    if (name == n) return f;
  }
  return absl::InvalidArgumentError(
      "format: unknown format '" + name +
      "' (expected auto, movielens, movielens-dat, movielens-csv, sasrec or csv)");
}

const char* DataFormatName(DataFormat format) {
  switch (format) {
    case DataFormat::kAuto:
      return "auto";
    case DataFormat::kMovieLens:
      return "movielens";
    case DataFormat::kMovieLensDat:
      return "movielens-dat";
    case DataFormat::kMovieLensCsv:
      return "movielens-csv";
    case DataFormat::kSasrec:
      return "sasrec";
    case DataFormat::kCsv:
      return "csv";
  }
  return "?";
}

absl::StatusOr<ResolvedFormat> ResolveFormat(const std::string& path, DataFormat requested,
                                             const CsvColumns& csv) {
  if (requested != DataFormat::kAuto) {
    ResolvedFormat r;
    r.format = requested;
    r.csv = csv;
    if (requested == DataFormat::kCsv) FEDREC_RETURN_IF_ERROR(CheckCsvColumns(path, csv));
    return r;
  }
  FEDREC_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return Detect(path, file.view());
}

absl::StatusOr<RawInteractions> ReadInteractions(const std::string& path,
                                                 const ResolvedFormat& format) {
  FEDREC_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  ResolvedFormat resolved = format;
  if (format.format == DataFormat::kAuto) {
    FEDREC_ASSIGN_OR_RETURN(resolved, Detect(path, file.view()));
  }
  return Parse(path, file.view(), resolved);
}

}  // namespace fedrec
