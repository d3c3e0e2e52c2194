#include "aggregation/shamir.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>

namespace fedrec::secagg::shamir {
namespace {

__extension__ typedef unsigned __int128 U128;

uint64_t Reduce128(U128 v) {
  // v < 2^122; v = hi * 2^61 + lo == hi + lo (mod p).
  uint64_t r = (static_cast<uint64_t>(v) & kPrime) + static_cast<uint64_t>(v >> 61);
  r = (r & kPrime) + (r >> 61);
  return r == kPrime ? 0 : r;
}

uint64_t RandomElement(const RandomWords& random) {
  // Rejection sampling: 61 random bits are uniform on [0, 2^61); drop p.
  for (;;) {
    const uint64_t v = random() & kPrime;
    if (v != kPrime) return v;
  }
}

}  // namespace

Share::Share(Share&& other) noexcept : x(other.x), y(std::move(other.y)) {
  other.Wipe();  // empty already when the buffer moved; wipes it if it did not
  other.y.clear();
}

Share& Share::operator=(Share&& other) noexcept {
  if (this != &other) {
    Wipe();
    x = other.x;
    y = std::move(other.y);
    other.Wipe();
    other.y.clear();
  }
  return *this;
}

void Share::Wipe() {
  if (!y.empty()) {
    secagg::Wipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(y.data()), y.size() * 8));
  }
}

uint64_t FieldMul(uint64_t a, uint64_t b) { return Reduce128(static_cast<U128>(a) * b); }
uint64_t FieldAdd(uint64_t a, uint64_t b) {
  uint64_t r = a + b;  // < 2^62
  return r >= kPrime ? r - kPrime : r;
}
uint64_t FieldSub(uint64_t a, uint64_t b) { return a >= b ? a - b : a + kPrime - b; }
uint64_t FieldInverse(uint64_t a) {
  // Fermat: a^(p-2).
  uint64_t result = 1, base = a, e = kPrime - 2;
  while (e > 0) {
    if (e & 1) result = FieldMul(result, base);
    base = FieldMul(base, base);
    e >>= 1;
  }
  return result;
}

absl::StatusOr<std::vector<Share>> Split(std::span<const uint8_t> secret, int threshold,
                                         std::span<const uint64_t> xs, const RandomWords& random) {
  if (secret.empty()) return InvalidInput("shamir", "empty secret");
  if (threshold < 1 || static_cast<size_t>(threshold) > xs.size()) {
    return InvalidInput("shamir", "threshold must be in [1, number of shares]");
  }
  std::unordered_set<uint64_t> seen;
  for (uint64_t x : xs) {
    if (x == 0 || x >= kPrime) return InvalidInput("shamir", "evaluation point must be in [1, p)");
    if (!seen.insert(x).second) return InvalidInput("shamir", "duplicate evaluation point");
  }
  const size_t chunks = ChunksFor(secret.size());
  const size_t t = static_cast<size_t>(threshold);
  std::vector<Share> shares(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    shares[i].x = xs[i];
    shares[i].y.assign(chunks, 0);
  }
  // coeffs[0] = secret chunk, coeffs[1..t-1] uniform. Wiped below.
  std::vector<uint64_t> coeffs(t);
  for (size_t c = 0; c < chunks; ++c) {
    uint64_t chunk = 0;
    const size_t begin = c * kChunkBytes;
    const size_t len = std::min(kChunkBytes, secret.size() - begin);
    for (size_t b = 0; b < len; ++b) chunk |= uint64_t{secret[begin + b]} << (8 * b);
    coeffs[0] = chunk;
    for (size_t k = 1; k < t; ++k) coeffs[k] = RandomElement(random);
    for (Share& s : shares) {
      // Horner: f(x) = (((a_{t-1} x + a_{t-2}) x + ...) x + a_0.
      uint64_t acc = coeffs[t - 1];
      for (size_t k = t - 1; k-- > 0;) acc = FieldAdd(FieldMul(acc, s.x), coeffs[k]);
      s.y[c] = acc;
    }
  }
  secagg::Wipe(std::span<uint8_t>(reinterpret_cast<uint8_t*>(coeffs.data()), coeffs.size() * 8));
  return shares;
}

absl::StatusOr<SecretBytes> Reconstruct(std::span<const Share> shares, int threshold,
                                        size_t secret_bytes) {
  if (threshold < 1) return InvalidInput("shamir", "threshold must be >= 1");
  if (secret_bytes == 0) return InvalidInput("shamir", "empty secret");
  const size_t t = static_cast<size_t>(threshold);
  if (shares.size() < t) {
    return InvalidInput(
        "shamir", "need " + std::to_string(t) + " shares, have " + std::to_string(shares.size()));
  }
  const size_t chunks = ChunksFor(secret_bytes);
  std::unordered_set<uint64_t> seen;
  for (size_t i = 0; i < t; ++i) {
    const Share& s = shares[i];
    if (s.x == 0 || s.x >= kPrime) return InvalidInput("shamir", "evaluation point not in [1, p)");
    if (!seen.insert(s.x).second) return InvalidInput("shamir", "duplicate evaluation point");
    if (s.y.size() != chunks) return InvalidInput("shamir", "share has the wrong number of chunks");
    for (uint64_t v : s.y) {
      if (v >= kPrime) return InvalidInput("shamir", "share value is not a field element");
    }
  }
  // Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i).
  std::vector<uint64_t> lambda(t);
  for (size_t i = 0; i < t; ++i) {
    uint64_t num = 1, den = 1;
    for (size_t j = 0; j < t; ++j) {
      if (j == i) continue;
      num = FieldMul(num, shares[j].x);
      den = FieldMul(den, FieldSub(shares[j].x, shares[i].x));
    }
    lambda[i] = FieldMul(num, FieldInverse(den));
  }
  SecretBytes secret(secret_bytes);
  for (size_t c = 0; c < chunks; ++c) {
    uint64_t acc = 0;
    for (size_t i = 0; i < t; ++i) acc = FieldAdd(acc, FieldMul(lambda[i], shares[i].y[c]));
    const size_t begin = c * kChunkBytes;
    const size_t len = std::min(kChunkBytes, secret_bytes - begin);
    if (len < 8 && (acc >> (8 * len)) != 0) {
      return absl::DataLossError("shamir: shares are inconsistent (chunk out of range)");
    }
    for (size_t b = 0; b < len; ++b)
      secret.data()[begin + b] = static_cast<uint8_t>(acc >> (8 * b));
    acc = 0;
  }
  return secret;
}

void AppendShareValues(const Share& share, std::string* out) {
  for (uint64_t v : share.y) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out->append(b, 8);
  }
}

absl::StatusOr<Share> ParseShareValues(uint64_t x, std::span<const uint8_t> bytes, size_t chunks) {
  if (bytes.size() != chunks * 8) return InvalidInput("shamir", "share has the wrong length");
  Share s;
  s.x = x;
  s.y.resize(chunks);
  for (size_t c = 0; c < chunks; ++c) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | bytes[c * 8 + static_cast<size_t>(i)];
    if (v >= kPrime) return InvalidInput("shamir", "share value is not a field element");
    s.y[c] = v;
  }
  return s;
}

}  // namespace fedrec::secagg::shamir
