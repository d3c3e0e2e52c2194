// Fuzz target: the interaction-file readers (data/reader.h) through their
// parser on a buffer (data/reader_internal.h Parse), format detection, and
// (bit 7 of the first byte) the mmap'ed file path of ReadInteractions.
//
// Input: byte 0 = format (bits 0-2: auto, movielens, movielens-dat,
// movielens-csv, sasrec, csv; 6/7 = auto), file name for detection (bits
// 3-4), file API (bit 7); byte 1 = the csv column mapping; then the text.
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_set>

#include "data/reader.h"
#include "data/reader_internal.h"
#include "tests/fuzz/fuzz_common.h"

namespace fedrec {
namespace {

using reader_internal::Detect;
using reader_internal::Parse;

constexpr DataFormat kFormats[8] = {DataFormat::kAuto,         DataFormat::kMovieLens,
                                    DataFormat::kMovieLensDat, DataFormat::kMovieLensCsv,
                                    DataFormat::kSasrec,       DataFormat::kCsv,
                                    DataFormat::kAuto,         DataFormat::kAuto};
constexpr const char* kNames[4] = {"data.txt", "u.data", "ratings.dat", "ratings.csv"};

CsvColumns ColumnsFrom(uint8_t b) {
  static constexpr char kDelims[4] = {',', '\t', ' ', ';'};
  CsvColumns c;
  c.delimiter = kDelims[b & 3];
  c.has_header = (b & 4) != 0;
  c.rating = static_cast<int>((b >> 3) & 3) - 1;
  c.timestamp = static_cast<int>((b >> 5) & 3) - 1;
  if (b & 0x80) std::swap(c.user, c.item);
  return c;
}

// What an accepted file promises (data/reader.h).
void CheckAccepted(const RawInteractions& r, std::string_view text, const ResolvedFormat& f) {
  const size_t n = r.size();
  FUZZ_CHECK(r.items.size() == n && r.timestamps.size() == n && r.ratings.size() == n,
             "per-line vectors have one entry per line");
  size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  FUZZ_CHECK(n <= lines, "no more interactions than lines");
  // Dense ids in order of first appearance, every id used, originals distinct.
  size_t users_seen = 0, items_seen = 0;
  for (size_t k = 0; k < n; ++k) {
    FUZZ_CHECK(r.users[k] <= users_seen, "users numbered in order of first appearance");
    FUZZ_CHECK(r.items[k] <= items_seen, "items numbered in order of first appearance");
    users_seen += r.users[k] == users_seen ? 1 : 0;
    items_seen += r.items[k] == items_seen ? 1 : 0;
    FUZZ_CHECK(std::isfinite(r.ratings[k]), "ratings are finite");
  }
  FUZZ_CHECK(users_seen == r.user_ids.size(), "every user id is used");
  FUZZ_CHECK(items_seen == r.item_ids.size(), "every item id is used");
  FUZZ_CHECK(std::unordered_set<uint64_t>(r.user_ids.begin(), r.user_ids.end()).size() ==
                 r.user_ids.size(),
             "original user ids are distinct");
  FUZZ_CHECK(std::unordered_set<uint64_t>(r.item_ids.begin(), r.item_ids.end()).size() ==
                 r.item_ids.size(),
             "original item ids are distinct");
  const bool line_time =
      f.format == DataFormat::kSasrec || (f.format == DataFormat::kCsv && f.csv.timestamp < 0);
  if (line_time) {
    for (size_t k = 0; k < n; ++k) {
      FUZZ_CHECK(r.timestamps[k] >= 1 && static_cast<size_t>(r.timestamps[k]) <= lines,
                 "a missing timestamp is the line number");
      FUZZ_CHECK(k == 0 || r.timestamps[k] > r.timestamps[k - 1], "line numbers increase");
    }
  }
}

bool Same(const RawInteractions& a, const RawInteractions& b) {
  return a.user_ids == b.user_ids && a.item_ids == b.item_ids && a.users == b.users &&
         a.items == b.items && a.timestamps == b.timestamps && a.ratings == b.ratings;
}

void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  emit("movielens", std::string("\x01\x00", 2) + "1\t10\t5\t881250949\n2\t10\t3\t891717742\n");
  emit("movielens_dat", std::string("\x02\x00", 2) + "1::1193::5::978300760\r\n1::661::3::9\n");
  emit("movielens_csv", std::string("\x03\x00", 2) +
                            "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,9\n");
  emit("sasrec", std::string("\x04\x00", 2) + "1 1\n1 2\n2 1\n\n2 3\n");
  emit("csv", std::string("\x05\x0d", 2) + "user;item;rating\n7;8;1.5\n7;9;2\n");
  emit("auto_bom", std::string("\x00\x00", 2) + "\xEF\xBB\xBF" + "u,i\n1,2\n3,4\n");
  emit("auto_header", std::string("\x18\x00", 2) + "user_id\titem_id\ttime\n5\t6\t100\n");
  emit("file_sasrec", std::string("\x80\x00", 2) + "10\t20\n10\t21\n");
}

}  // namespace
}  // namespace fedrec

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec;
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const std::string_view text = fuzz::AsView(data + 2, size - 2);
  const std::string path = kNames[(mode >> 3) & 3];
  ResolvedFormat format;
  format.format = kFormats[mode & 7];
  if (format.format == DataFormat::kAuto) {
    absl::StatusOr<ResolvedFormat> detected = Detect(path, text);
    if (!detected.ok()) return 0;
    FUZZ_CHECK(detected->format != DataFormat::kAuto, "detection decides a format");
    if (detected->format == DataFormat::kCsv) {
      FUZZ_CHECK(reader_internal::CheckCsvColumns(path, detected->csv).ok(),
                 "a detected column mapping is valid");
    }
    format = *detected;
  } else if (format.format == DataFormat::kCsv) {
    format.csv = ColumnsFrom(data[1]);
    if (!reader_internal::CheckCsvColumns(path, format.csv).ok()) return 0;
  }
  absl::StatusOr<RawInteractions> parsed = Parse(path, text, format);
  if (mode & 0x80) {
    fuzz::MemFile file(text);
    absl::StatusOr<RawInteractions> read = ReadInteractions(file.path(), format);
    FUZZ_CHECK(read.ok() == parsed.ok(), "the file reader agrees with the parser");
    if (read.ok()) FUZZ_CHECK(Same(*read, *parsed), "the file reader gives the parser's result");
  }
  if (parsed.ok()) CheckAccepted(*parsed, text, format);
  return 0;
}
