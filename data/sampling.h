// Small distribution samplers on top of core/random.h streams, shared by the
// synthetic generator and the Dirichlet partitioner. Simulation only.
#pragma once

#include <span>

#include "core/random.h"

namespace fedrec {

// log of a Gamma(shape, 1) draw (Marsaglia & Tsang 2000; for shape < 1 the
// boost G(a) = G(a+1) * U^(1/a), kept in log space so tiny shapes cannot
// underflow to zero). shape > 0.
double SampleLogGamma(RandomStream& rng, double shape);

// A symmetric Dirichlet(alpha, ..., alpha) draw into `out` (sums to 1).
// alpha > 0, out non-empty.
void SampleDirichlet(RandomStream& rng, double alpha, std::span<double> out);

}  // namespace fedrec
