// Parameter initialisation from (seed, "init") streams: each tensor draws
// from its own stream (round = store index, step = tensor index), so adding
// a tensor never shifts the values of the others.
#pragma once

#include <cstdint>

#include "core/param_store.h"
#include "core/random.h"

namespace fedrec {

inline constexpr uint32_t kGlobalStoreIndex = 0;
inline constexpr uint32_t kLocalStoreIndex = 1;

// Entries ~ N(0, stddev^2).
inline void InitNormal(TensorView v, uint64_t seed, uint32_t store, uint32_t tensor,
                       double stddev) {
  RandomStream s({.seed = seed, .purpose = "init", .round = store, .step = tensor});
  for (float& x : v.Flat()) x = static_cast<float>(stddev * s.NextNormal());
}

// Entries ~ U(-bound, bound).
inline void InitUniform(TensorView v, uint64_t seed, uint32_t store, uint32_t tensor,
                        double bound) {
  RandomStream s({.seed = seed, .purpose = "init", .round = store, .step = tensor});
  for (float& x : v.Flat()) x = static_cast<float>(bound * (2 * s.NextDouble() - 1));
}

}  // namespace fedrec
