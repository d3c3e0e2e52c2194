// Binary cache of parsed + filtered datasets.
//
// File layout (little-endian, as written by the host; the cache is a local
// acceleration, never an exchange format):
//   "FEDRECDS"            8-byte magic
//   u32 version           kDatasetCacheVersion
//   u32 reserved          0
//   u64 payload_size
//   u8[32] sha256         SHA-256 of the payload
//   payload:
//     u64 key_size, key bytes        the cache key the file was written for
//     u64 sha_size, sha bytes        Dataset::source_sha256 (hex), so a hit
//                                    does not rehash the source
//     u64 users, items, interactions
//     u64 user_ids[users], u64 item_ids[items], u64 offsets[users+1]
//     u32 items[n], i64 timestamps[n], f32 ratings[n]
// A file is trusted only if the magic, version, sizes, checksum and key all
// match and the CSR structure is consistent; anything else is a miss and the
// caller rebuilds (and overwrites) it. Files are written atomically.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "data/dataset.h"

namespace fedrec {

inline constexpr uint32_t kDatasetCacheVersion = 2;

// $FEDREC_CACHE_DIR, else $XDG_CACHE_HOME/fedrec, else $HOME/.cache/fedrec;
// empty when none is set (no caching). Never the data's own directory.
std::string DefaultCacheDir();

// Serialized cache file for `data` under `key`, and its inverse. Deserialize
// returns DataLoss with the reason when the bytes are not a valid cache file
// for `key`.
std::string SerializeDatasetCache(const Dataset& data, const std::string& key);
absl::StatusOr<Dataset> DeserializeDatasetCache(std::string_view bytes, const std::string& key);

// File-level helpers: Write is atomic (core/atomic_file.h) and creates the
// directory; Read fails (NotFound / DataLoss) on a missing or untrusted file.
absl::Status WriteDatasetCache(const std::string& path, const Dataset& data,
                               const std::string& key);
absl::StatusOr<Dataset> ReadDatasetCache(const std::string& path, const std::string& key);

}  // namespace fedrec
