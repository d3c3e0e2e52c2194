// The full-ranking protocol for dot-product scorers (Scorer::dot_items),
// as blocked products: users in batches of kUserBatch, their states
// (B x d) against the item table in blocks of kItemBlock rows, counting per
// user the items scored above / equal to the target on the fly, so the
// B x I score matrix is never stored.
//
// Same result as scoring each user with ScoreAll and counting (the
// reference in models/evaluation.cc), bitwise: every score comes from the
// one kernel (models/score_kernel.h), and the items the protocol leaves out
// (the input history, and the target against itself) are counted over the
// whole table first and then taken back, each rescored with ScoreDot, which
// is bitwise the value the block saw.
#pragma once

#include "core/status.h"
#include "data/split.h"
#include "models/evaluation.h"
#include "models/scorer.h"

namespace fedrec {

inline constexpr uint32_t kFullRankingUserBatch = 256;
// 4096 rows of d = 32 floats are 512 KiB: the block stays in L2 while a
// batch of users passes over it.
inline constexpr uint32_t kFullRankingItemBlock = 4096;

// Options already validated by Evaluate; protocol must be full and
// scorer.dot_items().rows non-null.
absl::StatusOr<EvalResult> EvaluateFullRankingBlocked(const Scorer& scorer,
                                                      const LeaveOneOutSplit& split,
                                                      const EvalOptions& options);

}  // namespace fedrec
