#include "models/layers/dropout.h"

#include <cmath>

namespace fedrec::layers {

uint32_t DropoutThreshold(double rate) {
  if (rate <= 0) return 0;
  const double t = std::round(rate * 65536.0);
  return t >= 65536.0 ? 65536u : static_cast<uint32_t>(t);
}

}  // namespace fedrec::layers
