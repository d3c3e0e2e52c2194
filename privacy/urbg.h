// PhiloxUrbg: a 64-bit UniformRandomBitGenerator over a counter-based Philox
// stream (core/random.h), for the DP noise samplers when a run pins
// `privacy.noise_seed` (reproducible experiments) and in tests.
//
// NOT a source of secrets: the output is a pure function of the StreamKey.
// Production noise uses SecureUrbg (core/csprng.h). The samplers of this room
// are templates over any URBG with result_type uint64_t, min() 0 and max()
// 2^64 - 1 (both of these qualify).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "core/random.h"

namespace fedrec::privacy {

// A URBG whose every call returns 64 uniformly random bits.
template <class G>
concept Urbg64 = requires(G& g) {
  { g() } -> std::same_as<typename G::result_type>;
}
&&std::same_as<typename G::result_type, uint64_t> && (G::min() == 0) &&
    (G::max() == std::numeric_limits<uint64_t>::max());

// out[0..n) = n successive words of g (the words n calls of g() would
// return, in order), through g.Fill where the generator has one.
template <Urbg64 G>
void FillWords(G& g, uint64_t* out, size_t n) {
  if constexpr (requires { g.Fill(out, n); }) {
    g.Fill(out, n);
  } else {
    for (size_t k = 0; k < n; ++k) out[k] = g();
  }
}

class PhiloxUrbg {
 public:
  using result_type = uint64_t;
  explicit PhiloxUrbg(const StreamKey& key) : stream_(key) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() { return stream_.NextU64(); }

 private:
  RandomStream stream_;
};

}  // namespace fedrec::privacy
