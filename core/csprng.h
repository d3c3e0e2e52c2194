// Secrets from the operating system's CSPRNG (OpenSSL RAND_bytes, which is
// seeded from getrandom(2) and reseeds itself).
//
// These functions are the ONLY source of randomness for secrets in fedrec:
// secure-aggregation keys and seeds, and differential-privacy noise (unless a
// run pins `privacy.noise_seed` for a reproducible experiment, which the run
// states loudly). Simulation randomness (cohort sampling, dropouts, rounding)
// uses the counter-based streams of core/random.h instead, which are
// reproducible and therefore NOT secret.
//
// Errors: RAND_bytes can fail only when the OS entropy source is unavailable;
// that is reported as absl::InternalError (never silently replaced by a weaker
// generator).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "core/status.h"

namespace fedrec {

// Fills `out` with cryptographically secure random bytes. Thread-safe.
absl::Status SecureRandomBytes(std::span<uint8_t> out);

// One uniformly random 64-bit word from the CSPRNG. Thread-safe.
absl::StatusOr<uint64_t> SecureRandomU64();

// A C++ UniformRandomBitGenerator over RAND_bytes, for use with <random>
// distributions and the DP noise samplers. It draws from the CSPRNG in
// blocks of kBufferWords words and wipes consumed words from its buffer.
//
// A CSPRNG failure inside operator() cannot be returned through the URBG
// interface, so it aborts the process with a message (a URBG that silently
// returned weak bits would be a privacy bug). Call SecureRandomBytes() first
// (e.g. via Create()) to surface a broken entropy source as a Status.
//
// Not thread-safe: use one per thread. Not copyable (copies would repeat
// secret bits); movable.
class SecureUrbg {
 public:
  using result_type = uint64_t;
  static constexpr size_t kBufferWords = 64;

  // Checks that the CSPRNG works and returns a generator.
  static absl::StatusOr<SecureUrbg> Create();

  SecureUrbg() = default;
  SecureUrbg(SecureUrbg&& other) noexcept;
  SecureUrbg& operator=(SecureUrbg&& other) noexcept;
  SecureUrbg(const SecureUrbg&) = delete;
  SecureUrbg& operator=(const SecureUrbg&) = delete;
  ~SecureUrbg();

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()();

 private:
  void Refill();

  std::array<uint64_t, kBufferWords> buffer_{};
  size_t next_ = kBufferWords;  // index of the next unused word
};

}  // namespace fedrec
