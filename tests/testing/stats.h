// Statistics for randomised tests.
#pragma once

#include <cstdint>
#include <vector>

namespace fedrec::testing {

// Pearson chi-square statistic of `counts` against a uniform expectation.
inline double ChiSquareUniform(const std::vector<uint64_t>& counts) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  const double expected = static_cast<double>(total) / static_cast<double>(counts.size());
  double chi2 = 0;
  for (uint64_t c : counts) {
    const double d = static_cast<double>(c) - expected;
    chi2 += d * d / expected;
  }
  return chi2;
}

}  // namespace fedrec::testing
