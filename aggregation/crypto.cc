#include "aggregation/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "core/csprng.h"

namespace fedrec::secagg {
namespace {

// "call: OpenSSL reason" as InternalError; drains OpenSSL's error queue.
absl::Status OpensslError(const char* call) {
  std::string message = std::string("secagg: OpenSSL ") + call + " failed";
  unsigned long code = ERR_get_error();
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    message.append(": ").append(buf);
  }
  ERR_clear_error();
  return absl::InternalError(message);
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

absl::StatusOr<PkeyPtr> RawPrivate(int type, const Secret32& key) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(type, nullptr, key.data(), 32));
  if (!pkey) return OpensslError("EVP_PKEY_new_raw_private_key");
  return pkey;
}

absl::StatusOr<Bytes32> RawPublicOf(EVP_PKEY* pkey) {
  Bytes32 out{};
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &len) != 1 || len != out.size()) {
    return OpensslError("EVP_PKEY_get_raw_public_key");
  }
  return out;
}

absl::StatusOr<Secret32> RandomSecret32() {
  Secret32 s;
  FEDREC_RETURN_IF_ERROR(SecureRandomBytes(s.mutable_span()));
  return s;
}

}  // namespace

void Wipe(std::span<uint8_t> bytes) {
  if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
}

Secret32::Secret32(std::span<const uint8_t, 32> bytes) {
  std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}
Secret32::Secret32(Secret32&& other) noexcept : bytes_(other.bytes_) { other.Clear(); }
Secret32& Secret32::operator=(Secret32&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;  // overwrites every byte: nothing of the old value is left
    other.Clear();
  }
  return *this;
}
Secret32::~Secret32() { Clear(); }
void Secret32::Clear() { Wipe(bytes_); }
bool Secret32::operator==(const Secret32& other) const {
  return CRYPTO_memcmp(bytes_.data(), other.bytes_.data(), 32) == 0;
}

// ---------------------------------------------------------------- X25519

absl::StatusOr<X25519KeyPair> X25519Generate() {
  X25519KeyPair pair;
  FEDREC_ASSIGN_OR_RETURN(pair.private_key, RandomSecret32());
  FEDREC_ASSIGN_OR_RETURN(pair.public_key, X25519PublicFromPrivate(pair.private_key));
  return pair;
}

absl::StatusOr<Bytes32> X25519PublicFromPrivate(const Secret32& private_key) {
  FEDREC_ASSIGN_OR_RETURN(PkeyPtr pkey, RawPrivate(EVP_PKEY_X25519, private_key));
  return RawPublicOf(pkey.get());
}

absl::StatusOr<X25519Agreement> X25519Agreement::Create(const Secret32& private_key) {
  FEDREC_ASSIGN_OR_RETURN(PkeyPtr pkey, RawPrivate(EVP_PKEY_X25519, private_key));
  X25519Agreement a;
  a.pkey_ = pkey.release();
  return a;
}

X25519Agreement& X25519Agreement::operator=(X25519Agreement&& other) noexcept {
  std::swap(pkey_, other.pkey_);
  return *this;
}

X25519Agreement::~X25519Agreement() {
  if (pkey_ != nullptr) EVP_PKEY_free(pkey_);
}

absl::StatusOr<Secret32> X25519Agreement::Agree(const Bytes32& peer_public) const {
  PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), 32));
  if (!peer) return OpensslError("EVP_PKEY_new_raw_public_key");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(pkey_, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) return OpensslError("EVP_PKEY_derive_init");
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) {
    return OpensslError("EVP_PKEY_derive_set_peer");
  }
  Secret32 shared;
  size_t len = 32;
  if (EVP_PKEY_derive(ctx.get(), shared.mutable_span().data(), &len) != 1 || len != 32) {
    // OpenSSL refuses an all-zero result (a small-order peer point).
    ERR_clear_error();
    return absl::InvalidArgumentError("secagg: X25519 agreement with a small-order public key");
  }
  static const Bytes32 kZero{};
  if (CRYPTO_memcmp(shared.data(), kZero.data(), 32) == 0) {
    return absl::InvalidArgumentError("secagg: X25519 agreement with a small-order public key");
  }
  return shared;
}

absl::StatusOr<Secret32> X25519Agree(const Secret32& private_key, const Bytes32& peer_public) {
  FEDREC_ASSIGN_OR_RETURN(X25519Agreement a, X25519Agreement::Create(private_key));
  return a.Agree(peer_public);
}

// ---------------------------------------------------------------- HKDF

absl::Status HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                        std::span<const uint8_t> info, std::span<uint8_t> out) {
  if (out.empty() || out.size() > 255 * 32) {
    return absl::InvalidArgumentError("secagg: HKDF-SHA256 output must be 1..8160 bytes");
  }
  // Fetched once per process (a provider lookup per call costs more than the
  // derivation); EVP_KDF objects are immutable and shareable across threads.
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return OpensslError("EVP_KDF_fetch(HKDF)");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  if (ctx == nullptr) return OpensslError("EVP_KDF_CTX_new");
  // OSSL_PARAM takes non-const pointers; the KDF does not write through them.
  // An empty key/salt/info still needs a non-null pointer.
  static uint8_t kEmpty = 0;
  auto ptr = [](std::span<const uint8_t> s) {
    return s.empty() ? static_cast<void*>(&kEmpty) : const_cast<uint8_t*>(s.data());
  };
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ptr(ikm), ikm.size());
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, ptr(salt), salt.size());
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ptr(info), info.size());
  params[n] = OSSL_PARAM_construct_end();
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) return OpensslError("EVP_KDF_derive(HKDF)");
  return absl::OkStatus();
}

// ---------------------------------------------------------------- AES-CTR masks

absl::StatusOr<MaskExpander> MaskExpander::Create() {
  MaskExpander m;
  // Fetch once: an explicit fetch avoids a provider lookup per key.
  m.cipher_ = EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr);
  if (m.cipher_ == nullptr) return OpensslError("EVP_CIPHER_fetch(AES-128-CTR)");
  m.ctx_ = EVP_CIPHER_CTX_new();
  if (m.ctx_ == nullptr) return OpensslError("EVP_CIPHER_CTX_new");
  m.zeros_.assign(kBlockBytes, 0);
  m.scratch_.assign(kBlockBytes, 0);
  return m;
}

MaskExpander::MaskExpander(MaskExpander&& other) noexcept
    : cipher_(other.cipher_),
      ctx_(other.ctx_),
      zeros_(std::move(other.zeros_)),
      scratch_(std::move(other.scratch_)) {
  other.cipher_ = nullptr;
  other.ctx_ = nullptr;
}

MaskExpander& MaskExpander::operator=(MaskExpander&& other) noexcept {
  std::swap(cipher_, other.cipher_);
  std::swap(ctx_, other.ctx_);
  std::swap(zeros_, other.zeros_);
  std::swap(scratch_, other.scratch_);
  return *this;
}

MaskExpander::~MaskExpander() {
  Wipe(scratch_);
  if (ctx_ != nullptr) EVP_CIPHER_CTX_free(ctx_);  // cleanses the key schedule
  if (cipher_ != nullptr) EVP_CIPHER_free(cipher_);
}

absl::Status MaskExpander::Start(std::span<const uint8_t, 16> key,
                                 std::span<const uint8_t, 16> iv) {
  if (EVP_EncryptInit_ex2(ctx_, cipher_, key.data(), iv.data(), nullptr) != 1) {
    return OpensslError("EVP_EncryptInit_ex2(AES-128-CTR)");
  }
  return absl::OkStatus();
}

absl::Status MaskExpander::Keystream(uint8_t* out, size_t bytes) {
  // Keystream = CTR encryption of zeros; EVP_EncryptUpdate takes int lengths,
  // so go in blocks (kBlockBytes, cache resident).
  while (bytes > 0) {
    const size_t n = std::min(bytes, kBlockBytes);
    int written = 0;
    if (EVP_EncryptUpdate(ctx_, out, &written, zeros_.data(), static_cast<int>(n)) != 1 ||
        static_cast<size_t>(written) != n) {
      return OpensslError("EVP_EncryptUpdate(AES-128-CTR)");
    }
    out += n;
    bytes -= n;
  }
  return absl::OkStatus();
}

absl::Status MaskExpander::ExpandBytes(std::span<const uint8_t, 16> key,
                                       std::span<const uint8_t, 16> iv, std::span<uint8_t> out) {
  FEDREC_RETURN_IF_ERROR(Start(key, iv));
  return Keystream(out.data(), out.size());
}

template <typename Word>
absl::Status MaskExpander::ExpandInto(std::span<const uint8_t, 16> key,
                                      std::span<const uint8_t, 16> iv, std::span<Word> out) {
  static_assert(std::endian::native == std::endian::little, "mask words are little-endian");
  FEDREC_RETURN_IF_ERROR(Start(key, iv));
  return Keystream(reinterpret_cast<uint8_t*>(out.data()), out.size_bytes());
}

namespace {

// t[i] +=/-= word i of `keystream`. Keystream goes into the cache-resident
// scratch block, then this one pass combines it with the target; words are
// read with memcpy (plain loads, no aliasing questions) and the restrict
// qualifiers let the compiler vectorise the loop.
template <typename Word, bool kAdd>
void AddOrSubtract(Word* __restrict t, const uint8_t* __restrict keystream, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    Word w;
    std::memcpy(&w, keystream + i * sizeof(Word), sizeof(Word));
    if constexpr (kAdd) {
      t[i] += w;
    } else {
      t[i] -= w;
    }
  }
}

}  // namespace

template <typename Word, bool kAdd>
absl::Status MaskExpander::Combine(std::span<const uint8_t, 16> key,
                                   std::span<const uint8_t, 16> iv, std::span<Word> target) {
  static_assert(std::endian::native == std::endian::little, "mask words are little-endian");
  constexpr size_t kWordsPerBlock = kBlockBytes / sizeof(Word);
  FEDREC_RETURN_IF_ERROR(Start(key, iv));
  Word* t = target.data();
  size_t remaining = target.size();
  while (remaining > 0) {
    const size_t n = std::min(remaining, kWordsPerBlock);
    FEDREC_RETURN_IF_ERROR(Keystream(scratch_.data(), n * sizeof(Word)));
    AddOrSubtract<Word, kAdd>(t, scratch_.data(), n);
    t += n;
    remaining -= n;
  }
  Wipe(scratch_);
  return absl::OkStatus();
}

template <typename Word>
absl::Status MaskExpander::AddInto(std::span<const uint8_t, 16> key,
                                   std::span<const uint8_t, 16> iv, std::span<Word> target) {
  return Combine<Word, true>(key, iv, target);
}

template <typename Word>
absl::Status MaskExpander::SubtractInto(std::span<const uint8_t, 16> key,
                                        std::span<const uint8_t, 16> iv, std::span<Word> target) {
  return Combine<Word, false>(key, iv, target);
}

template <typename Word>
absl::Status MaskExpander::CombineMany(std::span<const Mask> masks, std::span<Word> target) {
  static_assert(std::endian::native == std::endian::little, "mask words are little-endian");
  constexpr size_t kWordsPerBlock = kBlockBytes / sizeof(Word);
  std::vector<CipherCtxPtr> ctxs;
  ctxs.reserve(masks.size());
  for (const Mask& m : masks) {
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return OpensslError("EVP_CIPHER_CTX_new");
    if (EVP_EncryptInit_ex2(ctx.get(), cipher_, m.seed, m.seed + 16, nullptr) != 1) {
      return OpensslError("EVP_EncryptInit_ex2(AES-128-CTR)");
    }
    ctxs.push_back(std::move(ctx));
  }
  for (size_t begin = 0; begin < target.size(); begin += kWordsPerBlock) {
    const size_t n = std::min(target.size() - begin, kWordsPerBlock);
    const int bytes = static_cast<int>(n * sizeof(Word));
    for (size_t k = 0; k < masks.size(); ++k) {
      int written = 0;
      if (EVP_EncryptUpdate(ctxs[k].get(), scratch_.data(), &written, zeros_.data(), bytes) != 1 ||
          written != bytes) {
        return OpensslError("EVP_EncryptUpdate(AES-128-CTR)");
      }
      if (masks[k].add) {
        AddOrSubtract<Word, true>(target.data() + begin, scratch_.data(), n);
      } else {
        AddOrSubtract<Word, false>(target.data() + begin, scratch_.data(), n);
      }
    }
  }
  Wipe(scratch_);
  return absl::OkStatus();  // contexts are freed (and cleansed) here
}

template absl::Status MaskExpander::CombineMany<uint32_t>(std::span<const Mask>,
                                                          std::span<uint32_t>);
template absl::Status MaskExpander::CombineMany<uint64_t>(std::span<const Mask>,
                                                          std::span<uint64_t>);

template absl::Status MaskExpander::ExpandInto<uint32_t>(std::span<const uint8_t, 16>,
                                                         std::span<const uint8_t, 16>,
                                                         std::span<uint32_t>);
template absl::Status MaskExpander::ExpandInto<uint64_t>(std::span<const uint8_t, 16>,
                                                         std::span<const uint8_t, 16>,
                                                         std::span<uint64_t>);
template absl::Status MaskExpander::AddInto<uint32_t>(std::span<const uint8_t, 16>,
                                                      std::span<const uint8_t, 16>,
                                                      std::span<uint32_t>);
template absl::Status MaskExpander::AddInto<uint64_t>(std::span<const uint8_t, 16>,
                                                      std::span<const uint8_t, 16>,
                                                      std::span<uint64_t>);
template absl::Status MaskExpander::SubtractInto<uint32_t>(std::span<const uint8_t, 16>,
                                                           std::span<const uint8_t, 16>,
                                                           std::span<uint32_t>);
template absl::Status MaskExpander::SubtractInto<uint64_t>(std::span<const uint8_t, 16>,
                                                           std::span<const uint8_t, 16>,
                                                           std::span<uint64_t>);

// ---------------------------------------------------------------- AES-GCM

namespace {

absl::StatusOr<const EVP_CIPHER*> GcmCipher(size_t key_size) {
  if (key_size == 16) return EVP_aes_128_gcm();
  if (key_size == 32) return EVP_aes_256_gcm();
  return absl::InvalidArgumentError("secagg: AES-GCM key must be 16 or 32 bytes");
}

}  // namespace

absl::StatusOr<std::string> AesGcmSealWithNonce(std::span<const uint8_t> key,
                                                std::span<const uint8_t, kGcmNonceBytes> nonce,
                                                std::span<const uint8_t> aad,
                                                std::span<const uint8_t> plaintext) {
  FEDREC_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, GcmCipher(key.size()));
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpensslError("EVP_CIPHER_CTX_new");
  // Default GCM IV length is 12 bytes.
  if (EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nonce.data()) != 1) {
    return OpensslError("EVP_EncryptInit_ex(GCM)");
  }
  int len = 0;
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return OpensslError("EVP_EncryptUpdate(GCM aad)");
  }
  std::string out(plaintext.size() + kGcmTagBytes, '\0');
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), o, &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) {
    return OpensslError("EVP_EncryptUpdate(GCM)");
  }
  if (EVP_EncryptFinal_ex(ctx.get(), o + plaintext.size(), &len) != 1) {
    return OpensslError("EVP_EncryptFinal_ex(GCM)");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagBytes, o + plaintext.size()) !=
      1) {
    return OpensslError("EVP_CTRL_GCM_GET_TAG");
  }
  return out;
}

absl::StatusOr<std::string> AesGcmSeal(std::span<const uint8_t> key, std::span<const uint8_t> aad,
                                       std::span<const uint8_t> plaintext) {
  std::array<uint8_t, kGcmNonceBytes> nonce{};
  FEDREC_RETURN_IF_ERROR(SecureRandomBytes(nonce));
  FEDREC_ASSIGN_OR_RETURN(std::string body, AesGcmSealWithNonce(key, nonce, aad, plaintext));
  std::string out(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  out += body;
  return out;
}

absl::StatusOr<SecretBytes> AesGcmOpenWithNonce(std::span<const uint8_t> key,
                                                std::span<const uint8_t, kGcmNonceBytes> nonce,
                                                std::span<const uint8_t> aad,
                                                std::span<const uint8_t> ciphertext_and_tag) {
  if (ciphertext_and_tag.size() < kGcmTagBytes) {
    return absl::InvalidArgumentError("secagg: AES-GCM ciphertext shorter than its tag");
  }
  FEDREC_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, GcmCipher(key.size()));
  const size_t ct_len = ciphertext_and_tag.size() - kGcmTagBytes;
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpensslError("EVP_CIPHER_CTX_new");
  if (EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nonce.data()) != 1) {
    return OpensslError("EVP_DecryptInit_ex(GCM)");
  }
  int len = 0;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return OpensslError("EVP_DecryptUpdate(GCM aad)");
  }
  SecretBytes plain(ct_len);
  if (ct_len > 0 && EVP_DecryptUpdate(ctx.get(), plain.data(), &len, ciphertext_and_tag.data(),
                                      static_cast<int>(ct_len)) != 1) {
    return OpensslError("EVP_DecryptUpdate(GCM)");
  }
  uint8_t tag[kGcmTagBytes];
  std::memcpy(tag, ciphertext_and_tag.data() + ct_len, kGcmTagBytes);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, tag) != 1) {
    return OpensslError("EVP_CTRL_GCM_SET_TAG");
  }
  uint8_t final_block[16];
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &len) != 1) {
    ERR_clear_error();
    return absl::PermissionDeniedError("secagg: AES-GCM authentication failed");
  }
  return plain;
}

absl::StatusOr<SecretBytes> AesGcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> aad,
                                       std::span<const uint8_t> sealed) {
  if (sealed.size() < kGcmNonceBytes + kGcmTagBytes) {
    return absl::InvalidArgumentError("secagg: AES-GCM message too short");
  }
  return AesGcmOpenWithNonce(key, sealed.first<kGcmNonceBytes>(), aad,
                             sealed.subspan(kGcmNonceBytes));
}

// ---------------------------------------------------------------- Ed25519

absl::StatusOr<Ed25519KeyPair> Ed25519Generate() {
  Ed25519KeyPair pair;
  FEDREC_ASSIGN_OR_RETURN(pair.private_key, RandomSecret32());
  FEDREC_ASSIGN_OR_RETURN(pair.public_key, Ed25519PublicFromPrivate(pair.private_key));
  return pair;
}

absl::StatusOr<Bytes32> Ed25519PublicFromPrivate(const Secret32& private_key) {
  FEDREC_ASSIGN_OR_RETURN(PkeyPtr pkey, RawPrivate(EVP_PKEY_ED25519, private_key));
  return RawPublicOf(pkey.get());
}

absl::StatusOr<Bytes64> Ed25519Sign(const Secret32& private_key, std::span<const uint8_t> message) {
  FEDREC_ASSIGN_OR_RETURN(PkeyPtr pkey, RawPrivate(EVP_PKEY_ED25519, private_key));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return OpensslError("EVP_DigestSignInit(Ed25519)");
  }
  Bytes64 sig{};
  size_t len = sig.size();
  static uint8_t kEmpty = 0;
  const uint8_t* m = message.empty() ? &kEmpty : message.data();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, m, message.size()) != 1 || len != sig.size()) {
    return OpensslError("EVP_DigestSign(Ed25519)");
  }
  return sig;
}

absl::Status Ed25519Verify(const Bytes32& public_key, std::span<const uint8_t> message,
                           const Bytes64& signature) {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), 32));
  if (!pkey) {
    ERR_clear_error();
    return absl::PermissionDeniedError("secagg: invalid Ed25519 public key");
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return OpensslError("EVP_DigestVerifyInit(Ed25519)");
  }
  static uint8_t kEmpty = 0;
  const uint8_t* m = message.empty() ? &kEmpty : message.data();
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), m, message.size()) != 1) {
    ERR_clear_error();
    return absl::PermissionDeniedError("secagg: Ed25519 signature does not verify");
  }
  return absl::OkStatus();
}

}  // namespace fedrec::secagg
