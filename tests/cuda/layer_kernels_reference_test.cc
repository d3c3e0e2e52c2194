// The host/device bodies of models/cuda/layer_kernels.h and core/philox.h,
// run on the HOST over every row and compared with the CPU layers they
// reproduce. Needs no GPU and no CUDA toolkit: this is the CI check of the
// kernels' algorithms (tests/cuda/layer_kernels_cuda_test.cc compares the
// device launches with these same bodies when a GPU is present).
//
// Tolerances (float): the bodies use the CPU layers' own summation order for
// layer norm, and the same elementwise operations for gather, scatter-add and
// BCE, so those agree to rounding of a possibly fused multiply-add (the
// x86-64-v3 build may contract one and not the other): a relative 1e-5
// (~80 float ulps) bound is generous there and still far below any
// algorithmic error (a wrong mean, epsilon, sign or order of terms moves
// results by >= 1e-3). The softmax is compared with the attention layer,
// whose scores come from an Eigen GEMM and whose exp is Eigen's vectorised
// one (1-2 ulp from libm): entries agree to 1e-5 relative to the terms'
// magnitude, p (|dp| + |c|) scale in the backward (the cancellation in
// dp - c makes a plain relative bound meaningless near zero). Dropout masks
// and Philox words are compared BITWISE.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/philox.h"
#include "core/random.h"
#include "models/cuda/layer_kernels.h"
#include "models/gradients.h"
#include "models/layers/attention.h"
#include "models/layers/dropout.h"
#include "models/layers/embedding.h"
#include "models/layers/layer_norm.h"
#include "models/losses.h"
#include "tests/models/sasrec_double.h"

namespace fedrec {
namespace {

using layers::ConstMatrixMap;
using layers::ConstRowVectorMap;
using layers::MatrixMap;
using layers::RowVectorMap;
using testing::CheckGradient;
using testing::Random;
using testing::Vec;

static_assert(kernels::kLayerNormEpsilon == layers::kLayerNormEps);

constexpr double kRel = 1e-5;

std::vector<float> RandomFloats(size_t n, uint32_t tag, double scale = 1.0) {
  const Vec v = Random(n, tag, scale);
  return std::vector<float>(v.begin(), v.end());
}

// |got - want| <= kRel * magnitude (magnitude >= |want|).
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], kRel * std::max(1.0f, std::abs(want[i])))
        << what << "[" << i << "]";
  }
}

// ------------------------------------------------------------------ Philox

// SplitMix64 spelled out independently of both headers.
uint64_t ReferenceSplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

TEST(PhiloxHeader, BlockMatchesKnownAnswerAndTheLaneVersion) {
  uint32_t out[4];
  const uint32_t zero_counter[4] = {0, 0, 0, 0}, zero_key[2] = {0, 0};
  PhiloxBlock4x32_10(zero_counter, zero_key, out);
  EXPECT_EQ(out[0], 0x6627e8d5u);
  EXPECT_EQ(out[3], 0x9b00dbd8u);
  // Against the eight-lane loop of core/random.cc, an independent spelling.
  RandomStream r({3, "philox_header"});
  for (int trial = 0; trial < 50; ++trial) {
    const PhiloxCounter c = {r.NextU32(), r.NextU32(), r.NextU32(), r.NextU32()};
    const PhiloxKey k = {r.NextU32(), r.NextU32()};
    uint32_t lanes[32];
    random_internal::Philox8BlocksPortable(c[0], c, k, lanes);
    for (uint32_t l = 0; l < 8; ++l) {
      const uint32_t counter[4] = {c[0] + l, c[1], c[2], c[3]};
      PhiloxBlock4x32_10(counter, k.data(), out);
      for (int j = 0; j < 4; ++j) ASSERT_EQ(out[j], lanes[4 * l + j]) << trial << " " << l;
    }
  }
}

TEST(PhiloxHeader, StreamOfKeyDerivesTheKeyAsDocumented) {
  const StreamKey key{.seed = 99, .purpose = "dropout", .round = 4, .client = 17, .step = 2};
  const PhiloxStream s = PhiloxStreamOf(key);
  const uint64_t mixed = ReferenceSplitMix64(99 ^ Fnv1a64("dropout"));
  EXPECT_EQ(s.key[0], static_cast<uint32_t>(mixed));
  EXPECT_EQ(s.key[1], static_cast<uint32_t>(mixed >> 32));
  EXPECT_EQ(s.round, 4u);
  EXPECT_EQ(s.client, 17u);
  EXPECT_EQ(s.step, 2u);
}

// Word w of PhiloxStreamWord is the w-th NextU32 and what FillU32 writes at
// position w, for fills that start anywhere in a block and span the
// eight-block fast path.
TEST(PhiloxHeader, StreamWordsMatchRandomStreamFromAnyPosition) {
  for (const StreamKey& key :
       {StreamKey{.seed = 1, .purpose = "a"},
        StreamKey{.seed = 7, .purpose = "dropout", .round = 3, .client = 9, .step = 11},
        StreamKey{.seed = ~uint64_t{0}, .purpose = "x", .round = 1u << 31}}) {
    const PhiloxStream s = PhiloxStreamOf(key);
    RandomStream one(key);
    for (uint64_t w = 0; w < 200; ++w) ASSERT_EQ(one.NextU32(), PhiloxStreamWord(s, w)) << w;
    for (uint64_t start : {0, 1, 2, 3, 5, 30, 33, 1000003}) {
      for (size_t n : {1, 3, 4, 31, 32, 33, 70, 257}) {
        RandomStream fill(key);
        fill.Seek(start);
        std::vector<uint32_t> words(n);
        fill.FillU32(words.data(), n);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(words[i], PhiloxStreamWord(s, start + i)) << start << " " << n << " " << i;
        }
      }
    }
  }
}

// -------------------------------------------------------------- layer norm

TEST(KernelLayerNorm, RowsMatchTheCpuLayer) {
  for (const size_t d : {1, 3, 8, 19, 50, 64}) {
    SCOPED_TRACE(d);
    const size_t n = 9;
    const auto x = RandomFloats(n * d, 1, 3.0), g = RandomFloats(d, 2), b = RandomFloats(d, 3);
    const auto dy = RandomFloats(n * d, 4);
    const auto di = static_cast<Eigen::Index>(d), ni = static_cast<Eigen::Index>(n);
    std::vector<float> y(n * d), xhat(n * d), rstd(n);
    layers::LayerNormForward<float>(
        ConstMatrixMap<float>(x.data(), ni, di), ConstRowVectorMap<float>(g.data(), di),
        ConstRowVectorMap<float>(b.data(), di),
        {MatrixMap<float>(xhat.data(), ni, di), rstd.data()}, MatrixMap<float>(y.data(), ni, di));
    std::vector<float> ky(n * d), kxhat(n * d), krstd(n);
    for (size_t i = 0; i < n; ++i) {
      kernels::LayerNormForwardRow<float>(x.data() + i * d, g.data(), b.data(), d,
                                          kxhat.data() + i * d, krstd.data() + i,
                                          ky.data() + i * d);
    }
    ExpectClose(ky, y, "y");
    ExpectClose(kxhat, xhat, "xhat");
    ExpectClose(krstd, rstd, "rstd");

    // Backward from non-zero starting gradients (both accumulate).
    std::vector<float> dx(n * d, 0.5f), dg(d, -0.25f), db(d, 1.0f);
    std::vector<float> kdx = dx, kdg = dg, kdb = db;
    layers::LayerNormBackward<float>(
        {MatrixMap<float>(xhat.data(), ni, di), rstd.data()},
        ConstRowVectorMap<float>(g.data(), di), ConstMatrixMap<float>(dy.data(), ni, di),
        RowVectorMap<float>(dg.data(), di), RowVectorMap<float>(db.data(), di),
        MatrixMap<float>(dx.data(), ni, di));
    for (size_t i = 0; i < n; ++i) {
      kernels::LayerNormBackwardRow<float>(xhat.data() + i * d, rstd[i], g.data(),
                                           dy.data() + i * d, d, kdx.data() + i * d);
    }
    for (size_t j = 0; j < d; ++j) {
      kernels::LayerNormParamGradColumn<float>(xhat.data(), dy.data(), n, d, j, kdg.data(),
                                               kdb.data());
    }
    ExpectClose(kdx, dx, "dx");
    ExpectClose(kdg, dg, "dgamma");
    ExpectClose(kdb, db, "dbeta");
  }
}

TEST(KernelLayerNorm, BackwardBodiesMatchFiniteDifferences) {
  for (const size_t d : {3, 8, 19}) {
    SCOPED_TRACE(d);
    const size_t n = 3;
    Vec x = Random(n * d, 5, 2.0), g = Random(d, 6), b = Random(d, 7);
    const Vec r = Random(n * d, 8);
    Vec y(n * d), xhat(n * d), rstd(n);
    auto f = [&] {
      for (size_t i = 0; i < n; ++i) {
        kernels::LayerNormForwardRow<double>(x.data() + i * d, g.data(), b.data(), d,
                                             xhat.data() + i * d, rstd.data() + i,
                                             y.data() + i * d);
      }
      return std::inner_product(y.begin(), y.end(), r.begin(), 0.0);
    };
    f();
    Vec dx(n * d, 0.0), dg(d, 0.0), db(d, 0.0);
    for (size_t i = 0; i < n; ++i) {
      kernels::LayerNormBackwardRow<double>(xhat.data() + i * d, rstd[i], g.data(),
                                            r.data() + i * d, d, dx.data() + i * d);
    }
    for (size_t j = 0; j < d; ++j) {
      kernels::LayerNormParamGradColumn<double>(xhat.data(), r.data(), n, d, j, dg.data(),
                                                db.data());
    }
    CheckGradient("x", x, dx, f);
    CheckGradient("gamma", g, dg, f);
    CheckGradient("beta", b, db, f);
  }
}

// ---------------------------------------------------------- causal softmax

// The attention layer's forward (with dropout) and backward on random
// inputs; the softmax bodies on a window padded with `first` slots in front
// must reproduce its weights, masks and score gradients (the last head's,
// which the layer leaves in its scratch dp).
TEST(KernelSoftmax, RowsMatchTheAttentionLayerWithPaddingAndDropout) {
  const Eigen::Index len = 13, d = 8;
  const int heads = 2;
  const Eigen::Index dh = d / heads;
  const size_t first = 4, win = static_cast<size_t>(len) + first;
  const double rate = 0.3;
  const auto q_in = RandomFloats(len * d, 20), wq = RandomFloats(d * d, 21, 0.8),
             wk = RandomFloats(d * d, 22, 0.8), wv = RandomFloats(d * d, 23, 0.8),
             bq = RandomFloats(d, 24), bk = RandomFloats(d, 25), bv = RandomFloats(d, 26),
             dout = RandomFloats(len * d, 27);
  layers::AttentionParams<float> p{
      ConstMatrixMap<float>(wq.data(), d, d), ConstMatrixMap<float>(wk.data(), d, d),
      ConstMatrixMap<float>(wv.data(), d, d), ConstRowVectorMap<float>(bq.data(), d),
      ConstRowVectorMap<float>(bk.data(), d), ConstRowVectorMap<float>(bv.data(), d)};
  std::vector<float> q(len * d), k(len * d), v(len * d), probs(heads * len * len),
      dropped(heads * len * len), mask(heads * len * len), out(len * d);
  layers::AttentionCache<float> cache{MatrixMap<float>(q.data(), len, d),
                                      MatrixMap<float>(k.data(), len, d),
                                      MatrixMap<float>(v.data(), len, d),
                                      probs.data(),
                                      dropped.data(),
                                      mask.data()};
  const StreamKey key{.seed = 5, .purpose = "dropout", .round = 1, .client = 2, .step = 3};
  RandomStream stream(key);
  const uint64_t skip = 3;  // the attention masks start mid-block
  for (uint64_t w = 0; w < skip; ++w) stream.NextU32();
  ConstMatrixMap<float> in(q_in.data(), len, d);
  layers::CausalAttentionForward<float>(in, in, p, heads, &stream, rate, cache,
                                        MatrixMap<float>(out.data(), len, d));
  std::vector<float> gw(3 * d * d + 3 * d, 0.0f), sdq(len * d), sdk(len * d), sdv(len * d),
      sdp(len * len), dq(len * d, 0.0f);
  layers::AttentionGrads<float> grads{MatrixMap<float>(gw.data(), d, d),
                                      MatrixMap<float>(gw.data() + d * d, d, d),
                                      MatrixMap<float>(gw.data() + 2 * d * d, d, d),
                                      RowVectorMap<float>(gw.data() + 3 * d * d, d),
                                      RowVectorMap<float>(gw.data() + 3 * d * d + d, d),
                                      RowVectorMap<float>(gw.data() + 3 * d * d + 2 * d, d)};
  layers::AttentionScratch<float> scratch{MatrixMap<float>(sdq.data(), len, d),
                                          MatrixMap<float>(sdk.data(), len, d),
                                          MatrixMap<float>(sdv.data(), len, d), sdp.data()};
  layers::CausalAttentionBackward<float>(
      in, in, p, heads, true, cache, ConstMatrixMap<float>(dout.data(), len, d), grads, scratch,
      MatrixMap<float>(dq.data(), len, d), MatrixMap<float>(dq.data(), len, d));

  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  const PhiloxStream ps = PhiloxStreamOf(key);
  const uint32_t threshold = kernels::DropoutThresholdFor(rate);
  const float keep = 1.0f / static_cast<float>(1 - rate);
  for (int h = 0; h < heads; ++h) {
    for (Eigen::Index i = 0; i < len; ++i) {
      // Raw scores q_i . k_j (double, rounded) on the padded window; padded
      // slots hold garbage that must not matter.
      std::vector<float> s(win, 1e3f), pk(win, -7.0f), m(win, 0.0f);
      for (Eigen::Index j = 0; j <= i; ++j) {
        double dot = 0;
        for (Eigen::Index c = 0; c < dh; ++c) {
          dot += static_cast<double>(q[i * d + h * dh + c]) * k[j * d + h * dh + c];
        }
        s[first + j] = static_cast<float>(dot);
      }
      const size_t row = first + static_cast<size_t>(i);
      kernels::CausalSoftmaxForwardRow<float>(s.data(), win, first, row, scale, pk.data());
      kernels::DropoutTriangleRow<float>(ps, skip, threshold, keep, static_cast<size_t>(len),
                                         static_cast<size_t>(h), static_cast<size_t>(i),
                                         m.data() + first);
      const float* cpu_p = probs.data() + (h * len + i) * len;
      const float* cpu_m = mask.data() + (h * len + i) * len;
      for (size_t j = 0; j < win; ++j) {
        const bool live = j >= first && j <= row;
        const float want = live ? cpu_p[j - first] : 0.0f;
        ASSERT_NEAR(pk[j], want, kRel * want + 1e-7) << h << " " << i << " " << j;
        if (live) {
          ASSERT_EQ(m[j], cpu_m[j - first]) << "mask " << h << " " << i << " " << j;
        }
      }
      if (h != heads - 1) continue;
      // dPd = dout_h v_h^T; the body's dS against the layer's.
      std::vector<float> dpd(win, 5.0f), ds(win, -1.0f);
      for (Eigen::Index j = 0; j <= i; ++j) {
        double dot = 0;
        for (Eigen::Index c = 0; c < dh; ++c) {
          dot += static_cast<double>(dout[i * d + h * dh + c]) * v[j * d + h * dh + c];
        }
        dpd[first + j] = static_cast<float>(dot);
      }
      std::vector<float> pcpu(win, 0.0f);
      std::copy(cpu_p, cpu_p + i + 1, pcpu.begin() + first);
      kernels::CausalSoftmaxBackwardRow<float>(pcpu.data(), dpd.data(), m.data(), win, first, row,
                                               scale, ds.data());
      double c = 0;
      for (Eigen::Index j = 0; j <= i; ++j) {
        c += std::abs(static_cast<double>(dpd[first + j]) * m[first + j] * cpu_p[j]);
      }
      for (size_t j = 0; j < win; ++j) {
        const bool live = j >= first && j <= row;
        const float want = live ? sdp[i * len + (j - first)] : 0.0f;
        const double mag = live ? cpu_p[j - first] * (std::abs(dpd[j] * m[j]) + c) * scale : 0.0;
        ASSERT_NEAR(ds[j], want, kRel * mag + 1e-9) << "ds " << i << " " << j;
      }
    }
  }
}

TEST(KernelSoftmax, BackwardBodyMatchesFiniteDifferences) {
  const size_t len = 11, first = 3;
  const double scale = 0.5;
  Vec s = Random(len, 30, 3.0);
  const Vec r = Random(len, 31);
  Vec mask = Random(len, 32);
  for (double& m : mask) m = m < -0.3 ? 0.0 : 1.0 / 0.7;
  for (size_t row : {size_t{3}, size_t{4}, size_t{10}}) {
    SCOPED_TRACE(row);
    Vec p(len);
    // f = sum_j r_j mask_j p_j: dL/d(p o mask) = r.
    auto f = [&] {
      kernels::CausalSoftmaxForwardRow<double>(s.data(), len, first, row, scale, p.data());
      double sum = 0;
      for (size_t j = 0; j < len; ++j) sum += r[j] * mask[j] * p[j];
      return sum;
    };
    f();
    Vec ds(len);
    kernels::CausalSoftmaxBackwardRow<double>(p.data(), r.data(), mask.data(), len, first, row,
                                              scale, ds.data());
    CheckGradient("scores", s, ds, f);
  }
}

// ------------------------------------------------------------------ dropout

TEST(KernelDropout, ThresholdMatchesTheCpuLayer) {
  for (int i = 0; i <= 1000; ++i) {
    const double rate = i / 1001.0;
    ASSERT_EQ(kernels::DropoutThresholdFor(rate), layers::DropoutThreshold(rate)) << rate;
  }
}

TEST(KernelDropout, FlatMasksAreBitwiseTheCpuMasks) {
  for (const StreamKey& key :
       {StreamKey{.seed = 1, .purpose = "dropout"},
        StreamKey{.seed = 42, .purpose = "dropout", .round = 7, .client = 3, .step = 19}}) {
    const PhiloxStream ps = PhiloxStreamOf(key);
    for (double rate : {0.0, 0.1, 0.2, 0.5, 0.9}) {
      for (size_t n : {1, 2, 7, 8, 16, 33, 511, 513, 1025}) {
        for (uint64_t skip : {0, 1, 2, 3, 6}) {
          RandomStream stream(key);
          for (uint64_t w = 0; w < skip; ++w) stream.NextU32();
          std::vector<float> cpu(n), k(n, -1.0f);
          layers::FillDropoutMask(stream, rate, cpu.data(), n);
          // In ranges of 8, as the kernel's threads draw them.
          const uint32_t threshold = kernels::DropoutThresholdFor(rate);
          const float keep = 1.0f / static_cast<float>(1 - rate);
          for (size_t b = 0; b < n; b += 8) {
            kernels::DropoutMaskRange<float>(ps, skip, threshold, keep, b, std::min(n, b + 8),
                                             k.data() + b);
          }
          for (size_t i = 0; i < n; ++i) {
            ASSERT_EQ(std::bit_cast<uint32_t>(k[i]), std::bit_cast<uint32_t>(cpu[i]))
                << rate << " " << n << " " << skip << " " << i;
          }
          EXPECT_EQ(stream.position(), skip + kernels::DropoutWords(n));
        }
      }
    }
  }
}

TEST(KernelDropout, TriangleMasksAreBitwiseTheCpuMasks) {
  const StreamKey key{.seed = 9, .purpose = "dropout", .round = 2, .client = 5, .step = 1};
  const PhiloxStream ps = PhiloxStreamOf(key);
  // 1030 rows reach FillDropoutMaskTriangle's long-row path (> 512 words).
  for (size_t len : {1, 2, 5, 32, 33, 1030}) {
    for (uint64_t skip : {0, 1, 3}) {
      const size_t heads = len > 100 ? 1 : 3;
      const double rate = 0.25;
      RandomStream stream(key);
      for (uint64_t w = 0; w < skip; ++w) stream.NextU32();
      std::vector<float> cpu(heads * len * len, -1.0f), k(heads * len * len, -1.0f);
      for (size_t h = 0; h < heads; ++h) {
        layers::FillDropoutMaskTriangle(stream, rate, cpu.data() + h * len * len, len, len);
      }
      EXPECT_EQ(stream.position(), skip + heads * kernels::TriangleWords(len));
      for (size_t h = 0; h < heads; ++h) {
        for (size_t i = 0; i < len; ++i) {
          kernels::DropoutTriangleRow<float>(ps, skip, kernels::DropoutThresholdFor(rate),
                                             1.0f / 0.75f, len, h, i,
                                             k.data() + (h * len + i) * len);
        }
      }
      ASSERT_EQ(0, std::memcmp(k.data(), cpu.data(), k.size() * sizeof(float)))
          << len << " " << skip;
    }
  }
}

// ------------------------------------------------------- embedding rows

TEST(KernelEmbedding, GatherAndScatterMatchTheCpuLayer) {
  const size_t items = 12, d = 19, n = 30;
  const auto table = RandomFloats(items * d, 40), dout = RandomFloats(n * d, 41);
  std::vector<uint32_t> ids(n);
  RandomStream r({1, "ids"});
  for (uint32_t& id : ids) id = r.NextBelow(items);
  ids[0] = ids[7] = ids[29] = 5;  // a row touched three times
  const float scale = std::sqrt(static_cast<float>(d));
  const auto di = static_cast<Eigen::Index>(d);

  std::vector<float> out(n * d), kout(n * d);
  layers::EmbeddingForward<float>(ConstMatrixMap<float>(table.data(), items, di), ids, scale,
                                  MatrixMap<float>(out.data(), n, di));
  for (size_t t = 0; t < n; ++t) {
    kernels::EmbeddingGatherRow<float>(table.data(), d, ids[t], scale, kout.data() + t * d);
  }
  ExpectClose(kout, out, "gather");

  ParameterStore layout;
  ASSERT_TRUE(layout.Add("emb", items, d).ok());
  layout.Finalize();
  Gradients tracker(layout, {true});
  std::vector<float> dtable = RandomFloats(items * d, 42);
  std::vector<float> kdtable = dtable;
  layers::EmbeddingBackward<float>(ids, scale, ConstMatrixMap<float>(dout.data(), n, di),
                                   MatrixMap<float>(dtable.data(), items, di), &tracker, 0);
  const kernels::ScatterPlan plan = kernels::BuildScatterPlan(ids.data(), n);
  EXPECT_EQ(plan.rows, tracker.TouchedRows(0));  // first-touch order
  for (size_t slot = 0; slot < plan.rows.size(); ++slot) {
    kernels::ScatterAddSlot<float>(plan.rows.data(), plan.offsets.data(), plan.positions.data(),
                                   slot, dout.data(), d, scale, kdtable.data());
  }
  ExpectClose(kdtable, dtable, "scatter");
}

TEST(KernelEmbedding, PaddedPositionsGatherZerosAndScatterNothing) {
  const std::vector<uint32_t> ids = {kernels::kNoItem, 3, kernels::kNoItem, 1, 3};
  const kernels::ScatterPlan plan = kernels::BuildScatterPlan(ids.data(), ids.size());
  EXPECT_EQ(plan.rows, (std::vector<uint32_t>{3, 1}));
  EXPECT_EQ(plan.offsets, (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(plan.positions, (std::vector<uint32_t>{1, 4, 3}));
  const std::vector<float> table(4 * 2, 1.0f);
  std::vector<float> row = {7.0f, 7.0f};
  kernels::EmbeddingGatherRow<float>(table.data(), 2, kernels::kNoItem, 2.0f, row.data());
  EXPECT_EQ(row, (std::vector<float>{0.0f, 0.0f}));
}

TEST(KernelEmbedding, ScatterPlanIsTheSameForSmallAndLargeIds) {
  // Small ids take the array lookup, ids far beyond the count the hash map.
  const std::vector<uint32_t> small = {5, kernels::kNoItem, 2, 5, 9, 2, 2, 0};
  std::vector<uint32_t> large = small;
  for (uint32_t& id : large) {
    if (id != kernels::kNoItem) id += 3000000000u;
  }
  const kernels::ScatterPlan a = kernels::BuildScatterPlan(small.data(), small.size());
  const kernels::ScatterPlan b = kernels::BuildScatterPlan(large.data(), large.size());
  EXPECT_EQ(a.rows, (std::vector<uint32_t>{5, 2, 9, 0}));
  ASSERT_EQ(b.rows.size(), a.rows.size());
  for (size_t k = 0; k < a.rows.size(); ++k) EXPECT_EQ(b.rows[k], a.rows[k] + 3000000000u);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.positions, b.positions);
  EXPECT_EQ(a.positions, (std::vector<uint32_t>{0, 3, 2, 5, 6, 4, 7}));
}

// ---------------------------------------------------------------- BCE loss

TEST(KernelBce, LossAndGradientsMatchLossesH) {
  const auto logits = RandomFloats(400, 50, 30.0);
  for (size_t t = 0; t + 1 < logits.size(); t += 2) {
    const float pos = logits[t], neg = logits[t + 1];
    float gp, gn, kgp, kgn;
    const float want = BceWithLogits<float>(pos, 1.0f, &gp) + BceWithLogits<float>(neg, 0.0f, &gn);
    const float got = kernels::BcePosition<float>(pos, neg, true, &kgp, &kgn);
    ASSERT_NEAR(got, want, kRel * std::max(1.0f, std::abs(want))) << pos << " " << neg;
    ASSERT_NEAR(kgp, gp, kRel * std::max(1.0f, std::abs(gp))) << pos;
    ASSERT_NEAR(kgn, gn, kRel * std::max(1.0f, std::abs(gn))) << neg;
  }
  float gp = 1, gn = 1;
  EXPECT_EQ(kernels::BcePosition<float>(3.0f, -2.0f, false, &gp, &gn), 0.0f);
  EXPECT_EQ(gp, 0.0f);
  EXPECT_EQ(gn, 0.0f);
}

TEST(KernelBce, GradientsMatchFiniteDifferencesThroughTheLogits) {
  const size_t d = 11;
  Vec h = Random(d, 60), ep = Random(d, 61), en = Random(d, 62);
  auto f = [&] {
    double gp, gn;
    return kernels::BcePosition<double>(kernels::RowDot(h.data(), ep.data(), d),
                                        kernels::RowDot(h.data(), en.data(), d), true, &gp, &gn);
  };
  double gp, gn;
  kernels::BcePosition<double>(kernels::RowDot(h.data(), ep.data(), d),
                               kernels::RowDot(h.data(), en.data(), d), true, &gp, &gn);
  Vec dh(d, 0.0);
  kernels::BceHiddenGradRow<double>(gp, ep.data(), gn, en.data(), d, dh.data());
  Vec dep(d), den(d);
  for (size_t j = 0; j < d; ++j) {
    dep[j] = gp * h[j];
    den[j] = gn * h[j];
  }
  CheckGradient("h", h, dh, f);
  CheckGradient("e_pos", ep, dep, f);
  CheckGradient("e_neg", en, den, f);
}

}  // namespace
}  // namespace fedrec
