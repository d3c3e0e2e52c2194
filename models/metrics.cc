#include "models/metrics.h"

#include <algorithm>
#include <cmath>

namespace fedrec {
namespace {

uint64_t ToFixed(double v) { return static_cast<uint64_t>(std::llround(v * MetricSums::kScale)); }

// H(n) = sum_{i=1..n} 1/i: exact below 4096, else the asymptotic series
// ln n + gamma + 1/(2n) - 1/(12n^2) + 1/(120n^4), accurate to ~1e-16 there.
double Harmonic(uint64_t n) {
  if (n <= 4096) {
    double h = 0;
    for (uint64_t i = n; i >= 1; --i) h += 1.0 / static_cast<double>(i);
    return h;
  }
  const double x = static_cast<double>(n);
  return std::log(x) + 0.57721566490153286 + 1.0 / (2 * x) - 1.0 / (12 * x * x) +
         1.0 / (120 * x * x * x * x);
}

}  // namespace

RankMetrics ExpectedRankMetrics(uint64_t greater, uint64_t ties, uint32_t k) {
  RankMetrics m;
  const double positions = static_cast<double>(ties) + 1.0;
  // Ranks r in [greater, greater + ties]; only those below K count for HR/NDCG.
  const uint64_t last = greater + ties;
  if (greater < k) {
    const uint64_t last_counted = std::min<uint64_t>(last, k - 1);
    for (uint64_t r = greater; r <= last_counted; ++r) {
      m.hr += 1.0;
      m.ndcg += 1.0 / std::log2(static_cast<double>(r) + 2.0);
    }
  }
  m.hr /= positions;
  m.ndcg /= positions;
  // MRR averages 1/(r+1) over the tied positions: summed directly for few
  // ties, else H(last+1) - H(greater).
  if (ties <= 4096) {
    for (uint64_t r = greater; r <= last; ++r) m.mrr += 1.0 / (static_cast<double>(r) + 1.0);
  } else {
    m.mrr = Harmonic(last + 1) - Harmonic(greater);
  }
  m.mrr /= positions;
  return m;
}

void MetricSums::Add(const RankMetrics& m) {
  hr += ToFixed(m.hr);
  ndcg += ToFixed(m.ndcg);
  mrr += ToFixed(m.mrr);
  ++users;
}

void MetricSums::Merge(const MetricSums& other) {
  hr += other.hr;
  ndcg += other.ndcg;
  mrr += other.mrr;
  users += other.users;
}

RankMetrics MetricSums::Mean() const {
  if (users == 0) return {};
  const double n = static_cast<double>(users) * kScale;
  return {static_cast<double>(hr) / n, static_cast<double>(ndcg) / n, static_cast<double>(mrr) / n};
}

}  // namespace fedrec
