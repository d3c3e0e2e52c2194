#include "privacy/aes_urbg.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "core/csprng.h"

namespace fedrec::privacy {

void AesCtrUrbg::CtxFree::operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }

absl::StatusOr<AesCtrUrbg> AesCtrUrbg::FromKey(const uint8_t key[16]) {
  AesCtrUrbg g;
  g.ctx_.reset(EVP_CIPHER_CTX_new());
  if (g.ctx_ == nullptr) return absl::InternalError("privacy: aes urbg: EVP_CIPHER_CTX_new failed");
  // The counter starts at 0: every key is used for one stream only.
  const uint8_t iv[16] = {};
  if (EVP_EncryptInit_ex(g.ctx_.get(), EVP_aes_128_ctr(), nullptr, key, iv) != 1) {
    return absl::InternalError("privacy: aes urbg: EVP_EncryptInit_ex failed");
  }
  g.block_ = std::make_unique<std::array<uint64_t, kBlockWords>>();
  g.buffer_ = g.block_->data();
  g.next_ = kBlockWords;
  return g;
}

absl::StatusOr<AesCtrUrbg> AesCtrUrbg::Create() {
  uint8_t key[16];
  FEDREC_RETURN_IF_ERROR(SecureRandomBytes(std::span<uint8_t>(key, sizeof(key))));
  absl::StatusOr<AesCtrUrbg> g = FromKey(key);
  OPENSSL_cleanse(key, sizeof(key));
  return g;
}

absl::StatusOr<AesCtrUrbg> AesCtrUrbg::FromPinnedStream(const StreamKey& key) {
  RandomStream stream(key);
  uint64_t words[2] = {stream.NextU64(), stream.NextU64()};
  uint8_t bytes[16];
  std::memcpy(bytes, words, sizeof(bytes));
  return FromKey(bytes);
}

AesCtrUrbg::AesCtrUrbg(AesCtrUrbg&& other) noexcept
    : ctx_(std::move(other.ctx_)),
      block_(std::move(other.block_)),
      buffer_(other.buffer_),
      next_(other.next_) {
  other.buffer_ = nullptr;
  other.next_ = kBlockWords;
}

AesCtrUrbg& AesCtrUrbg::operator=(AesCtrUrbg&& other) noexcept {
  if (this != &other) {
    if (block_ != nullptr) OPENSSL_cleanse(block_->data(), sizeof(*block_));
    ctx_ = std::move(other.ctx_);
    block_ = std::move(other.block_);
    buffer_ = other.buffer_;
    next_ = other.next_;
    other.buffer_ = nullptr;
    other.next_ = kBlockWords;
  }
  return *this;
}

AesCtrUrbg::~AesCtrUrbg() {
  if (block_ != nullptr) OPENSSL_cleanse(block_->data(), sizeof(*block_));
}

void AesCtrUrbg::Refill() {
  if (ctx_ == nullptr) {
    std::fprintf(stderr, "fedrec: fatal: privacy: aes urbg used after move\n");
    std::abort();
  }
  // CTR: encrypting zeros yields the keystream, written over the used block
  // (from a shared zero block: no memset pass per refill).
  static const std::array<uint64_t, kBlockWords> kZeros{};
  auto* bytes = reinterpret_cast<unsigned char*>(buffer_);
  const int len = static_cast<int>(kBlockWords * sizeof(uint64_t));
  int out_len = 0;
  if (EVP_EncryptUpdate(ctx_.get(), bytes, &out_len,
                        reinterpret_cast<const unsigned char*>(kZeros.data()), len) != 1 ||
      out_len != len) {
    std::fprintf(stderr, "fedrec: fatal: privacy: aes urbg: EVP_EncryptUpdate failed\n");
    std::abort();
  }
  next_ = 0;
}

}  // namespace fedrec::privacy
