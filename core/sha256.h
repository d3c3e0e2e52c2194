// SHA-256 through OpenSSL's EVP interface (hardware SHA extensions when the
// CPU has them). Used for checkpoint digests, dataset fingerprints and cache
// checksums.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fedrec {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental hasher. Not thread-safe; one per task.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }
  Sha256Digest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Sha256Digest Sha256Of(std::string_view bytes);
// SHA-256 of a whole file's bytes, read in 1 MiB blocks (no mapping, so a
// file that shrinks while it is read is an error, not a crash). NotFound or
// FailedPrecondition naming the path and errno's reason.
absl::StatusOr<Sha256Digest> Sha256OfFile(const std::string& path);
std::string ToHex(const Sha256Digest& digest);

}  // namespace fedrec
