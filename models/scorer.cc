#include "models/scorer.h"

#include <vector>

namespace fedrec {

void Scorer::ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                             std::span<const uint32_t> candidates, std::span<float> scores) const {
  std::vector<float> all(num_items());
  ScoreAll(user, history, all);
  for (size_t j = 0; j < candidates.size(); ++j) scores[j] = all[candidates[j]];
}

}  // namespace fedrec
