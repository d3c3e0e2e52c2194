#include "data/cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
    // memcpy from or to a null pointer is undefined even for 0 bytes (an
    // empty vector's data() may be null).
    if (n > 0) std::memcpy(v->data(), b_.data() + pos_, n * sizeof(T));
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

namespace {

// The payload as a list of byte ranges over `d` (no copies), so the cache
// can be hashed and then streamed to disk without building it in memory.
struct Payload {
  uint64_t key_size, sha_size, users, items, n;
  std::vector<std::string_view> pieces;
  uint64_t size = 0;
};

template <typename T>
std::string_view Bytes(const T* p, size_t count) {
  return {reinterpret_cast<const char*>(p), count * sizeof(T)};
}

// `p` points into itself and into `d` and `key`: it must not be copied.
void MakePayload(const Dataset& d, const std::string& key, Payload* p) {
  p->key_size = key.size();
  p->sha_size = d.source_sha256.size();
  p->users = d.user_ids.size();
  p->items = d.item_ids.size();
  p->n = d.items.size();
  p->pieces = {Bytes(&p->key_size, 1),
               std::string_view(key),
               Bytes(&p->sha_size, 1),
               std::string_view(d.source_sha256),
               Bytes(&p->users, 1),
               Bytes(&p->items, 1),
               Bytes(&p->n, 1),
               Bytes(d.user_ids.data(), d.user_ids.size()),
               Bytes(d.item_ids.data(), d.item_ids.size()),
               Bytes(d.offsets.data(), d.offsets.size()),
               Bytes(d.items.data(), d.items.size()),
               Bytes(d.timestamps.data(), d.timestamps.size()),
               Bytes(d.ratings.data(), d.ratings.size())};
  p->size = 0;
  for (std::string_view piece : p->pieces) p->size += piece.size();
}

std::string Header(const Payload& p) {
  Sha256 sha;
  for (std::string_view piece : p.pieces) sha.Update(piece.data(), piece.size());
  const Sha256Digest digest = sha.Finish();
  std::string out(kMagic, sizeof(kMagic));
  Put<uint32_t>(&out, kDatasetCacheVersion);
  Put<uint32_t>(&out, 0);
  Put<uint64_t>(&out, p.size);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

}  // namespace

std::string SerializeDatasetCache(const Dataset& d, const std::string& key) {
  Payload p;
  MakePayload(d, key, &p);
  std::string out = Header(p);
  out.reserve(out.size() + p.size);
  for (std::string_view piece : p.pieces) out.append(piece.data(), piece.size());
  return out;
}

absl::StatusOr<Dataset> DeserializeDatasetCache(std::string_view bytes, const std::string& key) {
  if (bytes.size() < kHeaderSize) return Corrupt("truncated header");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return Corrupt("bad magic");
  uint32_t version = 0, reserved = 0;
  uint64_t payload_size = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&reserved, bytes.data() + 12, 4);
  std::memcpy(&payload_size, bytes.data() + 16, 8);
  if (version != kDatasetCacheVersion) return Corrupt("version " + std::to_string(version));
  // The writer puts 0 there; a file that differs was not written by this
  // version (a later one that uses the field must change the version too).
  if (reserved != 0) return Corrupt("reserved field is not zero");
  if (payload_size != bytes.size() - kHeaderSize) return Corrupt("size mismatch");
  const std::string_view payload = bytes.substr(kHeaderSize);
  const Sha256Digest digest = Sha256Of(payload);
  if (std::memcmp(digest.data(), bytes.data() + 24, 32) != 0) return Corrupt("checksum mismatch");

  Reader r(payload);
  uint64_t key_size = 0, sha_size = 0, users = 0, items = 0, n = 0;
  std::string stored_key;
  if (!r.Get(&key_size) || !r.GetString(key_size, &stored_key)) return Corrupt("truncated key");
  if (stored_key != key) return Corrupt("key mismatch (stale)");
  Dataset d;
  if (!r.Get(&sha_size) || !r.GetString(sha_size, &d.source_sha256)) {
    return Corrupt("truncated source digest");
  }
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
  if (ec) {
    return absl::FailedPreconditionError(path + ": cannot create cache directory: " + ec.message());
  }
  // Hash first, then stream header and pieces: no in-memory copy.
  Payload p;
  MakePayload(data, key, &p);
  FEDREC_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Open(path));
  FEDREC_RETURN_IF_ERROR(writer.Append(Header(p)));
  for (std::string_view piece : p.pieces) FEDREC_RETURN_IF_ERROR(writer.Append(piece));
  return std::move(writer).Commit();
}

absl::StatusOr<Dataset> ReadDatasetCache(const std::string& path, const std::string& key) {
  // mmap rather than read: the arrays are copied once, straight into the
  // Dataset.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(path + ": cannot open cache");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
    ::close(fd);
    return Corrupt("not a regular non-empty file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return Corrupt("cannot map");
  ::madvise(p, size, MADV_SEQUENTIAL | MADV_WILLNEED);
  absl::StatusOr<Dataset> d =
      DeserializeDatasetCache(std::string_view(static_cast<const char*>(p), size), key);
  ::munmap(p, size);
  return d;
}

}  // namespace fedrec
