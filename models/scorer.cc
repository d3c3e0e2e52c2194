#include "models/scorer.h"

#include <vector>

namespace fedrec {

void Scorer::ScoreCandidates(std::span<const uint32_t> history,
                             std::span<const uint32_t> candidates, std::span<float> scores) const {
  std::vector<float> all(num_items());
  ScoreAll(history, all);
  for (size_t j = 0; j < candidates.size(); ++j) scores[j] = all[candidates[j]];
}

}  // namespace fedrec
