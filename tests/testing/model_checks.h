// Shared checks of Model implementations: finite-difference gradient checks
// on sampled entries of every tensor (global and local), determinism, sparse
// rows, ScoreCandidates vs ScoreAll and concurrent scoring.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/random.h"
#include "data/item_features.h"
#include "models/model.h"

namespace fedrec::testing {

// n items of f features, uniform in [-1, 1), from (seed, "test_features",
// tag): content for the text modes' tests.
inline std::shared_ptr<const ItemFeatures> RandomItemFeatures(uint32_t n, uint32_t f,
                                                              uint64_t seed = 5, uint32_t tag = 0) {
  auto feats = std::make_shared<ItemFeatures>();
  feats->num_items = n;
  feats->dim = f;
  RandomStream s({.seed = seed, .purpose = "test_features", .round = tag});
  feats->values.resize(size_t{n} * f);
  for (float& x : feats->values) x = static_cast<float>(2 * s.NextDouble() - 1);
  return feats;
}

// Owns sequences and hands out UserSequence views.
struct Batch {
  std::vector<uint32_t> users;
  std::vector<std::vector<uint32_t>> items;
  std::vector<std::vector<float>> ratings;

  void Add(uint32_t user, std::vector<uint32_t> seq, std::vector<float> r = {}) {
    users.push_back(user);
    items.push_back(std::move(seq));
    ratings.push_back(std::move(r));
  }
  std::vector<UserSequence> View() const {
    std::vector<UserSequence> out;
    for (size_t k = 0; k < users.size(); ++k) out.push_back({users[k], items[k], ratings[k]});
    return out;
  }
};

inline double Loss(Model& model, const std::vector<UserSequence>& batch, const StepKey& key) {
  auto ws = model.NewWorkspace();
  Gradients g = model.NewGlobalGradients();
  Gradients l = model.NewLocalGradients();
  return model.ForwardBackward(batch, key, ws.get(), &g, model.local_params() ? &l : nullptr).loss;
}

struct GradCheckOptions {
  float step = 5e-3f;  // finite-difference step (float parameters)
  double abs_tol = 2e-3;
  double rel_tol = 2e-2;
  size_t entries_per_tensor = 12;
};

// Central differences on sampled entries of every tensor of the global and
// local stores. Entries are drawn from touched rows of sparse tensors (plus
// some untouched rows, whose gradient must be exactly zero and whose
// numerical derivative must vanish too).
inline void CheckGradients(Model& model, const std::vector<UserSequence>& batch, const StepKey& key,
                           const GradCheckOptions& opt = {}) {
  auto ws = model.NewWorkspace();
  Gradients global = model.NewGlobalGradients();
  Gradients local = model.NewLocalGradients();
  const bool has_local = model.local_params() != nullptr;
  model.ForwardBackward(batch, key, ws.get(), &global, has_local ? &local : nullptr);

  RandomStream pick({.seed = 99, .purpose = "gradcheck"});
  size_t checked = 0, nonzero = 0;
  for (int which = 0; which < (has_local ? 2 : 1); ++which) {
    ParameterStore& params = which == 0 ? model.global_params() : *model.local_params();
    Gradients& grads = which == 0 ? global : local;
    for (size_t k = 0; k < params.num_tensors(); ++k) {
      const TensorLayout& t = params.layout()[k];
      TensorView p = params.ViewAt(k);
      const auto g = grads.values().ViewAt(k);
      std::vector<size_t> entries;
      if (grads.IsSparse(k)) {
        const auto& rows = grads.TouchedRows(k);
        for (size_t e = 0; e < opt.entries_per_tensor && !rows.empty(); ++e) {
          entries.push_back(rows[pick.NextBelow(static_cast<uint32_t>(rows.size()))] * t.cols +
                            pick.NextBelow(static_cast<uint32_t>(t.cols)));
        }
        std::set<uint32_t> touched(rows.begin(), rows.end());
        for (int e = 0; e < 2; ++e) {  // untouched rows: gradient exactly zero
          const uint32_t r = pick.NextBelow(static_cast<uint32_t>(t.rows));
          if (touched.contains(r)) continue;
          for (size_t c = 0; c < t.cols; ++c) EXPECT_EQ(g(r, c), 0.0f) << t.name << " row " << r;
          entries.push_back(r * t.cols + pick.NextBelow(static_cast<uint32_t>(t.cols)));
        }
      } else {
        for (size_t e = 0; e < opt.entries_per_tensor; ++e) {
          entries.push_back(pick.NextBelow(static_cast<uint32_t>(t.size())));
        }
      }
      for (size_t idx : entries) {
        const float saved = p.data[idx];
        p.data[idx] = saved + opt.step;
        const double plus = Loss(model, batch, key);
        p.data[idx] = saved - opt.step;
        const double minus = Loss(model, batch, key);
        p.data[idx] = saved;
        const double numeric = (plus - minus) / (2.0 * opt.step);
        const double analytic = g.data[idx];
        EXPECT_NEAR(analytic, numeric, opt.abs_tol + opt.rel_tol * std::abs(numeric))
            << (which == 0 ? "global " : "local ") << t.name << "[" << idx / t.cols << ","
            << idx % t.cols << "]";
        ++checked;
        nonzero += analytic != 0;
      }
    }
  }
  EXPECT_GT(checked, 0u);
  EXPECT_GT(nonzero, checked / 3) << "too few non-zero gradients to be a meaningful check";
}

inline bool BitwiseEqual(const Gradients& a, const Gradients& b) {
  const auto fa = a.values().Flat(), fb = b.values().Flat();
  if (fa.size() != fb.size()) return false;
  if (fa.empty()) return true;
  if (std::memcmp(fa.data(), fb.data(), fa.size() * sizeof(float)) != 0) return false;
  for (size_t k = 0; k < a.values().num_tensors(); ++k) {
    if (a.IsSparse(k) && a.TouchedRows(k) != b.TouchedRows(k)) return false;
  }
  return true;
}

// Same StepKey -> bitwise the same gradients and loss, also from a reused
// workspace and gradient buffer (after Clear()); another step differs.
inline void CheckDeterminism(const Model& model, const std::vector<UserSequence>& batch,
                             const StepKey& key, bool expect_key_dependence) {
  auto ws1 = model.NewWorkspace();
  auto ws2 = model.NewWorkspace();
  const bool has_local = model.local_params() != nullptr;
  Gradients g1 = model.NewGlobalGradients(), l1 = model.NewLocalGradients();
  Gradients g2 = model.NewGlobalGradients(), l2 = model.NewLocalGradients();
  const LossSum a = model.ForwardBackward(batch, key, ws1.get(), &g1, has_local ? &l1 : nullptr);
  // Dirty the second workspace and buffers with another step first.
  StepKey other = key;
  other.step += 1;
  const LossSum c = model.ForwardBackward(batch, other, ws2.get(), &g2, has_local ? &l2 : nullptr);
  const bool differs = c.loss != a.loss;
  g2.Clear();
  l2.Clear();
  const LossSum b = model.ForwardBackward(batch, key, ws2.get(), &g2, has_local ? &l2 : nullptr);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.examples, b.examples);
  EXPECT_TRUE(BitwiseEqual(g1, g2));
  if (has_local) {
    EXPECT_TRUE(BitwiseEqual(l1, l2));
  }
  if (expect_key_dependence) {
    EXPECT_TRUE(differs) << "another step should draw other randomness";
  }
}

// ScoreCandidates equals the gather of ScoreAll; two threads scoring many
// users at once get exactly the single-threaded results.
inline void CheckScoring(const Model& model, const std::vector<uint32_t>& users,
                         const std::vector<std::vector<uint32_t>>& histories) {
  const uint32_t n = model.num_items();
  std::vector<std::vector<float>> expected(users.size(), std::vector<float>(n));
  for (size_t k = 0; k < users.size(); ++k) {
    model.ScoreAll(users[k], histories[k], expected[k]);
    for (float s : expected[k]) ASSERT_TRUE(std::isfinite(s));
    std::vector<uint32_t> cands = {n - 1, 0, n / 2, 0, 1 % n};
    std::vector<float> got(cands.size());
    model.ScoreCandidates(users[k], histories[k], cands, got);
    for (size_t j = 0; j < cands.size(); ++j) {
      EXPECT_NEAR(got[j], expected[k][cands[j]], 1e-5f * (1 + std::abs(expected[k][cands[j]])));
    }
  }
  std::vector<int> mismatches(2, 0);
  auto run = [&](int thread) {
    std::vector<float> scores(n);
    for (int rep = 0; rep < 20; ++rep) {
      for (size_t k = 0; k < users.size(); ++k) {
        const size_t kk = (k + static_cast<size_t>(thread)) % users.size();
        model.ScoreAll(users[kk], histories[kk], scores);
        if (std::memcmp(scores.data(), expected[kk].data(), n * sizeof(float)) != 0) {
          ++mismatches[thread];
        }
      }
    }
  };
  std::thread t0(run, 0), t1(run, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(mismatches[0] + mismatches[1], 0);
}

}  // namespace fedrec::testing
