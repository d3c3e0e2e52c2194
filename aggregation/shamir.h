// Shamir t-out-of-n secret sharing (Shamir 1979) of byte strings over the
// prime field GF(p), p = 2^61 - 1 (a Mersenne prime: reduction is a shift and
// an add, products fit in 128 bits).
//
// A secret of L bytes is cut into ceil(L / 7) chunks of at most 7 bytes (56
// bits < 61 bits, so every chunk is a field element and reconstruction can
// check that a result fits back into its chunk). Each chunk c gets its own
// random polynomial f_c of degree t - 1 with f_c(0) = chunk c; the share for
// evaluation point x is (x, f_0(x), ..., f_{k-1}(x)). In secure aggregation
// the evaluation point of a participant is its roster index + 1 (never 0,
// which would reveal the secret).
//
// Guarantees (information-theoretic): any t shares with distinct x determine
// the secret; any t - 1 shares are uniformly distributed over GF(p)^(t-1) per
// chunk, independent of the secret, provided the coefficients are uniform.
// Callers pass the randomness: the protocol passes the OS CSPRNG
// (SecureUrbg); tests pass a seeded generator.
//
// Errors: InvalidArgument for bad parameters (t < 1, t > n, x = 0 or >= p,
// duplicate x, too few shares, ragged shares, values >= p); DataLoss when the
// reconstructed chunks do not fit the secret's layout (inconsistent shares).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "aggregation/crypto.h"
#include "core/status.h"

namespace fedrec::secagg::shamir {

inline constexpr uint64_t kPrime = (uint64_t{1} << 61) - 1;
inline constexpr size_t kChunkBytes = 7;

// Number of field elements per share of an `secret_bytes`-byte secret.
inline size_t ChunksFor(size_t secret_bytes) {
  return (secret_bytes + kChunkBytes - 1) / kChunkBytes;
}

// One share: the evaluation point and one field element per chunk.
//
// Owns: its values `y`, which are secret material. Guarantees: the values
// are wiped (OPENSSL_cleanse) on destruction, by Wipe(), and before being
// overwritten by a move assignment; after a move the moved-from share has
// no values. Move-only, like Secret32: Clone() is the explicit copy for the
// few places that need one. `x` is public (the holder's roster index + 1).
// Thread safety: none (a value).
struct Share {
  uint64_t x = 0;
  std::vector<uint64_t> y;

  Share() = default;
  Share(uint64_t x_, std::vector<uint64_t> y_) : x(x_), y(std::move(y_)) {}
  Share(const Share&) = delete;
  Share& operator=(const Share&) = delete;
  Share(Share&& other) noexcept;
  Share& operator=(Share&& other) noexcept;
  ~Share() { Wipe(); }

  // An explicit second copy of the share (wiped on its own destruction).
  Share Clone() const { return Share(x, y); }
  // Zeroes the values (keeps their number).
  void Wipe();
};

// Returns 64 uniformly random bits per call.
using RandomWords = std::function<uint64_t()>;

// Field arithmetic, exposed for tests.
uint64_t FieldMul(uint64_t a, uint64_t b);
uint64_t FieldAdd(uint64_t a, uint64_t b);
uint64_t FieldSub(uint64_t a, uint64_t b);
uint64_t FieldInverse(uint64_t a);  // a != 0

// Splits `secret` into one share per evaluation point in `xs` (distinct, in
// [1, p)) with reconstruction threshold t (1 <= t <= xs.size()).
absl::StatusOr<std::vector<Share>> Split(std::span<const uint8_t> secret, int threshold,
                                         std::span<const uint64_t> xs, const RandomWords& random);

// Reconstructs a `secret_bytes`-byte secret from at least `threshold` shares
// (the first `threshold` are used) by Lagrange interpolation at 0.
absl::StatusOr<SecretBytes> Reconstruct(std::span<const Share> shares, int threshold,
                                        size_t secret_bytes);

// Wire form of a share's values: 8 little-endian bytes per chunk (x is
// implicit: it is the holder's index).
void AppendShareValues(const Share& share, std::string* out);
// Parses `chunks` values; InvalidArgument if the bytes are short or a value
// is not a field element.
absl::StatusOr<Share> ParseShareValues(uint64_t x, std::span<const uint8_t> bytes, size_t chunks);

}  // namespace fedrec::secagg::shamir
