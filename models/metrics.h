// Ranking metrics of one target item: HR@K, NDCG@K and MRR.
//
// Ties. A model that gives the target the same score as other candidates
// (the popularity baseline does this constantly) must not be credited with
// the best position among them. fedrec reports the EXPECTED metric under a
// uniformly random order of the tied items: with `greater` candidates scored
// strictly above the target and `ties` others scored equal, the target's
// 0-based rank r is uniform on {greater, ..., greater + ties}, and
//   HR@K   = P(r < K)
//   NDCG@K = E[ 1/log2(r + 2) ; r < K ]   (one relevant item, so IDCG = 1)
//   MRR    = E[ 1/(r + 1) ]                (not truncated at K)
// This is deterministic and equals the usual definitions when there are no ties.
//
// Sums over users are kept in fixed point (MetricSums) so that adding them in
// any order — over threads or over workers — gives bitwise the same result.
#pragma once

#include <cstdint>

namespace fedrec {

struct RankMetrics {
  double hr = 0;
  double ndcg = 0;
  double mrr = 0;
};

RankMetrics ExpectedRankMetrics(uint64_t greater, uint64_t ties, uint32_t k);

// Order-independent sums of per-user metrics: each value in [0, 1] is rounded
// to a multiple of 2^-32 and summed as an integer. 64-bit sums hold up to
// 2^31 users; the rounding error of a mean is below 2^-32.
struct MetricSums {
  static constexpr double kScale = 4294967296.0;  // 2^32

  uint64_t hr = 0;
  uint64_t ndcg = 0;
  uint64_t mrr = 0;
  uint64_t users = 0;

  void Add(const RankMetrics& m);
  void Merge(const MetricSums& other);
  // Means over users (all zero when users == 0).
  RankMetrics Mean() const;
};

}  // namespace fedrec
