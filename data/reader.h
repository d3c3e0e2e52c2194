// Interaction-file readers: MovieLens (u.data, ratings.dat, ratings.csv),
// SASRec text and generic CSV/TSV.
//
// A reader turns a file into a RawInteractions list: one entry per data line,
// in file order, with users and items already mapped to dense "raw" ids
// (0..n-1 in order of first appearance over ALL lines) and the original ids
// kept in the tables. Filtering (data/filters.h) works on this list and
// re-densifies afterwards; LoadDataset (data/loader.h) is the one entry point
// most callers want.
//
// Input rules (every format):
//   - a UTF-8 byte-order mark at the start, CRLF line ends and blank lines
//     (whitespace only) anywhere are accepted;
//   - user and item ids are non-negative decimal integers that fit in uint64;
//   - a rating, when the format has one, is a finite number; absent -> 1.0;
//   - a timestamp, when the format has one, is an integer fitting in int64;
//     absent -> the 1-based line number, so file order is the time order;
//   - a line may not be longer than 1 MiB.
// Bad input is refused with InvalidArgument (NotFound for a missing file)
// and a message "<path>:<line>: <reason>" or "<path>: <reason>".
//
// Speed: the file is mmap'ed and parsed with hand-written digit loops and
// std::from_chars; no iostreams and no per-line allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fedrec {

enum class DataFormat {
  kAuto,          // detect from the file name and the first non-empty line
  kMovieLens,     // u.data: user \t item \t rating \t timestamp
  kMovieLensDat,  // ratings.dat: user::item::rating::timestamp
  kMovieLensCsv,  // ratings.csv: header userId,movieId,rating,timestamp
  kSasrec,        // "user item" per line, whitespace separated, file order = time
  kCsv,           // generic delimited text with a CsvColumns mapping
};

// "auto" | "movielens" | "movielens-dat" | "movielens-csv" | "sasrec" | "csv".
absl::StatusOr<DataFormat> ParseDataFormat(const std::string& name);
// The inverse of ParseDataFormat.
const char* DataFormatName(DataFormat format);

// Column mapping for DataFormat::kCsv. Column indices are 0-based; -1 means
// "absent" (only rating and timestamp may be absent). Every data line must
// have the same number of columns as the first line (header or data).
struct CsvColumns {
  char delimiter = ',';  // ' ' means "runs of spaces/tabs"
  bool has_header = true;
  int user = 0;
  int item = 1;
  int rating = -1;
  int timestamp = -1;

  bool operator==(const CsvColumns&) const = default;
};

// The parsed file, in line order. users[k]/items[k] index user_ids/item_ids.
struct RawInteractions {
  std::vector<uint64_t> user_ids;   // raw dense user -> original id
  std::vector<uint64_t> item_ids;   // raw dense item -> original id
  std::vector<uint32_t> users;      // per line
  std::vector<uint32_t> items;      // per line
  std::vector<int64_t> timestamps;  // per line (line number when absent)
  std::vector<float> ratings;       // per line (1.0 when absent)

  size_t size() const { return users.size(); }
};

// A format decision for one file: the concrete format and, for kCsv, the
// column mapping (auto detection fills it from the header names).
struct ResolvedFormat {
  DataFormat format = DataFormat::kCsv;
  CsvColumns csv;
};

// Decides the format of `path` when `requested` is kAuto (otherwise returns
// it unchanged, with `csv` for kCsv). Detection looks at the first non-empty
// line and the file name:
//   "a::b::c::d"                      -> movielens-dat
//   4 tab-separated integer columns   -> movielens (u.data)
//   header "userId,movieId,..."       -> movielens-csv
//   other header with user/item names -> csv, columns taken from the names
//                                        (user|user_id|userId, item|item_id|
//                                        itemId|movieId, rating, timestamp|time)
//   2 whitespace-separated integers   -> sasrec (also 2 tab-separated
//                                        integers in a ".txt" file)
//   2..4 comma-separated integers     -> csv user,item[,rating[,timestamp]]
absl::StatusOr<ResolvedFormat> ResolveFormat(const std::string& path, DataFormat requested,
                                             const CsvColumns& csv = {});

// Reads and parses a whole file (see the rules above).
absl::StatusOr<RawInteractions> ReadInteractions(const std::string& path,
                                                 const ResolvedFormat& format);

}  // namespace fedrec
