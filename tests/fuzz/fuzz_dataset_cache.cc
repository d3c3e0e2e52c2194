// Fuzz target: the binary dataset cache reader (data/cache.h
// DeserializeDatasetCache), and ReadDatasetCache on a file (bit 1).
//
// Input: byte 0 = mode. Bit 0 clear: the rest is a whole cache file. Bit 0
// set: the rest is a payload, which the target wraps in a valid header
// (magic, version, size, SHA-256) so the fuzzer gets past the checksum to
// the structural checks that guard the readers of a Dataset.
//
// Promises checked on an accepted file: the CSR structure is consistent
// (offsets from 0 to n, non-decreasing; items in range; parallel arrays of
// one length; ids fit 32 bits) and serializing the dataset again under the
// same key gives the same bytes.
#include <cstdint>
#include <cstring>
#include <string>

#include "core/sha256.h"
#include "data/cache.h"
#include "tests/fuzz/fuzz_common.h"

namespace fedrec {
namespace {

constexpr char kKey[] = "fuzz-key";

std::string WithHeader(std::string_view payload) {
  std::string out = "FEDRECDS";
  const uint32_t version = kDatasetCacheVersion, reserved = 0;
  const uint64_t n = payload.size();
  out.append(reinterpret_cast<const char*>(&version), 4);
  out.append(reinterpret_cast<const char*>(&reserved), 4);
  out.append(reinterpret_cast<const char*>(&n), 8);
  const Sha256Digest digest = Sha256Of(payload);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  out.append(payload);
  return out;
}

void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  Dataset d;
  d.user_ids = {7, 3};
  d.item_ids = {100, 200, 300};
  d.offsets = {0, 3, 5};
  d.items = {0, 1, 2, 1, 0};
  d.timestamps = {1, 2, 3, 4, 5};
  d.ratings = {1, 1, 4.5f, 1, 2};
  const std::string file = SerializeDatasetCache(d, kKey);
  emit("file", std::string(1, '\0') + file);
  emit("payload", std::string(1, '\1') + file.substr(56));
  emit("empty_dataset_payload",
       std::string(1, '\1') + SerializeDatasetCache({.offsets = {0}}, kKey).substr(56));
}

void CheckAccepted(std::string_view bytes, const Dataset& d) {
  const uint64_t n = d.num_interactions();
  FUZZ_CHECK(d.user_ids.size() <= 0xFFFFFFFFull && d.item_ids.size() <= 0xFFFFFFFFull,
             "dense ids fit 32 bits");
  FUZZ_CHECK(d.offsets.size() == d.user_ids.size() + 1, "one offset per user, plus one");
  FUZZ_CHECK(d.offsets.front() == 0 && d.offsets.back() == n, "offsets span the interactions");
  for (size_t u = 0; u + 1 < d.offsets.size(); ++u) {
    FUZZ_CHECK(d.offsets[u] <= d.offsets[u + 1], "offsets do not decrease");
  }
  FUZZ_CHECK(d.timestamps.size() == n && d.ratings.size() == n, "parallel arrays");
  for (uint32_t i : d.items) FUZZ_CHECK(i < d.num_items(), "items in range");
  FUZZ_CHECK(SerializeDatasetCache(d, kKey) == bytes, "serialize(deserialize(b)) == b");
}

}  // namespace
}  // namespace fedrec

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec;
  if (size < 1) return 0;
  const std::string_view rest = fuzz::AsView(data + 1, size - 1);
  const std::string bytes = (data[0] & 1) ? WithHeader(rest) : std::string(rest);
  absl::StatusOr<Dataset> d = DeserializeDatasetCache(bytes, kKey);
  if (data[0] & 2) {
    fuzz::MemFile file(bytes);
    absl::StatusOr<Dataset> read = ReadDatasetCache(file.path(), kKey);
    FUZZ_CHECK(read.ok() == d.ok(), "the file reader agrees with the byte reader");
  }
  if (d.ok()) CheckAccepted(bytes, *d);
  return 0;
}
