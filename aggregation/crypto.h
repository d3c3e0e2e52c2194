// Cryptographic primitives of secure aggregation, all over OpenSSL 3 EVP (no
// hand-written cryptography):
//
//   X25519      key agreement (RFC 7748) for the pairwise mask seeds and the
//               share-encryption keys.
//   HKDF-SHA256 (RFC 5869, EVP_KDF "HKDF") turns a raw X25519 secret into
//               keys bound to (purpose, round, ordered pair).
//   AES-128-CTR (NIST SP 800-38A) expands a 16-byte key into a mask: the
//               keystream read as little-endian uint32/uint64 words, i.e.
//               uniform in Z_(2^32) or Z_(2^64).
//   AES-GCM     (NIST SP 800-38D) authenticated encryption of Shamir shares
//               routed through the (untrusted) server.
//   Ed25519     (RFC 8032) signatures over advertised keys
//               (secagg.authenticate).
//
// Secrets: private keys, agreed secrets and derived keys are held in Secret32
// / SecretBytes, which are move-only and OPENSSL_cleanse their bytes on
// destruction and in the moved-from object, so a state that drops a secret
// also wipes it and no implicit copy is left behind. Fresh keys come from core/csprng.h (the
// OS CSPRNG), never from the simulation streams of core/random.h.
//
// Errors: an OpenSSL failure is absl::InternalError naming the call; a failed
// authentication (GCM tag, signature) is PermissionDenied; malformed input is
// InvalidArgument. Thread safety: free functions are thread-safe;
// MaskExpander is not (one per thread).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_cipher_st EVP_CIPHER;
typedef struct evp_pkey_st EVP_PKEY;

namespace fedrec::secagg {

using Bytes32 = std::array<uint8_t, 32>;
using Bytes64 = std::array<uint8_t, 64>;

// Overwrites `bytes` with zeros in a way the compiler cannot elide.
void Wipe(std::span<uint8_t> bytes);

// 32 secret bytes (a private key, a seed, an agreed secret), held inline.
//
// Owns: its 32 bytes, and no other copy of them. Guarantees: the bytes are
// wiped (OPENSSL_cleanse) on destruction, by Clear(), before being
// overwritten by a move assignment, and in the moved-from object of a move,
// which is left holding 32 zero bytes. Move-only: a copy would be a second
// place the key lives and must be wiped; where one is genuinely needed,
// Clone() says so at the call site. Thread safety: none (a value); const
// members may be called concurrently.
class Secret32 {
 public:
  Secret32() { bytes_.fill(0); }
  explicit Secret32(std::span<const uint8_t, 32> bytes);
  Secret32(const Secret32&) = delete;
  Secret32& operator=(const Secret32&) = delete;
  Secret32(Secret32&& other) noexcept;
  Secret32& operator=(Secret32&& other) noexcept;
  ~Secret32();

  // An explicit second copy of the secret (wiped on its own destruction).
  Secret32 Clone() const { return Secret32(span()); }
  // Sets the bytes to zero.
  void Clear();

  std::span<const uint8_t, 32> span() const { return bytes_; }
  std::span<uint8_t, 32> mutable_span() { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }
  // Constant time.
  bool operator==(const Secret32& other) const;

 private:
  Bytes32 bytes_;
};

// A variable-length secret byte string.
//
// Owns: one buffer from `Allocator` (std::allocator in SecretBytes; tests
// pass an allocator over memory they own to observe the wipe). Guarantees:
// the bytes are wiped (OPENSSL_cleanse) on destruction, on Clear(), and
// before being overwritten by a move assignment, so no buffer goes back to
// the allocator unwiped; after a move the moved-from object is empty. The
// size is fixed at construction (no growth, so no reallocation leaves an
// unwiped copy behind). Move-only, as Secret32; Clone() is the explicit copy.
// Thread safety: none (a value); const members may be called concurrently.
template <typename Allocator = std::allocator<uint8_t>>
class BasicSecretBytes {
 public:
  BasicSecretBytes() = default;
  explicit BasicSecretBytes(size_t size, const Allocator& allocator = Allocator())
      : bytes_(size, 0, allocator) {}
  BasicSecretBytes(const BasicSecretBytes&) = delete;
  BasicSecretBytes& operator=(const BasicSecretBytes&) = delete;
  BasicSecretBytes(BasicSecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
    other.Clear();  // empty already when the buffer moved; wipes it if it did not
  }
  BasicSecretBytes& operator=(BasicSecretBytes&& other) noexcept {
    if (this != &other) {
      Clear();
      bytes_ = std::move(other.bytes_);
      other.Clear();
    }
    return *this;
  }
  ~BasicSecretBytes() { Clear(); }

  // An explicit second copy of the secret (wiped on its own destruction).
  BasicSecretBytes Clone() const {
    BasicSecretBytes copy(size(), bytes_.get_allocator());
    std::copy(bytes_.begin(), bytes_.end(), copy.bytes_.begin());
    return copy;
  }
  // Wipes the bytes and leaves the string empty.
  void Clear() {
    Wipe(bytes_);
    bytes_.clear();
  }

  size_t size() const { return bytes_.size(); }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  std::span<uint8_t> span() { return bytes_; }
  std::span<const uint8_t> span() const { return bytes_; }

 private:
  std::vector<uint8_t, Allocator> bytes_;
};
using SecretBytes = BasicSecretBytes<>;

// ---------------------------------------------------------------- X25519

// Move-only, as its private key.
struct X25519KeyPair {
  Secret32 private_key;  // the raw scalar (clamped by X25519 itself)
  Bytes32 public_key;
};

// A fresh key pair from the OS CSPRNG.
absl::StatusOr<X25519KeyPair> X25519Generate();
// The public key of a raw private key.
absl::StatusOr<Bytes32> X25519PublicFromPrivate(const Secret32& private_key);
// X25519(private_key, peer_public): the raw shared secret. Refuses a peer key
// of small order (all-zero output, RFC 7748 section 6.1) with InvalidArgument.
absl::StatusOr<Secret32> X25519Agree(const Secret32& private_key, const Bytes32& peer_public);

// A private key loaded once for many agreements (loading a raw X25519
// private key costs a scalar multiplication: OpenSSL derives the public key).
// Move-only; OpenSSL cleanses the key when it is freed.
class X25519Agreement {
 public:
  static absl::StatusOr<X25519Agreement> Create(const Secret32& private_key);
  X25519Agreement(X25519Agreement&& other) noexcept : pkey_(other.pkey_) { other.pkey_ = nullptr; }
  X25519Agreement& operator=(X25519Agreement&& other) noexcept;
  X25519Agreement(const X25519Agreement&) = delete;
  X25519Agreement& operator=(const X25519Agreement&) = delete;
  ~X25519Agreement();
  // As X25519Agree.
  absl::StatusOr<Secret32> Agree(const Bytes32& peer_public) const;

 private:
  X25519Agreement() = default;
  EVP_PKEY* pkey_ = nullptr;
};

// ---------------------------------------------------------------- HKDF

// HKDF-SHA256 (RFC 5869) extract-and-expand into `out` (1 to 8160 bytes).
absl::Status HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                        std::span<const uint8_t> info, std::span<uint8_t> out);

// ---------------------------------------------------------------- AES-CTR masks

// Expands AES-128-CTR keystreams (key 16 bytes, initial counter block 16
// bytes, big-endian 128-bit counter increment as in SP 800-38A) into words.
// Word i of a mask is keystream bytes [i*W, (i+1)*W) read little-endian, so a
// mask of n words is the same whether expanded as bytes or as words, on any
// number of calls, and is uniform in Z_(2^(8W)) when the key is.
//
// Speed: keystream is produced in blocks of kBlockBytes straight into the
// output (ExpandInto) or into a cache-resident scratch block that is then
// added to / subtracted from the target (AddInto / SubtractInto), so the cost
// is AES-NI throughput plus one pass over the target.
//
// Not thread-safe; reusable: each Expand/Add/Subtract call restarts from the
// given key and counter block.
class MaskExpander {
 public:
  static constexpr size_t kBlockBytes = 16 * 1024;

  static absl::StatusOr<MaskExpander> Create();
  MaskExpander(MaskExpander&& other) noexcept;
  MaskExpander& operator=(MaskExpander&& other) noexcept;
  MaskExpander(const MaskExpander&) = delete;
  MaskExpander& operator=(const MaskExpander&) = delete;
  ~MaskExpander();

  // out = keystream bytes.
  absl::Status ExpandBytes(std::span<const uint8_t, 16> key, std::span<const uint8_t, 16> iv,
                           std::span<uint8_t> out);
  // out[i] = word i of the keystream.
  template <typename Word>
  absl::Status ExpandInto(std::span<const uint8_t, 16> key, std::span<const uint8_t, 16> iv,
                          std::span<Word> out);
  // target[i] += word i of the keystream (mod 2^(8W)).
  template <typename Word>
  absl::Status AddInto(std::span<const uint8_t, 16> key, std::span<const uint8_t, 16> iv,
                       std::span<Word> target);
  // target[i] -= word i of the keystream (mod 2^(8W)).
  template <typename Word>
  absl::Status SubtractInto(std::span<const uint8_t, 16> key, std::span<const uint8_t, 16> iv,
                            std::span<Word> target);

  // One mask of a batch: 32 bytes (AES-128 key || initial counter block) and
  // its sign. `seed` must stay valid during the call.
  struct Mask {
    const uint8_t* seed = nullptr;
    bool add = true;
  };
  // target += / -= every mask, the same result as AddInto/SubtractInto per
  // mask, but blocked: for each kBlockBytes block of the target, every mask's
  // keystream continues into the scratch block and is combined while the
  // target block stays in L1. Costs AES throughput per mask and one pass over
  // the target in all, instead of one pass over the target per mask (which is
  // memory-bound once the target leaves L2). Keeps one cipher context per
  // mask for the duration of the call.
  template <typename Word>
  absl::Status CombineMany(std::span<const Mask> masks, std::span<Word> target);

 private:
  MaskExpander() = default;
  absl::Status Start(std::span<const uint8_t, 16> key, std::span<const uint8_t, 16> iv);
  absl::Status Keystream(uint8_t* out, size_t bytes);  // continues the stream
  template <typename Word, bool kAdd>
  absl::Status Combine(std::span<const uint8_t, 16> key, std::span<const uint8_t, 16> iv,
                       std::span<Word> target);

  EVP_CIPHER* cipher_ = nullptr;
  EVP_CIPHER_CTX* ctx_ = nullptr;
  std::vector<uint8_t> zeros_;    // kBlockBytes of zero plaintext
  std::vector<uint8_t> scratch_;  // kBlockBytes of keystream (wiped after use)
};

// ---------------------------------------------------------------- AES-GCM

inline constexpr size_t kGcmNonceBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

// AES-GCM with an explicit 12-byte nonce (key 16 or 32 bytes: AES-128 or
// AES-256). Returns ciphertext || tag. For known-answer tests; the protocol
// uses AesGcmSeal, which draws the nonce.
absl::StatusOr<std::string> AesGcmSealWithNonce(std::span<const uint8_t> key,
                                                std::span<const uint8_t, kGcmNonceBytes> nonce,
                                                std::span<const uint8_t> aad,
                                                std::span<const uint8_t> plaintext);
// nonce (12 random bytes from the CSPRNG) || ciphertext || tag.
absl::StatusOr<std::string> AesGcmSeal(std::span<const uint8_t> key, std::span<const uint8_t> aad,
                                       std::span<const uint8_t> plaintext);
// Inverse of AesGcmSeal. PermissionDenied if the tag does not verify (wrong
// key, altered ciphertext or aad); InvalidArgument if too short.
absl::StatusOr<SecretBytes> AesGcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> aad,
                                       std::span<const uint8_t> sealed);
// Inverse of AesGcmSealWithNonce (ciphertext || tag).
absl::StatusOr<SecretBytes> AesGcmOpenWithNonce(std::span<const uint8_t> key,
                                                std::span<const uint8_t, kGcmNonceBytes> nonce,
                                                std::span<const uint8_t> aad,
                                                std::span<const uint8_t> ciphertext_and_tag);

// ---------------------------------------------------------------- Ed25519

// Move-only, as its private key.
struct Ed25519KeyPair {
  Secret32 private_key;  // the RFC 8032 32-byte seed
  Bytes32 public_key;

  // An explicit second copy (for a holder that outlives the caller's).
  Ed25519KeyPair Clone() const { return {private_key.Clone(), public_key}; }
};

absl::StatusOr<Ed25519KeyPair> Ed25519Generate();
absl::StatusOr<Bytes32> Ed25519PublicFromPrivate(const Secret32& private_key);
absl::StatusOr<Bytes64> Ed25519Sign(const Secret32& private_key, std::span<const uint8_t> message);
// OkStatus if `signature` is a valid signature of `message` under
// `public_key`; PermissionDenied otherwise.
absl::Status Ed25519Verify(const Bytes32& public_key, std::span<const uint8_t> message,
                           const Bytes64& signature);

// Helpers for byte views of strings.
inline std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace fedrec::secagg
