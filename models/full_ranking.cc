#include "models/full_ranking.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "models/score_kernel.h"

namespace fedrec {
namespace {

struct alignas(64) PerThread {
  std::vector<uint32_t> users;
  std::vector<float> states;  // users x d
  std::vector<float> targets;
  std::vector<uint64_t> greater, ties;
  std::vector<uint32_t> excluded;
  MetricSums sums;
};

// Takes back what the whole-table count included but the protocol leaves
// out: each distinct item of the input history, and the target (compared
// with itself, a tie). A NaN target ranks below every candidate.
void FinishUser(const Scorer::DotItems& items, uint32_t num_items, const float* state,
                float target_score, std::span<const uint32_t> input, uint32_t target,
                std::vector<uint32_t>* excluded, uint64_t* greater, uint64_t* ties) {
  excluded->assign(input.begin(), input.end());
  excluded->push_back(target);
  std::sort(excluded->begin(), excluded->end());
  excluded->erase(std::unique(excluded->begin(), excluded->end()), excluded->end());
  if (std::isnan(target_score)) {
    *greater = num_items - excluded->size();
    *ties = 0;
    return;
  }
  for (const uint32_t item : *excluded) {
    const float s = ScoreDot(state, items.rows + size_t{item} * items.dim, items.dim);
    if (s > target_score) {
      --*greater;
    } else if (s == target_score) {
      --*ties;
    }
  }
}

}  // namespace

absl::StatusOr<EvalResult> EvaluateFullRankingBlocked(const Scorer& scorer,
                                                      const LeaveOneOutSplit& split,
                                                      const EvalOptions& opt) {
  const Scorer::DotItems items = scorer.dot_items();
  const uint32_t d = items.dim;
  const uint32_t num_items = scorer.num_items();
  const bool subset = !opt.users.empty();
  const size_t scanned = subset ? opt.users.size() : static_cast<size_t>(split.data().num_users());
  std::vector<PerThread> per_thread(NumWorkers(scanned, kFullRankingUserBatch, opt.threads));
  FEDREC_RETURN_IF_ERROR(ParallelForWithWorker(
      scanned, kFullRankingUserBatch, opt.threads,
      [&](size_t begin, size_t end, size_t, size_t worker) {
        PerThread& t = per_thread[worker];
        t.users.clear();
        for (size_t i = begin; i < end; ++i) {
          const uint32_t u = subset ? opt.users[i] : static_cast<uint32_t>(i);
          if (SelectsUser(split, opt, u)) t.users.push_back(u);
        }
        const uint32_t n = static_cast<uint32_t>(t.users.size());
        t.states.resize(size_t{n} * d);
        t.targets.resize(n);
        t.greater.assign(n, 0);
        t.ties.assign(n, 0);
        for (uint32_t b = 0; b < n; ++b) {
          const uint32_t u = t.users[b];
          float* state = t.states.data() + size_t{b} * d;
          scorer.UserState(u, split.Input(u, opt.part), {state, d});
          t.targets[b] = ScoreDot(state, items.rows + size_t{split.Target(u, opt.part)} * d, d);
        }
        for (uint32_t i0 = 0; i0 < num_items; i0 += kFullRankingItemBlock) {
          const uint32_t i1 = std::min(num_items, i0 + kFullRankingItemBlock);
          CountAgainstTargets(t.states.data(), n, items.rows, d, i0, i1, t.targets.data(),
                              t.greater.data(), t.ties.data());
        }
        for (uint32_t b = 0; b < n; ++b) {
          const uint32_t u = t.users[b];
          FinishUser(items, num_items, t.states.data() + size_t{b} * d, t.targets[b],
                     split.Input(u, opt.part), split.Target(u, opt.part), &t.excluded,
                     &t.greater[b], &t.ties[b]);
          t.sums.Add(ExpectedRankMetrics(t.greater[b], t.ties[b], opt.k));
        }
        if (opt.progress != nullptr) opt.progress->Advance(end - begin);
        return absl::OkStatus();
      }));
  EvalResult result;
  for (const PerThread& t : per_thread) result.sums.Merge(t.sums);
  return result;
}

}  // namespace fedrec
