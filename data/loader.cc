#include "data/loader.h"

#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <system_error>

#include "core/sha256.h"
#include "data/cache.h"
#include "data/filters.h"

namespace fedrec {

std::string DatasetCacheKey(const std::string& path, const LoadOptions& o) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::weakly_canonical(path, ec);
  if (ec) abs = std::filesystem::absolute(path, ec);
  const int64_t mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  std::string key = "fedrec-dataset v" + std::to_string(kDatasetCacheVersion);
  key += "|path=" + abs.string();
  key += "|size=" + std::to_string(st.st_size);
  key += "|mtime_ns=" + std::to_string(mtime_ns);
  key += "|inode=" + std::to_string(st.st_ino);
  key += "|format=" + std::string(DataFormatName(o.format));
  if (o.format == DataFormat::kCsv) {
    key += "|csv=" + std::to_string(static_cast<int>(o.csv.delimiter)) + "," +
           std::to_string(o.csv.has_header) + "," + std::to_string(o.csv.user) + "," +
           std::to_string(o.csv.item) + "," + std::to_string(o.csv.rating) + "," +
           std::to_string(o.csv.timestamp);
  }
  key += "|min_count=" + std::to_string(o.min_count);
  key += "|kcore=" + std::to_string(o.kcore);
  key += "|dedupe=" + std::to_string(o.dedupe_consecutive);
  return key;
}

std::string DatasetCachePath(const std::string& key, const LoadOptions& o) {
  const std::string dir = o.cache_dir.empty() ? DefaultCacheDir() : o.cache_dir;
  if (dir.empty() || key.empty()) return "";
  return dir + "/dataset-" + ToHex(Sha256Of(key)).substr(0, 32) + ".bin";
}

namespace {

absl::StatusOr<Dataset> LoadInteractions(const std::string& path, const LoadOptions& options,
                                         LoadInfo* info) {
  LoadInfo local;
  LoadInfo& li = info != nullptr ? *info : local;
  li = LoadInfo{};
  std::string key, cache_path;
  if (options.use_cache) {
    key = DatasetCacheKey(path, options);
    cache_path = DatasetCachePath(key, options);
    li.cache_path = cache_path;
    if (!cache_path.empty()) {
      absl::StatusOr<Dataset> cached = ReadDatasetCache(cache_path, key);
      if (cached.ok()) {
        li.cache_hit = true;
        // Cheap (first line only) and keeps LoadInfo the same on a hit.
        absl::StatusOr<ResolvedFormat> format = ResolveFormat(path, options.format, options.csv);
        if (format.ok()) li.format = *format;
        return cached;
      }
    }
  }
  FEDREC_ASSIGN_OR_RETURN(const ResolvedFormat format,
                          ResolveFormat(path, options.format, options.csv));
  FEDREC_ASSIGN_OR_RETURN(const RawInteractions raw, ReadInteractions(path, format));
  // Read right after parsing (from the page cache); if the file changed in
  // between, the cache key check below keeps the pair out of the cache.
  FEDREC_ASSIGN_OR_RETURN(const Sha256Digest source_digest, Sha256OfFile(path));
  li.raw_interactions = raw.size();
  li.format = format;
  FilterOptions filters;
  filters.min_count = options.min_count;
  filters.kcore = options.kcore;
  filters.dedupe_consecutive = options.dedupe_consecutive;
  const KeepMask keep = ApplyFilters(raw, filters);
  Dataset data = BuildDataset(raw, keep);
  data.source_sha256 = ToHex(source_digest);
  if (data.num_interactions() == 0) {
    return InvalidInput(path, "no interactions left after filtering (min_count=" +
                                  std::to_string(options.min_count) +
                                  ", kcore=" + std::to_string(options.kcore) + ")");
  }
  // Write only if the source did not change while we parsed it (else the
  // cache would pair new metadata with old content).
  if (!cache_path.empty() && DatasetCacheKey(path, options) == key) {
    // Best effort: a cache that cannot be written only costs the next load.
    if (!WriteDatasetCache(cache_path, data, key).ok()) li.cache_path.clear();
  }
  return data;
}

}  // namespace

absl::StatusOr<Dataset> LoadDataset(const std::string& path, const LoadOptions& options,
                                    LoadInfo* info) {
  FEDREC_ASSIGN_OR_RETURN(Dataset data, LoadInteractions(path, options, info));
  if (!options.item_features.path.empty()) {
    FEDREC_ASSIGN_OR_RETURN(data.item_features,
                            LoadItemFeatures(options.item_features, data.item_ids));
  }
  return data;
}

}  // namespace fedrec

namespace fedrec {

absl::Status ApplyDataConfig(const DataConfig& data, LoadOptions* options) {
  FEDREC_ASSIGN_OR_RETURN(options->format, ParseDataFormat(data.format));
  options->min_count = static_cast<uint32_t>(data.min_count);
  options->kcore = static_cast<uint32_t>(data.kcore);
  options->dedupe_consecutive = data.dedupe_consecutive;
  options->item_features = {data.item_features, data.item_features_ids};
  return absl::OkStatus();
}

namespace {

absl::StatusOr<int> ParseColumnIndex(const std::string& text, bool optional) {
  if (optional && text == "-") return -1;
  int value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > 4096) {
    return absl::InvalidArgumentError("--csv-columns: '" + text +
                                      "' is not a column index (0-based)" +
                                      (optional ? " or '-'" : ""));
  }
  return value;
}

}  // namespace

absl::StatusOr<CsvColumns> ParseCsvColumns(const std::string& columns, const std::string& delimiter,
                                           bool has_header) {
  CsvColumns csv;
  csv.has_header = has_header;
  if (delimiter == "tab" || delimiter == "\\t") {
    csv.delimiter = '\t';
  } else if (delimiter == "space") {
    csv.delimiter = ' ';
  } else if (delimiter.size() == 1) {
    csv.delimiter = delimiter[0];
  } else {
    return absl::InvalidArgumentError("--csv-delimiter: '" + delimiter +
                                      "' is not one character, 'tab' or 'space'");
  }
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t comma = columns.find(',', start);
    parts.push_back(columns.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (parts.size() < 2 || parts.size() > 4) {
    return absl::InvalidArgumentError(
        "--csv-columns: expected user,item[,rating[,timestamp]], got '" + columns + "'");
  }
  FEDREC_ASSIGN_OR_RETURN(csv.user, ParseColumnIndex(parts[0], false));
  FEDREC_ASSIGN_OR_RETURN(csv.item, ParseColumnIndex(parts[1], false));
  if (parts.size() > 2) {
    FEDREC_ASSIGN_OR_RETURN(csv.rating, ParseColumnIndex(parts[2], true));
  }
  if (parts.size() > 3) {
    FEDREC_ASSIGN_OR_RETURN(csv.timestamp, ParseColumnIndex(parts[3], true));
  }
  return csv;
}

}  // namespace fedrec
