// Continuous Gaussian noise (privacy/gaussian.h): moments, Kolmogorov-Smirnov,
// tails (including the deep tail that plain Box-Muller cannot produce), the
// uniform's construction, pinned reproducibility and the CSPRNG source.
//
// Statistical bounds: every test uses a fixed seed, so it is deterministic;
// the bounds are chosen so that a correct sampler fails with probability
// < 1e-3 per check (about 5 standard errors for moments and counts; the KS
// critical value at alpha = 0.001), while the sampler bugs they target (wrong
// scale, truncated or fat tails, a biased angle) shift the statistic by many
// standard errors.
#include "privacy/gaussian.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace fedrec::privacy {
namespace {

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

// sqrt(n) * sup |F_n - F| for sorted samples.
template <class Cdf>
double KolmogorovSmirnovStatistic(std::vector<double> xs, Cdf cdf) {
  std::sort(xs.begin(), xs.end());
  const double n = static_cast<double>(xs.size());
  double d = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double f = cdf(xs[i]);
    d = std::max({d, (i + 1) / n - f, f - i / n});
  }
  return d * std::sqrt(n);
}
// P(sqrt(n) D > 1.9495) -> 0.001 (Kolmogorov distribution).
constexpr double kKsCritical001 = 1.9495;

std::vector<double> PinnedSamples(uint64_t seed, size_t n, double stddev = 1.0,
                                  uint32_t round = 0) {
  auto noise = GaussianNoise::Create(seed);
  EXPECT_TRUE(noise.ok());
  std::vector<double> xs(n, 0.0);
  EXPECT_TRUE(noise->Add(xs, stddev, round).ok());
  return xs;
}

TEST(Gaussian, MomentsMatchStandardNormal) {
  const size_t n = 2'000'000;
  const std::vector<double> xs = PinnedSamples(20240501, n);
  double m1 = 0;
  for (double x : xs) m1 += x;
  m1 /= n;
  double m2 = 0, m3 = 0, m4 = 0;
  for (double x : xs) {
    const double d = x - m1;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const double skew = m3 / std::pow(m2, 1.5);
  const double excess_kurtosis = m4 / (m2 * m2) - 3.0;
  // Standard errors for N(0,1): mean 1/sqrt(n), variance sqrt(2/n), skewness
  // sqrt(6/n), excess kurtosis sqrt(24/n); bounds at 5 standard errors.
  const double sn = std::sqrt(static_cast<double>(n));
  EXPECT_LT(std::abs(m1), 5.0 / sn);
  EXPECT_LT(std::abs(m2 - 1.0), 5.0 * std::sqrt(2.0) / sn);
  EXPECT_LT(std::abs(skew), 5.0 * std::sqrt(6.0) / sn);
  EXPECT_LT(std::abs(excess_kurtosis), 5.0 * std::sqrt(24.0) / sn);
}

TEST(Gaussian, KolmogorovSmirnovAgainstNormalCdf) {
  const double ks1 = KolmogorovSmirnovStatistic(PinnedSamples(7, 1'000'000), NormalCdf);
  EXPECT_LT(ks1, kKsCritical001);
  // With a scale: stddev 3.5 against N(0, 3.5^2).
  const double ks2 = KolmogorovSmirnovStatistic(PinnedSamples(8, 200'000, 3.5),
                                                [](double x) { return NormalCdf(x / 3.5); });
  EXPECT_LT(ks2, kKsCritical001);
  // The test bites: the same samples against N(0, 1.01^2) are rejected.
  const double ks_wrong = KolmogorovSmirnovStatistic(PinnedSamples(7, 1'000'000),
                                                     [](double x) { return NormalCdf(x / 1.01); });
  EXPECT_GT(ks_wrong, kKsCritical001);
}

TEST(Gaussian, TailFrequenciesBeyondFourSigma) {
  const size_t n = 4'000'000;
  const std::vector<double> xs = PinnedSamples(99, n);
  for (double t : {4.0, 4.5, 5.0}) {
    const double p = std::erfc(t / std::numbers::sqrt2);  // P(|X| > t)
    const double expected = p * n;
    const double count = static_cast<double>(
        std::count_if(xs.begin(), xs.end(), [t](double x) { return std::abs(x) > t; }));
    // Binomial count: within 5 standard deviations (+1 for the discreteness
    // at 5 sigma, where about 2.3 are expected).
    EXPECT_LT(std::abs(count - expected), 5.0 * std::sqrt(expected) + 1.0)
        << "t = " << t << " count " << count << " expected " << expected;
  }
}

// Returns 0 on its first call, then the words of an inner Philox stream: the
// radius uniform is then conditioned on U1 < 2^-64, i.e. on R^2/2 > 64 ln 2
// (R > 9.42), a region plain 53-bit Box-Muller never reaches.
class FirstWordZeroUrbg {
 public:
  using result_type = uint64_t;
  explicit FirstWordZeroUrbg(PhiloxUrbg* inner) : inner_(inner) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~uint64_t{0}; }
  result_type operator()() {
    if (first_) {
      first_ = false;
      return 0;
    }
    return (*inner_)();
  }

 private:
  PhiloxUrbg* inner_;
  bool first_ = true;
};

TEST(Gaussian, DeepTailRadiusIsExactlyExponential) {
  // Conditioned on U1 < 2^-64, E = R^2/2 - 64 ln 2 = -ln(2^64 U1) must be
  // Exp(1) (memorylessness of the Rayleigh tail): a KS test of the radius
  // beyond 9.4 sigma.
  PhiloxUrbg inner(StreamKey{5, "gaussian_tail_test"});
  std::vector<double> es;
  double min_r = 1e300;
  for (int i = 0; i < 200'000; ++i) {
    FirstWordZeroUrbg g(&inner);
    const auto [x, y] = StandardNormalPair(g);
    const double r2 = x * x + y * y;
    min_r = std::min(min_r, std::sqrt(r2));
    es.push_back(r2 / 2 - 64 * std::numbers::ln2);
  }
  EXPECT_GT(min_r, 9.41);
  EXPECT_LT(KolmogorovSmirnovStatistic(es, [](double e) { return e <= 0 ? 0.0 : -std::expm1(-e); }),
            kKsCritical001);
}

// Replays a fixed list of words.
class ScriptedUrbg {
 public:
  using result_type = uint64_t;
  explicit ScriptedUrbg(std::vector<uint64_t> words) : words_(std::move(words)) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~uint64_t{0}; }
  result_type operator()() { return next_ < words_.size() ? words_[next_++] : 0; }
  size_t used() const { return next_; }

 private:
  std::vector<uint64_t> words_;
  size_t next_ = 0;
};

TEST(Gaussian, OpenUniformKnownAnswers) {
  {  // Leading bit set: z = 0, U in [1/2, 1); mantissa word 0 -> first cell's midpoint.
    ScriptedUrbg g({uint64_t{1} << 63, 0});
    EXPECT_EQ(OpenUniform01(g), 0.5 * (1.0 + 0x1.0p-52));
    EXPECT_EQ(g.used(), 2u);
  }
  {  // Largest value: below 1.
    ScriptedUrbg g({~uint64_t{0}, ~uint64_t{0}});
    const double u = OpenUniform01(g);
    EXPECT_LT(u, 1.0);
    EXPECT_EQ(u, 0.5 * (2.0 - 0x1.0p-52));
  }
  {  // One zero word, then 63 more zeros before the first one: z = 127.
    ScriptedUrbg g({0, 1, 0});
    EXPECT_EQ(OpenUniform01(g), std::ldexp(1.0 + 0x1.0p-52, -128));
    EXPECT_EQ(g.used(), 3u);
  }
  {  // All zero: capped at 2^-1022, never 0; the normals stay finite (~37.6 sigma).
    ScriptedUrbg g({});
    const double u = OpenUniform01(g);
    EXPECT_GT(u, 0.0);
    EXPECT_EQ(u, std::ldexp(1.0 + 0x1.0p-52, -1022));
    ScriptedUrbg h({});
    const auto [x, y] = StandardNormalPair(h);
    EXPECT_TRUE(std::isfinite(x) && std::isfinite(y));
    EXPECT_NEAR(std::hypot(x, y), std::sqrt(2 * 1022 * std::numbers::ln2), 1e-9);
  }
}

TEST(Gaussian, PinnedSeedIsReproducibleAndKeyedByRoundAndStream) {
  auto a = GaussianNoise::Create(42);
  auto b = GaussianNoise::Create(42);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->pinned());
  EXPECT_EQ(a->noise_seed(), 42u);
  std::vector<double> x(1001, 1.0), y(1001, 1.0), z(1001, 1.0), w(1001, 1.0);
  ASSERT_TRUE(a->Add(x, 2.0, 3).ok());
  ASSERT_TRUE(b->Add(y, 2.0, 3).ok());
  EXPECT_EQ(x, y);
  ASSERT_TRUE(a->Add(z, 2.0, 4).ok());
  EXPECT_NE(x, z);  // another round, other noise
  ASSERT_TRUE(a->Add(w, 2.0, 3, kNoiseStreamClipCount).ok());
  EXPECT_NE(x, w);  // another stream of the same round, other noise
  // The value is the round's stream (seed, "dp_noise", round, stream, 0) read by
  // AddGaussianNoise.
  std::vector<double> ref(1001, 1.0);
  PhiloxUrbg g(StreamKey{42, "dp_noise", 3, kNoiseStreamUpdate, 0});
  AddGaussianNoise(g, ref, 2.0);
  EXPECT_EQ(x, ref);
  auto s = a->Sample(2.0, 3, kNoiseStreamUpdate);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, x[0] - 1.0);
}

TEST(Gaussian, CsprngSourceIsNotPinnedAndTwoRunsDiffer) {
  auto a = GaussianNoise::Create(std::nullopt);
  auto b = GaussianNoise::Create(std::nullopt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->pinned());
  std::vector<double> x(256, 0.0), y(256, 0.0);
  ASSERT_TRUE(a->Add(x, 1.0, 0).ok());
  ASSERT_TRUE(b->Add(y, 1.0, 0).ok());
  EXPECT_NE(x, y);
  std::vector<double> z(256, 0.0);
  ASSERT_TRUE(a->Add(z, 1.0, 0).ok());  // same round, same instance: fresh noise
  EXPECT_NE(x, z);
  // And it is Gaussian: KS on CSPRNG samples. Not seeded, so the threshold is
  // the alpha = 1e-6 critical value (P(K > x) ~ 2 exp(-2 x^2)): a correct
  // sampler fails about once in a million runs.
  std::vector<double> big(100'000, 0.0);
  ASSERT_TRUE(a->Add(big, 1.0, 0).ok());
  EXPECT_LT(KolmogorovSmirnovStatistic(big, NormalCdf), 2.70)
      << "KS rejection on CSPRNG samples (expected once in 10^6 runs)";
}

TEST(Gaussian, InvalidStddevRefusedAndZeroAddsNothing) {
  auto a = GaussianNoise::Create(1);
  ASSERT_TRUE(a.ok());
  std::vector<double> x(4, 1.5);
  EXPECT_EQ(a->Add(x, -1.0, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(a->Add(x, std::nan(""), 0).message()),
              ::testing::HasSubstr("privacy: noise stddev"));
  EXPECT_FALSE(a->Add(x, INFINITY, 0).ok());
  EXPECT_EQ(x, std::vector<double>(4, 1.5));
  ASSERT_TRUE(a->Add(x, 0.0, 0).ok());
  EXPECT_EQ(x, std::vector<double>(4, 1.5));
}

}  // namespace
}  // namespace fedrec::privacy
