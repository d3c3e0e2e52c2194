// Known-answer tests of the secure-aggregation primitives against the
// published vectors: RFC 7748 (X25519), RFC 5869 (HKDF-SHA256), NIST SP
// 800-38A F.5.1 (AES-128-CTR), McGrew-Viega GCM spec test cases 2-4 (also in
// NIST's GCM validation), RFC 8032 section 7.1 test 1 (Ed25519).
#include "aggregation/crypto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "tests/testing/hex.h"

namespace fedrec::secagg {
namespace {

using ::fedrec::testing::FromHex;
using ::fedrec::testing::ToHex;

Secret32 SecretFromHex(const std::string& hex) {
  std::vector<uint8_t> b = FromHex(hex);
  return Secret32(std::span<const uint8_t, 32>(b.data(), 32));
}
Bytes32 B32(const std::string& hex) {
  std::vector<uint8_t> b = FromHex(hex);
  Bytes32 out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

// RFC 7748 section 5.2: the two scalar/u-coordinate pairs.
TEST(X25519Test, Rfc7748Vectors) {
  struct V {
    const char* scalar;
    const char* u;
    const char* out;
  };
  const V vectors[] = {
      {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
       "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
       "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
      {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
       "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
       "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
  };
  for (const V& v : vectors) {
    absl::StatusOr<Secret32> out = X25519Agree(SecretFromHex(v.scalar), B32(v.u));
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(ToHex(out->span()), v.out);
  }
}

// RFC 7748 section 5.2, the iterated test: k = u = 9; repeat
// (k, u) <- (X25519(k, u), k).
TEST(X25519Test, Rfc7748Iterated) {
  Bytes32 k{};
  k[0] = 9;
  Bytes32 u = k;
  for (int i = 1; i <= 1000; ++i) {
    absl::StatusOr<Secret32> r = X25519Agree(Secret32(std::span<const uint8_t, 32>(k)), u);
    ASSERT_TRUE(r.ok()) << r.status();
    u = k;
    std::copy(r->span().begin(), r->span().end(), k.begin());
    if (i == 1) {
      EXPECT_EQ(ToHex(k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
  }
  EXPECT_EQ(ToHex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

// RFC 7748 section 6.1: Alice and Bob agree on K.
TEST(X25519Test, Rfc7748DiffieHellman) {
  Secret32 a = SecretFromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  Secret32 b = SecretFromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  absl::StatusOr<Bytes32> a_pub = X25519PublicFromPrivate(a);
  absl::StatusOr<Bytes32> b_pub = X25519PublicFromPrivate(b);
  ASSERT_TRUE(a_pub.ok() && b_pub.ok());
  EXPECT_EQ(ToHex(*a_pub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(ToHex(*b_pub), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  absl::StatusOr<Secret32> ab = X25519Agree(a, *b_pub);
  absl::StatusOr<Secret32> ba = X25519Agree(b, *a_pub);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_EQ(ToHex(ab->span()), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_TRUE(*ab == *ba);
}

TEST(X25519Test, FreshKeysAgreeAndDiffer) {
  absl::StatusOr<X25519KeyPair> a = X25519Generate();
  absl::StatusOr<X25519KeyPair> b = X25519Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_key, b->public_key);
  absl::StatusOr<Secret32> ab = X25519Agree(a->private_key, b->public_key);
  absl::StatusOr<Secret32> ba = X25519Agree(b->private_key, a->public_key);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_TRUE(*ab == *ba);
}

TEST(X25519Test, RefusesSmallOrderPoint) {
  absl::StatusOr<X25519KeyPair> a = X25519Generate();
  ASSERT_TRUE(a.ok());
  Bytes32 zero{};  // u = 0 has order 1: the shared secret would be all zeros
  EXPECT_EQ(X25519Agree(a->private_key, zero).status().code(), absl::StatusCode::kInvalidArgument);
}

// RFC 5869 appendix A, test cases 1-3 (SHA-256).
TEST(HkdfTest, Rfc5869Cases) {
  struct V {
    std::string ikm, salt, info, okm;
  };
  auto range = [](int from, int to) {
    std::string s;
    for (int i = from; i <= to; ++i) {
      char buf[3];
      std::snprintf(buf, sizeof(buf), "%02x", i);
      s += buf;
    }
    return s;
  };
  std::string ikm_b;
  for (int i = 0; i < 22; ++i) ikm_b += "0b";
  const V cases[] = {
      {ikm_b, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
      {range(0x00, 0x4f), range(0x60, 0xaf), range(0xb0, 0xff),
       "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c6"
       "5e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
      {ikm_b, "", "",
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
  };
  for (const V& v : cases) {
    std::vector<uint8_t> ikm = FromHex(v.ikm), salt = FromHex(v.salt), info = FromHex(v.info);
    std::vector<uint8_t> out(v.okm.size() / 2);
    ASSERT_TRUE(HkdfSha256(ikm, salt, info, out).ok());
    EXPECT_EQ(ToHex(out), v.okm);
  }
}

TEST(HkdfTest, RefusesBadLength) {
  std::vector<uint8_t> ikm(32, 1), out(8161);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, std::span<uint8_t>()).code(),
            absl::StatusCode::kInvalidArgument);
}

// NIST SP 800-38A F.5.1 CTR-AES128.Encrypt. The keystream is ciphertext XOR
// plaintext; MaskExpander must reproduce it as bytes, and as little-endian
// words, whatever the word type and whether written, added or subtracted.
class AesCtrTest : public ::testing::Test {
 protected:
  const std::vector<uint8_t> key_ = FromHex("2b7e151628aed2a6abf7158809cf4f3c");
  const std::vector<uint8_t> iv_ = FromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  const std::vector<uint8_t> plain_ = FromHex(
      "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
  const std::vector<uint8_t> cipher_ = FromHex(
      "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
      "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee");
  std::span<const uint8_t, 16> Key() const { return std::span<const uint8_t, 16>(key_.data(), 16); }
  std::span<const uint8_t, 16> Iv() const { return std::span<const uint8_t, 16>(iv_.data(), 16); }
  std::vector<uint8_t> Keystream() const {
    std::vector<uint8_t> ks(64);
    for (size_t i = 0; i < 64; ++i) ks[i] = plain_[i] ^ cipher_[i];
    return ks;
  }
};

TEST_F(AesCtrTest, Sp80038aF51) {
  absl::StatusOr<MaskExpander> m = MaskExpander::Create();
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<uint8_t> ks(64);
  ASSERT_TRUE(m->ExpandBytes(Key(), Iv(), ks).ok());
  EXPECT_EQ(ks, Keystream());
}

TEST_F(AesCtrTest, WordsAreLittleEndianKeystream) {
  absl::StatusOr<MaskExpander> m = MaskExpander::Create();
  ASSERT_TRUE(m.ok());
  const std::vector<uint8_t> ks = Keystream();
  std::vector<uint32_t> w32(16);
  ASSERT_TRUE(m->ExpandInto<uint32_t>(Key(), Iv(), w32).ok());
  for (size_t i = 0; i < 16; ++i) {
    uint32_t expect = 0;
    for (int b = 3; b >= 0; --b) expect = (expect << 8) | ks[4 * i + static_cast<size_t>(b)];
    EXPECT_EQ(w32[i], expect) << i;
  }
  // Adding to x then subtracting gives x back; adding to zero gives the mask.
  std::vector<uint64_t> zero(8, 0), w64(8);
  ASSERT_TRUE(m->ExpandInto<uint64_t>(Key(), Iv(), w64).ok());
  ASSERT_TRUE(m->AddInto<uint64_t>(Key(), Iv(), zero).ok());
  EXPECT_EQ(zero, w64);
  std::vector<uint64_t> x = {1, 2, 3, ~uint64_t{0}, 5, 6, 7, 8}, y = x;
  ASSERT_TRUE(m->AddInto<uint64_t>(Key(), Iv(), y).ok());
  EXPECT_NE(x, y);
  ASSERT_TRUE(m->SubtractInto<uint64_t>(Key(), Iv(), y).ok());
  EXPECT_EQ(x, y);
}

// A long mask (several blocks, odd length) expanded as words equals the byte
// keystream, and the add path equals the write path.
TEST_F(AesCtrTest, LongMasksAgreeAcrossPaths) {
  absl::StatusOr<MaskExpander> m = MaskExpander::Create();
  ASSERT_TRUE(m.ok());
  const size_t words = 3 * MaskExpander::kBlockBytes / 4 + 7;
  std::vector<uint8_t> bytes(words * 4);
  ASSERT_TRUE(m->ExpandBytes(Key(), Iv(), bytes).ok());
  std::vector<uint32_t> w(words), added(words, 0);
  ASSERT_TRUE(m->ExpandInto<uint32_t>(Key(), Iv(), w).ok());
  ASSERT_TRUE(m->AddInto<uint32_t>(Key(), Iv(), added).ok());
  EXPECT_EQ(std::memcmp(bytes.data(), w.data(), bytes.size()), 0);
  EXPECT_EQ(w, added);
  // The first 64 bytes are still the SP 800-38A keystream.
  const std::vector<uint8_t> ks = Keystream();
  EXPECT_TRUE(std::equal(ks.begin(), ks.end(), bytes.begin()));
}

// CombineMany (blocked, many masks) gives exactly the result of applying
// each mask on its own, for both word widths and lengths that end mid-block.
TEST(MaskCombineTest, ManyEqualsOneByOne) {
  absl::StatusOr<MaskExpander> m = MaskExpander::Create();
  ASSERT_TRUE(m.ok());
  std::vector<std::array<uint8_t, 32>> seeds(37);
  for (size_t i = 0; i < seeds.size(); ++i) {
    for (size_t b = 0; b < 32; ++b) seeds[i][b] = static_cast<uint8_t>(i * 31 + b * 7 + 1);
  }
  std::vector<MaskExpander::Mask> masks;
  for (size_t i = 0; i < seeds.size(); ++i) masks.push_back({seeds[i].data(), i % 3 != 0});
  for (size_t words : {size_t{1}, size_t{4095}, size_t{2 * 4096 + 17}}) {
    std::vector<uint32_t> a(words, 5), b(words, 5);
    std::vector<uint64_t> c(words, 9), d(words, 9);
    for (const MaskExpander::Mask& mask : masks) {
      std::span<const uint8_t, 16> key(mask.seed, 16), iv(mask.seed + 16, 16);
      ASSERT_TRUE(
          (mask.add ? m->AddInto<uint32_t>(key, iv, a) : m->SubtractInto<uint32_t>(key, iv, a))
              .ok());
      ASSERT_TRUE(
          (mask.add ? m->AddInto<uint64_t>(key, iv, c) : m->SubtractInto<uint64_t>(key, iv, c))
              .ok());
    }
    ASSERT_TRUE(m->CombineMany<uint32_t>(masks, b).ok());
    ASSERT_TRUE(m->CombineMany<uint64_t>(masks, d).ok());
    EXPECT_EQ(a, b) << words;
    EXPECT_EQ(c, d) << words;
  }
  std::vector<uint32_t> empty;
  EXPECT_TRUE(m->CombineMany<uint32_t>(masks, empty).ok());
}

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 2, 3, 4
// (AES-128); also in NIST's GCM test vectors.
TEST(AesGcmTest, McGrewViegaVectors) {
  struct V {
    const char *key, *iv, *aad, *plain, *cipher, *tag;
  };
  const char* kP3 =
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
      "b525b16aedf5aa0de657ba637b391aafd255";
  const char* kC3 =
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84"
      "aa051ba30b396a0aac973d58e091473f5985";
  const std::string p4 = std::string(kP3).substr(0, 120), c4 = std::string(kC3).substr(0, 120);
  const V vectors[] = {
      {"00000000000000000000000000000000", "000000000000000000000000", "",
       "00000000000000000000000000000000", "0388dace60b6a392f328c2b971b2fe78",
       "ab6e47d42cec13bdf53a67b21257bddf"},
      {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", "", kP3, kC3,
       "4d5c2af327cd64a62cf35abd2ba6fab4"},
      {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
       "feedfacedeadbeeffeedfacedeadbeefabaddad2", p4.c_str(), c4.c_str(),
       "5bc94fbc3221a5db94fae95ae7121a47"},
  };
  for (const V& v : vectors) {
    std::vector<uint8_t> key = FromHex(v.key), iv = FromHex(v.iv), aad = FromHex(v.aad),
                         plain = FromHex(v.plain);
    std::span<const uint8_t, 12> nonce(iv.data(), 12);
    absl::StatusOr<std::string> sealed = AesGcmSealWithNonce(key, nonce, aad, plain);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    EXPECT_EQ(ToHex(AsBytes(*sealed)), std::string(v.cipher) + v.tag);
    absl::StatusOr<SecretBytes> opened = AesGcmOpenWithNonce(key, nonce, aad, AsBytes(*sealed));
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(ToHex(opened->span()), v.plain);
  }
}

TEST(AesGcmTest, TamperingIsDetected) {
  std::vector<uint8_t> key(32, 7), aad = {1, 2, 3}, plain(80, 9);
  absl::StatusOr<std::string> sealed = AesGcmSeal(key, aad, plain);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kGcmNonceBytes + plain.size() + kGcmTagBytes);
  ASSERT_TRUE(AesGcmOpen(key, aad, AsBytes(*sealed)).ok());
  for (size_t pos : {size_t{0}, size_t{20}, sealed->size() - 1}) {
    std::string bad = *sealed;
    bad[pos] ^= 1;
    EXPECT_EQ(AesGcmOpen(key, aad, AsBytes(bad)).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  std::vector<uint8_t> other_aad = {1, 2, 4};
  EXPECT_EQ(AesGcmOpen(key, other_aad, AsBytes(*sealed)).status().code(),
            absl::StatusCode::kPermissionDenied);
  std::vector<uint8_t> other_key(32, 8);
  EXPECT_EQ(AesGcmOpen(other_key, aad, AsBytes(*sealed)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AesGcmOpen(key, aad, AsBytes(std::string(10, 'x'))).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t> bad_key(15, 0);
  EXPECT_EQ(AesGcmSeal(bad_key, aad, plain).status().code(), absl::StatusCode::kInvalidArgument);
}

// RFC 8032 section 7.1, TEST 1 (empty message).
TEST(Ed25519Test, Rfc8032Test1) {
  Secret32 sk = SecretFromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  absl::StatusOr<Bytes32> pk = Ed25519PublicFromPrivate(sk);
  ASSERT_TRUE(pk.ok()) << pk.status();
  EXPECT_EQ(ToHex(*pk), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  absl::StatusOr<Bytes64> sig = Ed25519Sign(sk, {});
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(
      ToHex(*sig),
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
      "1cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(Ed25519Verify(*pk, {}, *sig).ok());
  Bytes64 bad = *sig;
  bad[0] ^= 1;
  EXPECT_EQ(Ed25519Verify(*pk, {}, bad).code(), absl::StatusCode::kPermissionDenied);
  std::vector<uint8_t> msg = {0x72};
  EXPECT_EQ(Ed25519Verify(*pk, msg, *sig).code(), absl::StatusCode::kPermissionDenied);
}

TEST(Ed25519Test, FreshKeysSignAndVerify) {
  absl::StatusOr<Ed25519KeyPair> a = Ed25519Generate();
  absl::StatusOr<Ed25519KeyPair> b = Ed25519Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<uint8_t> msg = {1, 2, 3, 4};
  absl::StatusOr<Bytes64> sig = Ed25519Sign(a->private_key, msg);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(Ed25519Verify(a->public_key, msg, *sig).ok());
  EXPECT_EQ(Ed25519Verify(b->public_key, msg, *sig).code(), absl::StatusCode::kPermissionDenied);
}

// Hands out consecutive pieces of a buffer that the test owns and never
// frees, so that the test can read what a SecretBytes left in its memory
// after Clear() and after its destructor without touching freed heap memory.
template <typename T>
struct ArenaAllocator {
  using value_type = T;
  std::span<uint8_t> arena;
  size_t* used;

  ArenaAllocator(std::span<uint8_t> a, size_t* u) : arena(a), used(u) {}
  template <typename U>
  ArenaAllocator(const ArenaAllocator<U>& other) : arena(other.arena), used(other.used) {}
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (*used + bytes > arena.size()) throw std::bad_alloc();
    T* p = reinterpret_cast<T*>(arena.data() + *used);
    *used += bytes;
    return p;
  }
  void deallocate(T*, size_t) {}  // the memory stays the test's, readable
  bool operator==(const ArenaAllocator& other) const { return arena.data() == other.arena.data(); }
};
using ArenaSecretBytes = BasicSecretBytes<ArenaAllocator<uint8_t>>;

// Reads through volatile so that the compiler cannot assume what memory
// holds after an object's lifetime ended: the test sees the real bytes.
bool AllZero(const uint8_t* p, size_t n) {
  const volatile uint8_t* v = p;
  for (size_t i = 0; i < n; ++i) {
    if (v[i] != 0) return false;
  }
  return true;
}

// Every way a secret leaves memory wipes it: Clear(), the destructor, a move
// (in the moved-from object) and a move assignment (the overwritten value).
// The bytes are read in memory the test owns (an arena for SecretBytes'
// buffer, placement-new storage for Secret32), so without the wipe these
// checks fail.
TEST(SecretTest, WipedOnClear) {
  std::array<uint8_t, 256> arena{};
  size_t used = 0;
  ArenaAllocator<uint8_t> alloc(arena, &used);

  // Clear() wipes the buffer it releases.
  {
    ArenaSecretBytes s(16, alloc);
    ASSERT_EQ(s.data(), arena.data());
    std::fill_n(s.data(), 16, uint8_t{0xab});
    ASSERT_FALSE(AllZero(arena.data(), 16));
    s.Clear();
    EXPECT_EQ(s.size(), 0u);
    EXPECT_TRUE(AllZero(arena.data(), 16));
  }
  // The destructor wipes.
  uint8_t* held = nullptr;
  {
    ArenaSecretBytes s(16, alloc);
    held = s.data();
    std::fill_n(s.data(), 16, uint8_t{0xcd});
    ASSERT_FALSE(AllZero(held, 16));
  }
  EXPECT_TRUE(AllZero(held, 16));
  // A move hands the buffer over (the source is empty); a move assignment
  // wipes the value it overwrites; Clone() is a separate, equal buffer.
  {
    ArenaSecretBytes a(16, alloc);
    std::fill_n(a.data(), 16, uint8_t{0x11});
    ArenaSecretBytes b(std::move(a));
    EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
    ArenaSecretBytes c = b.Clone();
    ASSERT_NE(c.data(), b.data());
    EXPECT_TRUE(std::equal(b.span().begin(), b.span().end(), c.span().begin()));
    uint8_t* overwritten = c.data();
    ArenaSecretBytes d(16, alloc);
    std::fill_n(d.data(), 16, uint8_t{0x22});
    c = std::move(d);
    EXPECT_TRUE(AllZero(overwritten, 16));
    EXPECT_EQ(c.data()[0], 0x22);
  }

  // Secret32 holds its bytes inline: construct one in storage the test owns
  // and look at the storage after the destructor ran.
  alignas(Secret32) std::array<uint8_t, sizeof(Secret32)> storage{};
  std::array<uint8_t, 32> bytes;
  bytes.fill(0xef);
  Secret32* placed = new (storage.data()) Secret32(std::span<const uint8_t, 32>(bytes));
  ASSERT_FALSE(AllZero(storage.data(), storage.size()));
  placed->~Secret32();
  EXPECT_TRUE(AllZero(storage.data(), storage.size()));

  // Moves wipe the moved-from Secret32; Clone() is an equal, separate copy.
  Secret32 a{std::span<const uint8_t, 32>(bytes)};
  Secret32 b = a.Clone();
  EXPECT_TRUE(a == b);
  Secret32 c(std::move(a));
  EXPECT_TRUE(AllZero(a.data(), 32));  // NOLINT(bugprone-use-after-move): wiped
  EXPECT_TRUE(c == b);
  b = std::move(c);
  EXPECT_TRUE(AllZero(c.data(), 32));  // NOLINT(bugprone-use-after-move): wiped
  EXPECT_EQ(b.data()[0], 0xef);
}

}  // namespace
}  // namespace fedrec::secagg
