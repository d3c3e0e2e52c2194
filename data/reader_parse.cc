#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/progress.h"
#include "data/reader_internal.h"

namespace fedrec::reader_internal {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

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

}  // namespace

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
  // Progress in bytes, shown only when parsing takes more than a moment
  // (hundreds of MB); updated every 64Ki lines to stay off the hot path.
  ProgressReporter progress("read " + path, text.size(),
                            ProgressOptions{.delay = std::chrono::milliseconds(2000)});
  size_t reported = 0;
  while (cursor.Next(&line, &too_long)) {
    const uint64_t line_no = cursor.line_no();
    if ((line_no & 0xFFFF) == 0) {
      const size_t offset = static_cast<size_t>(line.data() - text.data());
      progress.Advance(offset - reported);
      reported = offset;
    }
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
  progress.Advance(text.size() - reported);
  progress.Finish();
  if (out.users.empty()) {
    return InvalidInput(path,
                        saw_header ? "file has a header but no interactions" : "file is empty");
  }
  return out;
}

}  // namespace fedrec::reader_internal
