// Item text for the sentence encoder: one (original item id, UTF-8 text) per
// catalogue item, in file order.
//
// Formats:
//   movielens  ML-100K `u.item` (pipe-separated: id|title|release date|video
//              release date|IMDb URL|19 genre flags) or ML-1M `movies.dat`
//              (id::title::Genre|Genre). Text template:
//                "<title>. <genre>, <genre>, ..."
//              e.g. "Toy Story (1995). Animation, Children's, Comedy": the
//              title as the file writes it (with its year), then the genres
//              in the file's order; the "unknown" genre is left out, and a
//              title without genres is the text alone.
//   csv        `item_id,text` (or tab-separated): the delimiter is a tab for
//              .tsv/.tab, a comma for .csv, otherwise a tab if the first
//              line holds one, else a comma. Fields may be quoted ("a, b",
//              "" for a quote, newlines inside quotes). A first line whose
//              id is not an integer is a header.
//   auto       movielens for a file named u.item, *.item or movies.dat, or
//              whose first line has 24 pipe-separated fields; csv otherwise.
//
// Encoding: a file that is valid UTF-8 is read as UTF-8, any other as
// Latin-1 (the MovieLens files are Latin-1) and converted to UTF-8.
//
// Errors: InvalidArgument "<path>:<line>: <reason>" (a malformed line, a
// non-integer or duplicate id), "<path>: no items" for an empty file;
// NotFound for a missing file.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fedrec::content {

enum class ItemTextFormat { kAuto, kMovieLens, kCsv };

// "auto" | "movielens" | "csv"; InvalidArgument otherwise.
absl::StatusOr<ItemTextFormat> ParseItemTextFormat(const std::string& name);

struct ItemTexts {
  std::vector<int64_t> ids;
  std::vector<std::string> texts;  // UTF-8
};

absl::StatusOr<ItemTexts> ReadItemTexts(const std::string& path, ItemTextFormat format);
// As ReadItemTexts, from the file's bytes; `path` is used for messages and
// for the format and delimiter decisions that look at the name.
absl::StatusOr<ItemTexts> ParseItemTexts(std::string_view bytes, const std::string& path,
                                         ItemTextFormat format);

// Latin-1 bytes as UTF-8.
std::string Latin1ToUtf8(std::string_view bytes);

}  // namespace fedrec::content
