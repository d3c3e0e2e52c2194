// The evaluation protocol every model is measured with (DESIGN.md
// "Evaluation protocol", docs/ARCHITECTURE.md "Evaluation").
//
// For each evaluable user (>= 3 interactions) and the chosen split part, the
// model scores the held-out target given the input prefix, and the target's
// rank gives HR@K, NDCG@K and MRR (models/metrics.h, ties in expectation):
//   sampled: the target against `negatives` items drawn uniformly, with
//            replacement as in the SASRec paper's code, from the items the
//            user never touched (whole sequence, including both targets),
//            from the stream (seed, "eval_negatives", part, user, 0).
//            All users are evaluated (no 10k-user subsample).
//   full:    the target against every item except the items of the input
//            history (the target itself is always kept, even when it
//            repeats an earlier item).
// Results are independent of the thread count: per-user metrics are summed
// in fixed point (MetricSums).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "data/split.h"
#include "models/metrics.h"
#include "models/ranking_session.h"
#include "models/scorer.h"

namespace fedrec {

enum class EvalProtocol { kSampled, kFull };

absl::StatusOr<EvalProtocol> ParseEvalProtocol(const std::string& name);
// "sampled,full", "full", ...: a comma-separated list of distinct protocols
// (eval.final_protocols), in the order given.
absl::StatusOr<std::vector<EvalProtocol>> ParseEvalProtocols(const std::string& list);
absl::StatusOr<SplitPart> ParseSplitPart(const std::string& name);
const char* EvalProtocolName(EvalProtocol p);
const char* SplitPartName(SplitPart p);

struct EvalOptions {
  EvalProtocol protocol = EvalProtocol::kSampled;
  SplitPart part = SplitPart::kValidation;
  uint32_t k = 10;
  uint32_t negatives = 100;
  uint64_t seed = 0;
  uint32_t threads = 0;  // 0 = all cores
  // Evaluate only users u with u % user_stride == user_offset: lets W workers
  // each take a share; their MetricSums merge to the single-process result.
  uint32_t user_offset = 0;
  uint32_t user_stride = 1;
  // When non-empty: evaluate only these users (a federated worker's own
  // users; ascending, < num_users), combined with offset/stride.
  std::span<const uint32_t> users = {};
  // When non-empty (one flag per item): evaluate only the users whose target
  // for `part` is a flagged item, e.g. the cold items of eval.cold_items
  // (data/cold_items.h); combined with the user selections above.
  std::span<const uint8_t> target_items = {};
  // When set, advanced by the number of users scanned (evaluable or not), so
  // its total should be the number of users (or of `users`).
  ProgressReporter* progress = nullptr;
  // Full protocol with a dot-product scorer (Scorer::dot_items): blocked
  // products over batches of users (models/full_ranking.h), bitwise the same
  // metrics as the per-user path; false forces the per-user path (tests and
  // the benchmark compare the two).
  bool blocked_full = true;
  // A batched ranking backend (models/ranking_session.h, e.g. the GPU) that
  // ranks the selected users in batches instead of the scorer; when null
  // and `scorer_ranking` is set, the scorer's StartRanking() is used if it
  // offers one. Negatives, selections and metrics are the same; scores come
  // from the backend (equal up to float rounding).
  RankingSession* ranking = nullptr;
  bool scorer_ranking = true;
};

struct EvalResult {
  MetricSums sums;
  uint64_t skipped_users = 0;  // evaluable users with no untouched item to sample
  RankMetrics Mean() const { return sums.Mean(); }
};

// How the sampled protocol's negatives fit the data: negatives are drawn
// among the items a user never touched, so a user with fewer untouched
// items than `negatives` gets repeated draws (skewed metrics), and when even
// the lightest user has fewer, every draw repeats.
struct NegativesFit {
  uint32_t most_untouched = 0;  // the most untouched items of any user
  uint64_t users_short = 0;     // users with fewer untouched items than negatives
  uint64_t users = 0;
};
NegativesFit FitOfSampledNegatives(const Dataset& data, uint32_t negatives);

// Whether `options` select `user` for evaluation: evaluable, in the stride,
// and with a flagged target when target_items is set. (`users` is applied
// by the caller, which iterates over it.)
inline bool SelectsUser(const LeaveOneOutSplit& split, const EvalOptions& options, uint32_t user) {
  if (user % options.user_stride != options.user_offset || !split.IsEvaluable(user)) return false;
  return options.target_items.empty() ||
         options.target_items[split.Target(user, options.part)] != 0;
}

// Evaluates `scorer` on `split`. InvalidArgument for bad options (k == 0,
// negatives == 0 with the sampled protocol, stride 0, scorer item count not
// matching the dataset, target_items neither empty nor one flag per item).
absl::StatusOr<EvalResult> Evaluate(const Scorer& scorer, const LeaveOneOutSplit& split,
                                    const EvalOptions& options);

}  // namespace fedrec
