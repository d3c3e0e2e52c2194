// Double-precision copies of a SASRec model's parameters and the
// central-difference check, for the gradient checks that run
// models/sasrec_impl.h in double (sasrec_test, sequence_losses_test,
// item_repr_test).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "core/param_store.h"
#include "core/random.h"

namespace fedrec::testing {

using Vec = std::vector<double>;

// Checks analytic[i] against the central difference of f at x[i] for the
// given indices (all when empty).
inline void CheckGradient(const std::string& what, Vec& x, const Vec& analytic,
                          const std::function<double()>& f, std::vector<size_t> indices = {}) {
  if (indices.empty()) {
    indices.resize(x.size());
    std::iota(indices.begin(), indices.end(), 0);
  }
  const double eps = 1e-6;
  for (size_t i : indices) {
    const double saved = x[i];
    x[i] = saved + eps;
    const double up = f();
    x[i] = saved - eps;
    const double down = f();
    x[i] = saved;
    const double numeric = (up - down) / (2 * eps);
    EXPECT_NEAR(analytic[i], numeric, 1e-6 + 1e-5 * std::abs(numeric)) << what << "[" << i << "]";
  }
}

// n values uniform in [-scale, scale), keyed by `tag`.
inline Vec Random(size_t n, uint32_t tag, double scale = 1.0) {
  RandomStream s({7, "test", tag, 0, 0});
  Vec v(n);
  for (double& x : v) x = (2 * s.NextDouble() - 1) * scale;
  return v;
}

// params[k] = tensor k of the store (plus noise), grads[k] = 0; pp and gp
// point at them in tensor order, as SequenceLoss<double> takes them. Moving
// the struct keeps the pointers valid (the vectors' buffers move with it).
struct DoubleParams {
  std::vector<Vec> params, grads;
  std::vector<const double*> pp;
  std::vector<double*> gp;
};

// With noise > 0, every entry gets Random(size, 100 + k, noise) added, so that
// biases, betas and gammas are generic (they start at 0 and 1).
inline DoubleParams DoubleCopy(const ParameterStore& store, double noise = 0) {
  DoubleParams d;
  d.params.resize(store.num_tensors());
  d.grads.resize(store.num_tensors());
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    ConstTensorView v = store.ViewAt(k);
    d.params[k].assign(v.data, v.data + v.size());
    if (noise > 0) {
      const Vec n = Random(v.size(), 100 + static_cast<uint32_t>(k), noise);
      for (size_t i = 0; i < v.size(); ++i) d.params[k][i] += n[i];
    }
    d.grads[k].assign(v.size(), 0.0);
    d.pp.push_back(d.params[k].data());
    d.gp.push_back(d.grads[k].data());
  }
  return d;
}

}  // namespace fedrec::testing
