// LoadDataset: the one entry point from a file on disk to a Dataset.
//
//   read (data/reader.h) -> filter (data/filters.h) -> dense remap + CSR
//
// with a binary cache in front (data/cache.h): the cache key covers the
// source's absolute path, size, mtime (ns) and inode, and every LoadOptions
// field that changes the result; a hit skips parsing entirely. A cache that
// cannot be read, is corrupt or stale is rebuilt silently; a cache that
// cannot be written (read-only dir) is skipped silently. The cache never
// lives next to the data.
//
// Dataset::source_sha256 is the SHA-256 of the file's bytes: computed on a
// miss (one more sequential read of the file, from the page cache right
// after parsing) and kept in the cache entry, so a hit does not rehash.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/item_features.h"
#include "data/reader.h"

namespace fedrec {

struct LoadOptions {
  DataFormat format = DataFormat::kAuto;
  CsvColumns csv;                   // used when format == kCsv
  uint32_t min_count = 0;           // SASRec one-pass minimum count (0: off)
  uint32_t kcore = 0;               // iterative k-core (0: off)
  bool dedupe_consecutive = false;  // drop A A -> A within a user's sequence
  std::string cache_dir;            // empty: DefaultCacheDir()
  bool use_cache = true;
  // Item content features to attach (Dataset::item_features) once the
  // items are known; not part of the cache key (read on every load).
  ItemFeatureSource item_features;
};

// What LoadDataset did, for logs and tests.
struct LoadInfo {
  bool cache_hit = false;
  std::string cache_path;         // empty when caching was off or impossible
  uint64_t raw_interactions = 0;  // lines parsed (0 on a cache hit)
  ResolvedFormat format;          // the format used (auto resolved), also on a hit
};

// Errors: NotFound (missing file), InvalidArgument "<path>[:<line>]: <reason>"
// for bad input (of the interactions or of the item features), and "<path>: no interactions left after filtering ..." when
// the filters remove everything.
// Sets the options a run's [data] section decides (format, min_count,
// kcore, dedupe_consecutive, item_features), leaving the CSV mapping and cache
// settings as they are. InvalidArgument for an unknown format.
absl::Status ApplyDataConfig(const DataConfig& data, LoadOptions* options);

// The generic CSV mapping from its command-line spelling (`--csv-columns`,
// `--csv-delimiter`, `--csv-no-header`; shared with the Python package):
// columns "user,item[,rating[,timestamp]]" as 0-based indices ('-' for an
// absent rating or timestamp), the delimiter one character or "tab"/"space".
// InvalidArgument "--csv-columns: ..." / "--csv-delimiter: ...".
absl::StatusOr<CsvColumns> ParseCsvColumns(const std::string& columns, const std::string& delimiter,
                                           bool has_header);

absl::StatusOr<Dataset> LoadDataset(const std::string& path, const LoadOptions& options,
                                    LoadInfo* info = nullptr);

// The cache key string and file for (path, options); empty when the source
// cannot be stat'ed or no cache directory is known.
std::string DatasetCacheKey(const std::string& path, const LoadOptions& options);
std::string DatasetCachePath(const std::string& key, const LoadOptions& options);

}  // namespace fedrec
