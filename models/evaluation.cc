#include "models/evaluation.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "core/thread_pool.h"
#include "models/full_ranking.h"

namespace fedrec {
namespace {

// Counts candidates scored strictly above and equal to the target. A NaN
// target ranks below everything; NaN candidates rank below the target.
struct RankCount {
  uint64_t greater = 0;
  uint64_t ties = 0;
};

inline void CountAgainst(float target, float other, RankCount* c) {
  if (std::isnan(target) || other > target) {
    ++c->greater;
  } else if (other == target) {
    ++c->ties;
  }
}

// Per-thread scratch reused across users.
struct Scratch {
  std::vector<uint8_t> marked;  // item -> 1 while it belongs to the current user's set
  std::vector<uint32_t> candidates;
  std::vector<float> scores;
};

// s->candidates = the target, then the sampled protocol's negatives for
// `user`: uniform with replacement over the items the user never touched.
// False when there is no such item.
bool DrawSampledCandidates(const Dataset& data, const EvalOptions& opt, uint32_t user,
                           uint32_t target, Scratch* s) {
  const uint32_t num_items = data.num_items();
  const auto touched = data.Sequence(user);
  uint32_t distinct = 0;
  for (uint32_t item : touched) {
    distinct += s->marked[item] == 0;
    s->marked[item] = 1;
  }
  const bool possible = distinct < num_items;
  if (possible) {
    RandomStream stream({.seed = opt.seed,
                         .purpose = "eval_negatives",
                         .round = static_cast<uint32_t>(opt.part),
                         .client = user});
    s->candidates.assign(1, target);
    for (uint32_t j = 0; j < opt.negatives; ++j) {
      uint32_t item;
      do {
        item = stream.NextBelow(num_items);
      } while (s->marked[item] != 0);
      s->candidates.push_back(item);
    }
  }
  for (uint32_t item : touched) s->marked[item] = 0;
  return possible;
}

// Returns false when the user has no untouched item to draw negatives from.
bool EvaluateUser(const Scorer& scorer, const LeaveOneOutSplit& split, const EvalOptions& opt,
                  uint32_t user, Scratch* s, MetricSums* sums) {
  const Dataset& data = split.data();
  const uint32_t num_items = data.num_items();
  const auto input = split.Input(user, opt.part);
  const uint32_t target = split.Target(user, opt.part);
  RankCount count;

  if (opt.protocol == EvalProtocol::kSampled) {
    if (!DrawSampledCandidates(data, opt, user, target, s)) return false;
    s->scores.resize(s->candidates.size());
    scorer.ScoreCandidates(user, input, s->candidates, s->scores);
    for (size_t j = 1; j < s->scores.size(); ++j) CountAgainst(s->scores[0], s->scores[j], &count);
  } else {
    s->scores.resize(num_items);
    scorer.ScoreAll(user, input, s->scores);
    for (uint32_t item : input) s->marked[item] = 1;
    s->marked[target] = 1;  // the target is compared below, not against itself
    const float t = s->scores[target];
    for (uint32_t item = 0; item < num_items; ++item) {
      if (s->marked[item] == 0) CountAgainst(t, s->scores[item], &count);
    }
    for (uint32_t item : input) s->marked[item] = 0;
    s->marked[target] = 0;
  }
  sums->Add(ExpectedRankMetrics(count.greater, count.ties, opt.k));
  return true;
}

// The selected users in batches through `session`: negatives drawn and
// metrics summed exactly as EvaluateUser does, scores from the session.
absl::StatusOr<EvalResult> EvaluateWithSession(RankingSession& session,
                                               const LeaveOneOutSplit& split,
                                               const EvalOptions& opt) {
  const Dataset& data = split.data();
  const bool subset = !opt.users.empty();
  const size_t scanned = subset ? opt.users.size() : static_cast<size_t>(data.num_users());
  const size_t batch = std::max<size_t>(1, session.max_batch());
  const bool sampled = opt.protocol == EvalProtocol::kSampled;
  Scratch s;
  s.marked.assign(data.num_items(), 0);
  std::vector<RankQuery> queries;
  std::vector<uint32_t> candidates;  // the batch's negatives, query after query
  std::vector<uint64_t> greater(batch), ties(batch);
  EvalResult result;
  size_t next = 0;
  while (next < scanned) {
    const size_t begin = next;
    queries.clear();
    candidates.clear();
    for (; next < scanned && queries.size() < batch; ++next) {
      const uint32_t u = subset ? opt.users[next] : static_cast<uint32_t>(next);
      if (!SelectsUser(split, opt, u)) continue;
      const uint32_t target = split.Target(u, opt.part);
      if (sampled) {
        if (!DrawSampledCandidates(data, opt, u, target, &s)) {
          ++result.skipped_users;
          continue;
        }
        candidates.insert(candidates.end(), s.candidates.begin() + 1, s.candidates.end());
      }
      queries.push_back({.history = split.Input(u, opt.part), .target = target, .candidates = {}});
    }
    // The candidate spans point into one buffer, filled before they are set.
    for (size_t q = 0; sampled && q < queries.size(); ++q) {
      queries[q].candidates =
          std::span<const uint32_t>(candidates).subspan(q * opt.negatives, opt.negatives);
    }
    FEDREC_RETURN_IF_ERROR(session.Rank(queries, std::span(greater).first(queries.size()),
                                        std::span(ties).first(queries.size())));
    for (size_t q = 0; q < queries.size(); ++q) {
      result.sums.Add(ExpectedRankMetrics(greater[q], ties[q], opt.k));
    }
    if (opt.progress != nullptr) opt.progress->Advance(next - begin);
  }
  return result;
}

}  // namespace

absl::StatusOr<EvalProtocol> ParseEvalProtocol(const std::string& name) {
  if (name == "sampled") return EvalProtocol::kSampled;
  if (name == "full") return EvalProtocol::kFull;
  return absl::InvalidArgumentError("protocol '" + name + "' is not one of: sampled, full");
}

absl::StatusOr<std::vector<EvalProtocol>> ParseEvalProtocols(const std::string& list) {
  std::vector<EvalProtocol> out;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    const std::string name = list.substr(start, comma == std::string::npos ? comma : comma - start);
    FEDREC_ASSIGN_OR_RETURN(const EvalProtocol p, ParseEvalProtocol(name));
    if (std::find(out.begin(), out.end(), p) != out.end()) {
      return absl::InvalidArgumentError("protocol '" + name + "' is listed twice in '" + list +
                                        "'");
    }
    out.push_back(p);
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

absl::StatusOr<SplitPart> ParseSplitPart(const std::string& name) {
  if (name == "valid" || name == "validation") return SplitPart::kValidation;
  if (name == "test") return SplitPart::kTest;
  return absl::InvalidArgumentError("split '" + name + "' is not one of: valid, test");
}

const char* EvalProtocolName(EvalProtocol p) {
  return p == EvalProtocol::kSampled ? "sampled" : "full";
}
const char* SplitPartName(SplitPart p) { return p == SplitPart::kValidation ? "valid" : "test"; }

NegativesFit FitOfSampledNegatives(const Dataset& data, uint32_t negatives) {
  NegativesFit fit;
  fit.users = data.num_users();
  std::vector<uint8_t> seen(data.num_items(), 0);
  for (uint32_t u = 0; u < data.num_users(); ++u) {
    const auto items = data.Sequence(u);
    uint32_t distinct = 0;
    for (const uint32_t i : items) {
      distinct += seen[i] == 0;
      seen[i] = 1;
    }
    for (const uint32_t i : items) seen[i] = 0;
    const uint32_t untouched = data.num_items() - distinct;
    fit.most_untouched = std::max(fit.most_untouched, untouched);
    fit.users_short += untouched < negatives ? 1 : 0;
  }
  return fit;
}

absl::StatusOr<EvalResult> Evaluate(const Scorer& scorer, const LeaveOneOutSplit& split,
                                    const EvalOptions& opt) {
  const Dataset& data = split.data();
  if (opt.k == 0) return absl::InvalidArgumentError("eval: k must be at least 1");
  if (opt.protocol == EvalProtocol::kSampled && opt.negatives == 0) {
    return absl::InvalidArgumentError(
        "eval: negatives must be at least 1 for the sampled protocol");
  }
  if (opt.user_stride == 0 || opt.user_offset >= opt.user_stride) {
    return absl::InvalidArgumentError("eval: user_offset must be below a non-zero user_stride");
  }
  if (scorer.num_items() != data.num_items()) {
    return absl::InvalidArgumentError(
        "eval: the model scores " + std::to_string(scorer.num_items()) +
        " items but the dataset has " + std::to_string(data.num_items()));
  }

  if (!opt.target_items.empty() && opt.target_items.size() != data.num_items()) {
    return absl::InvalidArgumentError("eval: target_items has " +
                                      std::to_string(opt.target_items.size()) + " flags for " +
                                      std::to_string(data.num_items()) + " items");
  }
  for (uint32_t u : opt.users) {
    if (u >= data.num_users()) return absl::InvalidArgumentError("eval: user id out of range");
  }
  if (opt.ranking != nullptr) return EvaluateWithSession(*opt.ranking, split, opt);
  if (opt.scorer_ranking) {
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<RankingSession> session, scorer.StartRanking());
    if (session != nullptr) return EvaluateWithSession(*session, split, opt);
  }
  if (opt.protocol == EvalProtocol::kFull && opt.blocked_full &&
      scorer.dot_items().rows != nullptr) {
    return EvaluateFullRankingBlocked(scorer, split, opt);
  }
  const bool subset = !opt.users.empty();
  const uint32_t num_users = subset ? static_cast<uint32_t>(opt.users.size()) : data.num_users();
  constexpr size_t kBlock = 64;  // users per chunk
  // Scratch and sums per thread (a cache line apart); the sums are integers,
  // so the result does not depend on which thread evaluated whom.
  struct alignas(64) PerThread {
    Scratch scratch;
    MetricSums sums;
    uint64_t skipped = 0;
  };
  std::vector<PerThread> per_thread(NumWorkers(num_users, kBlock, opt.threads));
  FEDREC_RETURN_IF_ERROR(ParallelForWithWorker(
      num_users, kBlock, opt.threads, [&](size_t begin, size_t end, size_t, size_t worker) {
        PerThread& t = per_thread[worker];
        if (t.scratch.marked.size() != data.num_items())
          t.scratch.marked.assign(data.num_items(), 0);
        for (size_t i = begin; i < end; ++i) {
          const uint32_t u = subset ? opt.users[i] : static_cast<uint32_t>(i);
          if (!SelectsUser(split, opt, u)) continue;
          if (!EvaluateUser(scorer, split, opt, u, &t.scratch, &t.sums)) ++t.skipped;
        }
        if (opt.progress != nullptr) opt.progress->Advance(end - begin);
        return absl::OkStatus();
      }));
  EvalResult result;
  for (const PerThread& t : per_thread) {
    result.sums.Merge(t.sums);
    result.skipped_users += t.skipped;
  }
  return result;
}

}  // namespace fedrec
