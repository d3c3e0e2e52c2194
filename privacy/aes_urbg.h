// AesCtrUrbg: a fast 64-bit URBG for differential-privacy noise, the AES-128
// keystream in counter mode (OpenSSL EVP, AES-NI where the CPU has it),
// generated kBlockWords words at a time.
//
// Why not SecureUrbg (core/csprng.h) directly: RAND_bytes costs a lock and a
// DRBG call per 512 bytes, which caps the DDG client path far below memory
// speed. Here one 16-byte key from the OS CSPRNG (Create) is expanded by
// AES-CTR, the standard construction of a CSPRNG from a block cipher (NIST SP
// 800-90A's CTR_DRBG without reseeding): distinguishing the stream from
// uniform bits is as hard as distinguishing AES from a random permutation,
// and a stream of 2^k blocks under one key is within 2^(2k-129) of uniform
// (the PRP/PRF switching bound), negligible for any run (k < 50).
//
// Pinned mode (FromPinnedStream): the key is two words of a Philox stream
// (core/random.h), i.e. a pure function of privacy.noise_seed, so a run with
// a pinned noise seed is reproducible and NOT private; only the flagged
// pinned-seed code paths may use it.
//
// Secrets: the key lives only inside the OpenSSL context (freed with
// EVP_CIPHER_CTX_free, which cleanses it) and the temporary used to load it
// (wiped). Words already returned stay in the buffer until the next refill
// overwrites the block (at most kBlockWords words, 8 KiB), and the buffer is
// wiped on destruction. Not thread-safe: one per thread. Move-only.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

#include "core/random.h"
#include "core/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace fedrec::privacy {

class AesCtrUrbg {
 public:
  using result_type = uint64_t;
  static constexpr size_t kBlockWords = 1024;  // 8 KiB of keystream per refill

  // A fresh key from the OS CSPRNG. InternalError if it or OpenSSL fails.
  static absl::StatusOr<AesCtrUrbg> Create();
  // The key from the Philox stream `key` (pinned experiments and tests only).
  static absl::StatusOr<AesCtrUrbg> FromPinnedStream(const StreamKey& key);

  AesCtrUrbg(AesCtrUrbg&& other) noexcept;
  AesCtrUrbg& operator=(AesCtrUrbg&& other) noexcept;
  AesCtrUrbg(const AesCtrUrbg&) = delete;
  AesCtrUrbg& operator=(const AesCtrUrbg&) = delete;
  ~AesCtrUrbg();

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() {
    if (next_ >= kBlockWords) [[unlikely]]
      Refill();
    return buffer_[next_++];
  }
  // out[0..n) = the next n words: the same words in the same order as n
  // calls of operator(), copied from the keystream block.
  void Fill(uint64_t* out, size_t n) {
    while (n > 0) {
      if (next_ >= kBlockWords) Refill();
      const size_t take = std::min(n, kBlockWords - next_);
      std::copy_n(buffer_ + next_, take, out);
      next_ += take;
      out += take;
      n -= take;
    }
  }

 private:
  AesCtrUrbg() = default;
  static absl::StatusOr<AesCtrUrbg> FromKey(const uint8_t key[16]);
  // Aborts on an OpenSSL failure: a URBG cannot return a Status, and
  // silently weak bits would be a privacy bug (as SecureUrbg).
  void Refill();

  struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const;
  };
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx_;
  std::unique_ptr<std::array<uint64_t, kBlockWords>> block_;
  uint64_t* buffer_ = nullptr;  // block_->data()
  size_t next_ = kBlockWords;
};

}  // namespace fedrec::privacy
