// A batched ranking backend for the evaluation protocol: a scorer that can
// rank many users at once somewhere else (the GPU) offers a RankingSession
// (Scorer::StartRanking), and Evaluate (models/evaluation.h) hands it the
// users in batches instead of scoring them one by one.
//
// A session ranks with the model's parameters as they were when it started;
// start a new one after the parameters change. Its counts follow
// models/evaluation.h's rules (the target against the competitors, ties
// counted apart, a NaN target below every competitor, NaN competitors below
// the target), computed from its own scores: they equal the scorer's own
// counts up to float rounding of scores that nearly tie.
//
// Thread safety: a session is used by one thread at a time.
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"

namespace fedrec {

struct RankQuery {
  std::span<const uint32_t> history;  // the input prefix, time order
  uint32_t target = 0;
  // Sampled protocol: the competitors (repeats count each time). Empty:
  // full ranking, every item but the history's and the target.
  std::span<const uint32_t> candidates;
};

class RankingSession {
 public:
  virtual ~RankingSession() = default;
  // The most queries one Rank call takes.
  virtual size_t max_batch() const = 0;
  // For query q: greater[q] / ties[q] = competitors scored strictly above /
  // equal to the target. queries.size() <= max_batch().
  virtual absl::Status Rank(std::span<const RankQuery> queries, std::span<uint64_t> greater,
                            std::span<uint64_t> ties) = 0;
};

}  // namespace fedrec
