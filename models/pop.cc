#include "models/pop.h"

#include <algorithm>

namespace fedrec {

PopularityModel PopularityModel::Fit(const LeaveOneOutSplit& split) {
  PopularityModel model;
  const Dataset& data = split.data();
  model.counts_.assign(data.num_items(), 0.0f);
  for (uint32_t u = 0; u < data.num_users(); ++u) {
    for (uint32_t item : split.Train(u)) model.counts_[item] += 1.0f;
  }
  return model;
}

void PopularityModel::ScoreAll(uint32_t, std::span<const uint32_t>, std::span<float> scores) const {
  std::copy(counts_.begin(), counts_.end(), scores.begin());
}

void PopularityModel::ScoreCandidates(uint32_t, std::span<const uint32_t>,
                                      std::span<const uint32_t> candidates,
                                      std::span<float> scores) const {
  for (size_t j = 0; j < candidates.size(); ++j) scores[j] = counts_[candidates[j]];
}

}  // namespace fedrec
