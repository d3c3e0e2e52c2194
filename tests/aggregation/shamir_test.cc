// Shamir sharing over GF(2^61 - 1): reconstruction from any t shares,
// uniformity of t - 1 shares (chi-square, fixed seeds), refusals.
#include "aggregation/shamir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "tests/testing/stats.h"

namespace fedrec::secagg::shamir {
namespace {

using ::fedrec::testing::ChiSquareUniform;

RandomWords Seeded(uint64_t seed) {
  auto gen = std::make_shared<std::mt19937_64>(seed);
  return [gen] { return (*gen)(); };
}

// Shares are move-only; tests that pick subsets of the same sharing several
// times copy them explicitly.
std::vector<Share> Clones(std::span<const Share> shares) {
  std::vector<Share> out;
  out.reserve(shares.size());
  for (const Share& s : shares) out.push_back(s.Clone());
  return out;
}
std::vector<Share> Clones(std::initializer_list<const Share*> shares) {
  std::vector<Share> out;
  out.reserve(shares.size());
  for (const Share* s : shares) out.push_back(s->Clone());
  return out;
}

std::vector<uint64_t> Points(size_t n) {
  std::vector<uint64_t> xs(n);
  std::iota(xs.begin(), xs.end(), uint64_t{1});
  return xs;
}

TEST(ShamirFieldTest, Arithmetic) {
  EXPECT_EQ(FieldMul(kPrime - 1, kPrime - 1), 1u);  // (-1)^2
  EXPECT_EQ(FieldAdd(kPrime - 1, 1), 0u);
  EXPECT_EQ(FieldSub(0, 1), kPrime - 1);
  EXPECT_EQ(FieldMul(uint64_t{1} << 60, 2), 1u);  // 2^61 = 1 (mod p)
  std::mt19937_64 gen(7);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t a = 1 + gen() % (kPrime - 1);
    EXPECT_EQ(FieldMul(a, FieldInverse(a)), 1u);
  }
}

// Any t of n shares reconstruct, for random subsets, several (t, n) and
// secret lengths that straddle the 7-byte chunks.
TEST(ShamirTest, AnyTSharesReconstruct) {
  std::mt19937_64 gen(42);
  RandomWords random = Seeded(1);
  struct Case {
    int t;
    size_t n;
  };
  for (Case c : {Case{1, 1}, Case{1, 5}, Case{2, 2}, Case{3, 5}, Case{6, 10}, Case{17, 33}}) {
    for (size_t len : {size_t{1}, size_t{7}, size_t{8}, size_t{32}, size_t{33}}) {
      std::vector<uint8_t> secret(len);
      for (uint8_t& b : secret) b = static_cast<uint8_t>(gen());
      std::vector<uint64_t> xs = Points(c.n);
      absl::StatusOr<std::vector<Share>> shares = Split(secret, c.t, xs, random);
      ASSERT_TRUE(shares.ok()) << shares.status();
      ASSERT_EQ(shares->size(), c.n);
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<Share> subset = Clones(*shares);
        std::shuffle(subset.begin(), subset.end(), gen);
        subset.resize(static_cast<size_t>(c.t));
        absl::StatusOr<SecretBytes> back = Reconstruct(subset, c.t, len);
        ASSERT_TRUE(back.ok()) << back.status();
        EXPECT_TRUE(std::equal(secret.begin(), secret.end(), back->data()))
            << "t=" << c.t << " n=" << c.n << " len=" << len;
      }
    }
  }
}

// Evaluation points need not be 1..n (participants are indexed by roster
// position + 1, so a neighbourhood is an arbitrary set of points).
TEST(ShamirTest, ArbitraryPoints) {
  std::vector<uint8_t> secret(32, 0xa5);
  std::vector<uint64_t> xs = {5, 900, 77, 1000000, kPrime - 1};
  absl::StatusOr<std::vector<Share>> shares = Split(secret, 3, xs, Seeded(3));
  ASSERT_TRUE(shares.ok());
  std::vector<Share> subset = Clones({&(*shares)[4], &(*shares)[1], &(*shares)[2]});
  absl::StatusOr<SecretBytes> back = Reconstruct(subset, 3, 32);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(std::equal(secret.begin(), secret.end(), back->data()));
}

// t - 1 shares carry no information: for a fixed secret (all zeros, then all
// ones) the values of t - 1 = 2 shares, over 20000 independent sharings, are
// uniform on GF(p) (64 buckets by top bits, each share and the pair jointly
// on an 8x8 grid). Chi-square with 63 degrees of freedom: the 0.999 quantile
// is 103.4. A degenerate generator (coefficients < 1000) must fail the same
// test, which shows the test can fail.
double WorstChiSquare(uint8_t secret_byte, RandomWords random) {
  const int kTrials = 20000;
  std::vector<uint8_t> secret(32, secret_byte);
  std::vector<uint64_t> xs = Points(5);
  std::vector<uint64_t> a(64, 0), b(64, 0), joint(64, 0);
  auto bucket = [](uint64_t v, int buckets) {
    return static_cast<size_t>((static_cast<double>(v) / static_cast<double>(kPrime)) * buckets);
  };
  for (int i = 0; i < kTrials; ++i) {
    absl::StatusOr<std::vector<Share>> shares = Split(secret, 3, xs, random);
    EXPECT_TRUE(shares.ok());
    const uint64_t y1 = (*shares)[1].y[2], y4 = (*shares)[4].y[2];
    ++a[bucket(y1, 64)];
    ++b[bucket(y4, 64)];
    ++joint[bucket(y1, 8) * 8 + bucket(y4, 8)];
  }
  return std::max({ChiSquareUniform(a), ChiSquareUniform(b), ChiSquareUniform(joint)});
}

TEST(ShamirTest, TMinusOneSharesAreUniform) {
  EXPECT_LT(WorstChiSquare(0x00, Seeded(11)), 103.4);
  EXPECT_LT(WorstChiSquare(0xff, Seeded(12)), 103.4);
  auto weak = std::make_shared<std::mt19937_64>(13);
  EXPECT_GT(WorstChiSquare(0x00, [weak] { return (*weak)() % 1000; }), 1000.0);
}

// With t - 1 shares the secret is not determined: interpolating them as if
// the threshold were t - 1 gives a different value.
TEST(ShamirTest, TooFewSharesDoNotReconstruct) {
  std::vector<uint8_t> secret(32, 0x3c);
  absl::StatusOr<std::vector<Share>> shares = Split(secret, 4, Points(6), Seeded(5));
  ASSERT_TRUE(shares.ok());
  std::vector<Share> three = Clones(std::span<const Share>(*shares).first(3));
  EXPECT_EQ(Reconstruct(three, 4, 32).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<SecretBytes> wrong = Reconstruct(three, 3, 32);
  // Either the chunks do not even fit (DataLoss) or they give another secret.
  if (wrong.ok()) {
    EXPECT_FALSE(std::equal(secret.begin(), secret.end(), wrong->data()));
  }
}

TEST(ShamirTest, RefusesBadInput) {
  std::vector<uint8_t> secret(32, 1);
  RandomWords random = Seeded(9);
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  std::vector<uint64_t> xs = Points(4);
  EXPECT_EQ(Split(secret, 0, xs, random).status().code(), kInvalid);
  EXPECT_EQ(Split(secret, 5, xs, random).status().code(), kInvalid);
  EXPECT_EQ(Split({}, 2, xs, random).status().code(), kInvalid);
  std::vector<uint64_t> zero = {0, 1, 2}, dup = {1, 2, 2}, big = {1, kPrime};
  EXPECT_EQ(Split(secret, 2, zero, random).status().code(), kInvalid);
  EXPECT_EQ(Split(secret, 2, dup, random).status().code(), kInvalid);
  EXPECT_EQ(Split(secret, 2, big, random).status().code(), kInvalid);

  absl::StatusOr<std::vector<Share>> shares = Split(secret, 3, xs, random);
  ASSERT_TRUE(shares.ok());
  std::vector<Share>& s = *shares;
  EXPECT_EQ(Reconstruct(s, 0, 32).status().code(), kInvalid);
  EXPECT_EQ(Reconstruct(s, 3, 0).status().code(), kInvalid);
  std::vector<Share> d = Clones({&s[0], &s[0], &s[1]});
  EXPECT_EQ(Reconstruct(d, 3, 32).status().code(), kInvalid);
  std::vector<Share> ragged = Clones({&s[0], &s[1], &s[2]});
  ragged[1].y.pop_back();
  EXPECT_EQ(Reconstruct(ragged, 3, 32).status().code(), kInvalid);
  std::vector<Share> notfield = Clones({&s[0], &s[1], &s[2]});
  notfield[2].y[0] = kPrime;
  EXPECT_EQ(Reconstruct(notfield, 3, 32).status().code(), kInvalid);
  // A corrupted share gives chunks that no longer fit: DataLoss.
  std::vector<Share> corrupt = Clones({&s[0], &s[1], &s[2]});
  for (uint64_t& v : corrupt[1].y) v = FieldAdd(v, 0x0123456789abcdefULL % kPrime);
  EXPECT_EQ(Reconstruct(corrupt, 3, 32).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ShamirTest, WireRoundTrip) {
  std::vector<uint8_t> secret(32, 7);
  absl::StatusOr<std::vector<Share>> shares = Split(secret, 2, Points(3), Seeded(4));
  ASSERT_TRUE(shares.ok());
  std::string wire;
  AppendShareValues((*shares)[1], &wire);
  EXPECT_EQ(wire.size(), ChunksFor(32) * 8);
  absl::StatusOr<Share> back = ParseShareValues(2, AsBytes(wire), ChunksFor(32));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->y, (*shares)[1].y);
  EXPECT_FALSE(ParseShareValues(2, AsBytes(wire.substr(1)), ChunksFor(32)).ok());
  std::string bad(wire.size(), '\xff');
  EXPECT_FALSE(ParseShareValues(2, AsBytes(bad), ChunksFor(32)).ok());
}

}  // namespace
}  // namespace fedrec::secagg::shamir
