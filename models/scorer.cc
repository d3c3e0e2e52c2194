#include "models/scorer.h"

#include <algorithm>
#include <vector>

namespace fedrec {

void Scorer::ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                             std::span<const uint32_t> candidates, std::span<float> scores) const {
  std::vector<float> all(num_items());
  ScoreAll(user, history, all);
  for (size_t j = 0; j < candidates.size(); ++j) scores[j] = all[candidates[j]];
}

void Scorer::UserState(uint32_t, std::span<const uint32_t>, std::span<float> state) const {
  std::fill(state.begin(), state.end(), 0.0f);
}

}  // namespace fedrec
