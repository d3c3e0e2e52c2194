// The one seam between models and the evaluation protocol: a Scorer scores
// items for a user's history. Every model (pop, MF, GRU4Rec, SASRec) offers
// one; evaluation and `fedrec recommend` only see this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "models/ranking_session.h"

namespace fedrec {

// Implementations must allow concurrent const calls from several threads
// (evaluation is parallel over users).
class Scorer {
 public:
  static constexpr uint32_t kUnknownUser = 0xFFFFFFFFu;

  virtual ~Scorer() = default;

  virtual uint32_t num_items() const = 0;

  // scores[i] = score of item i for `user` (dense id, or kUnknownUser for
  // a history typed in by hand) whose history is `history` (dense item ids,
  // time order). scores.size() == num_items(). Higher is better. Sequence
  // models read only the history; MF reads only the user.
  virtual void ScoreAll(uint32_t user, std::span<const uint32_t> history,
                        std::span<float> scores) const = 0;

  // scores[j] = score of candidates[j]. The default scores all items and
  // gathers; models override it when a candidate list is cheaper.
  virtual void ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                               std::span<const uint32_t> candidates, std::span<float> scores) const;

  // Dot-product scorers: score(user, item) = ScoreDot(state, rows + item * dim)
  // (models/score_kernel.h) for a per-user state of `dim` floats. Such a
  // scorer exposes its item table and states so that full ranking and top-K
  // can score many users at once in blocks; its ScoreAll and
  // ScoreCandidates must give bitwise those scores. rows == nullptr: not a
  // dot-product scorer (everything goes through ScoreAll).
  struct DotItems {
    const float* rows = nullptr;  // num_items() x dim, row-major
    uint32_t dim = 0;
  };
  virtual DotItems dot_items() const { return {}; }
  // The state `history` (and `user`) score with; state.size() == dim. Only
  // called when dot_items().rows != nullptr.
  virtual void UserState(uint32_t user, std::span<const uint32_t> history,
                         std::span<float> state) const;

  // A batched ranking backend over the current parameters
  // (models/ranking_session.h), or null when this scorer has none (the
  // default: evaluation scores users itself). Errors are the backend's
  // (a device that cannot start).
  virtual absl::StatusOr<std::unique_ptr<RankingSession>> StartRanking() const {
    return std::unique_ptr<RankingSession>();
  }
};

}  // namespace fedrec
