// Largest |a - b| over the largest |b|: how the GPU-side tests compare two
// runs that agree up to float rounding.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace fedrec::testing {

inline double RelativeError(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, largest = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
    largest = std::max(largest, static_cast<double>(std::abs(b[i])));
  }
  return diff / std::max(largest, 1e-30);
}

}  // namespace fedrec::testing
