#include "core/csprng.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fedrec {
namespace {

std::string OpenSslErrorText() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

}  // namespace

absl::Status SecureRandomBytes(std::span<uint8_t> out) {
  // RAND_bytes takes an int length: feed large requests in pieces.
  size_t done = 0;
  while (done < out.size()) {
    const size_t chunk = std::min<size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      return absl::InternalError("csprng: RAND_bytes failed: " + OpenSslErrorText());
    }
    done += chunk;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SecureRandomU64() {
  uint64_t value = 0;
  FEDREC_RETURN_IF_ERROR(
      SecureRandomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&value), sizeof(value))));
  return value;
}

absl::StatusOr<SecureUrbg> SecureUrbg::Create() {
  SecureUrbg urbg;
  FEDREC_RETURN_IF_ERROR(SecureRandomBytes(
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(urbg.buffer_.data()), sizeof(urbg.buffer_))));
  urbg.next_ = 0;
  return urbg;
}

SecureUrbg::SecureUrbg(SecureUrbg&& other) noexcept : buffer_(other.buffer_), next_(other.next_) {
  OPENSSL_cleanse(other.buffer_.data(), sizeof(other.buffer_));
  other.next_ = kBufferWords;
}

SecureUrbg& SecureUrbg::operator=(SecureUrbg&& other) noexcept {
  if (this != &other) {
    buffer_ = other.buffer_;
    next_ = other.next_;
    OPENSSL_cleanse(other.buffer_.data(), sizeof(other.buffer_));
    other.next_ = kBufferWords;
  }
  return *this;
}

SecureUrbg::~SecureUrbg() { OPENSSL_cleanse(buffer_.data(), sizeof(buffer_)); }

void SecureUrbg::Refill() {
  absl::Status status = SecureRandomBytes(
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(buffer_.data()), sizeof(buffer_)));
  if (!status.ok()) {
    std::fprintf(stderr, "fedrec: fatal: %s\n", std::string(status.message()).c_str());
    std::abort();
  }
  next_ = 0;
}

SecureUrbg::result_type SecureUrbg::operator()() {
  if (next_ >= kBufferWords) Refill();
  const uint64_t value = buffer_[next_];
  buffer_[next_] = 0;  // consumed secret bits do not linger in memory
  ++next_;
  return value;
}

}  // namespace fedrec
