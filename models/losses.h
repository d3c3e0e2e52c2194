// Losses on logits with their exact gradients. Templated on the scalar so
// gradient checks can run in double; models instantiate float.
//
// Numerically stable forms:
//   softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
//   BCE(logit, y)      = softplus(logit) - y * logit,      d/dlogit = sigmoid(logit) - y
//   BPR(pos, neg)      = softplus(-(pos - neg)),           d/dpos = -sigmoid(-(pos - neg))
//   CE(logits, target) = logsumexp(logits) - logits[target], d/dlogit_j = softmax_j - [j == target]
// Sampled softmax is CE over [positive, negatives...] with target 0 (no
// logQ correction: negatives are drawn uniformly).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

namespace fedrec {

template <typename T>
T Softplus(T x) {
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}

template <typename T>
T Sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// Returns the loss; *dlogit = d loss / d logit.
template <typename T>
T BceWithLogits(T logit, T label, T* dlogit) {
  *dlogit = Sigmoid(logit) - label;
  return Softplus(logit) - label * logit;
}

// Returns -log sigmoid(pos - neg); writes both partial derivatives.
template <typename T>
T BprLoss(T pos, T neg, T* dpos, T* dneg) {
  const T diff = pos - neg;
  const T g = -Sigmoid(-diff);
  *dpos = g;
  *dneg = -g;
  return Softplus(-diff);
}

// Cross-entropy of softmax(logits) against `target`; dlogits.size() == logits.size().
template <typename T>
T SoftmaxCrossEntropy(std::span<const T> logits, uint32_t target, std::span<T> dlogits) {
  const T max = *std::max_element(logits.begin(), logits.end());
  T sum = 0;
  for (size_t j = 0; j < logits.size(); ++j) {
    dlogits[j] = std::exp(logits[j] - max);
    sum += dlogits[j];
  }
  const T inv = T(1) / sum;
  for (size_t j = 0; j < logits.size(); ++j) dlogits[j] *= inv;
  dlogits[target] -= T(1);
  return std::log(sum) + max - logits[target];
}

}  // namespace fedrec
