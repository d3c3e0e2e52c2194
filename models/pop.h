// The popularity baseline: every user gets the same ranking, items ordered by
// how often they occur in the training parts of all sequences (never in a
// validation or test target, so it does not peek).
#pragma once

#include <vector>

#include "data/split.h"
#include "models/scorer.h"

namespace fedrec {

class PopularityModel final : public Scorer {
 public:
  // Counts item occurrences in split.Train(u) over all users.
  static PopularityModel Fit(const LeaveOneOutSplit& split);

  uint32_t num_items() const override { return static_cast<uint32_t>(counts_.size()); }
  void ScoreAll(uint32_t user, std::span<const uint32_t> history,
                std::span<float> scores) const override;
  void ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                       std::span<const uint32_t> candidates,
                       std::span<float> scores) const override;

  const std::vector<float>& counts() const { return counts_; }

 private:
  std::vector<float> counts_;
};

}  // namespace fedrec
