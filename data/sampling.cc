#include "data/sampling.h"

#include <algorithm>
#include <cmath>

namespace fedrec {

double SampleLogGamma(RandomStream& rng, double shape) {
  if (shape < 1.0) {
    const double u = 1.0 - rng.NextDouble();  // (0, 1]
    return SampleLogGamma(rng, shape + 1.0) + std::log(u) / shape;
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = rng.NextNormal();
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = 1.0 - rng.NextDouble();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return std::log(d * v);
  }
}

void SampleDirichlet(RandomStream& rng, double alpha, std::span<double> out) {
  double max_log = -INFINITY;
  for (double& x : out) {
    x = SampleLogGamma(rng, alpha);
    max_log = std::max(max_log, x);
  }
  double sum = 0.0;
  for (double& x : out) {
    x = std::exp(x - max_log);
    sum += x;
  }
  for (double& x : out) x /= sum;
}

}  // namespace fedrec
