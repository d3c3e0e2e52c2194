#include "data/cache.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/atomic_file.h"
#include "core/sha256.h"

namespace fedrec {
namespace {

constexpr char kMagic[8] = {'F', 'E', 'D', 'R', 'E', 'C', 'D', 'S'};
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 32;

template <typename T>
void Put(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}
template <typename T>
void PutArray(std::string* out, const std::vector<T>& v) {
  out->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Bounds-checked reader over the payload.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  template <typename T>
  bool Get(T* v) {
    if (b_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  template <typename T>
  bool GetArray(uint64_t n, std::vector<T>* v) {
    if (n > (b_.size() - pos_) / sizeof(T)) return false;
    v->resize(n);
    std::memcpy(v->data(), b_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return true;
  }
  bool GetString(uint64_t n, std::string* s) {
    if (n > b_.size() - pos_) return false;
    s->assign(b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == b_.size(); }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

absl::Status Corrupt(const std::string& why) {
  return absl::DataLossError("dataset cache: " + why);
}

}  // namespace

std::string DefaultCacheDir() {
  if (const char* d = std::getenv("FEDREC_CACHE_DIR"); d != nullptr && *d != '\0') return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d != nullptr && *d != '\0') {
    return std::string(d) + "/fedrec";
  }
  if (const char* d = std::getenv("HOME"); d != nullptr && *d != '\0') {
    return std::string(d) + "/.cache/fedrec";
  }
  return "";
}

std::string SerializeDatasetCache(const Dataset& d, const std::string& key) {
  std::string payload;
  payload.reserve(64 + key.size() + 8 * (d.user_ids.size() * 2 + d.item_ids.size()) +
                  16 * d.items.size());
  Put<uint64_t>(&payload, key.size());
  payload.append(key);
  Put<uint64_t>(&payload, d.user_ids.size());
  Put<uint64_t>(&payload, d.item_ids.size());
  Put<uint64_t>(&payload, d.items.size());
  PutArray(&payload, d.user_ids);
  PutArray(&payload, d.item_ids);
  PutArray(&payload, d.offsets);
  PutArray(&payload, d.items);
  PutArray(&payload, d.timestamps);
  PutArray(&payload, d.ratings);
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  out.append(kMagic, sizeof(kMagic));
  Put<uint32_t>(&out, kDatasetCacheVersion);
  Put<uint32_t>(&out, 0);
  Put<uint64_t>(&out, payload.size());
  const Sha256Digest digest = Sha256Of(payload);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  out.append(payload);
  return out;
}

absl::StatusOr<Dataset> DeserializeDatasetCache(std::string_view bytes, const std::string& key) {
  if (bytes.size() < kHeaderSize) return Corrupt("truncated header");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return Corrupt("bad magic");
  uint32_t version = 0;
  uint64_t payload_size = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&payload_size, bytes.data() + 16, 8);
  if (version != kDatasetCacheVersion) return Corrupt("version " + std::to_string(version));
  if (payload_size != bytes.size() - kHeaderSize) return Corrupt("size mismatch");
  const std::string_view payload = bytes.substr(kHeaderSize);
  const Sha256Digest digest = Sha256Of(payload);
  if (std::memcmp(digest.data(), bytes.data() + 24, 32) != 0) return Corrupt("checksum mismatch");

  Reader r(payload);
  uint64_t key_size = 0, users = 0, items = 0, n = 0;
  std::string stored_key;
  if (!r.Get(&key_size) || !r.GetString(key_size, &stored_key)) return Corrupt("truncated key");
  if (stored_key != key) return Corrupt("key mismatch (stale)");
  Dataset d;
  if (!r.Get(&users) || !r.Get(&items) || !r.Get(&n) || !r.GetArray(users, &d.user_ids) ||
      !r.GetArray(items, &d.item_ids) || !r.GetArray(users + 1, &d.offsets) ||
      !r.GetArray(n, &d.items) || !r.GetArray(n, &d.timestamps) || !r.GetArray(n, &d.ratings) ||
      !r.AtEnd()) {
    return Corrupt("truncated payload");
  }
  // Structural checks: the checksum guards against damage, these against a
  // writer bug producing a file that would make readers index out of range.
  if (users > 0xFFFFFFFFull || items > 0xFFFFFFFFull) return Corrupt("too many ids");
  if (d.offsets.front() != 0 || d.offsets.back() != n) return Corrupt("bad offsets");
  for (uint64_t u = 0; u < users; ++u) {
    if (d.offsets[u] > d.offsets[u + 1]) return Corrupt("bad offsets");
  }
  for (uint32_t i : d.items) {
    if (i >= items) return Corrupt("item out of range");
  }
  return d;
}

absl::Status WriteDatasetCache(const std::string& path, const Dataset& data,
                               const std::string& key) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec)
    return absl::FailedPreconditionError(path + ": cannot create cache directory: " + ec.message());
  return WriteFileAtomic(path, SerializeDatasetCache(data, key));
}

absl::StatusOr<Dataset> ReadDatasetCache(const std::string& path, const std::string& key) {
  FEDREC_ASSIGN_OR_RETURN(const std::string bytes, ReadFileToString(path));
  return DeserializeDatasetCache(bytes, key);
}

}  // namespace fedrec
