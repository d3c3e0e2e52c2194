#include "models/recommend.h"

#include <algorithm>
#include <numeric>

#include "models/factory.h"

namespace fedrec {

absl::StatusOr<Recommender> Recommender::Create(Checkpoint checkpoint, const std::string& where) {
  if (checkpoint.item_ids_size() == 0) {
    return absl::InvalidArgumentError(where +
                                      ": the checkpoint carries no item ids to recommend with");
  }
  Recommender r;
  r.checkpoint_ = std::make_unique<Checkpoint>(std::move(checkpoint));
  absl::StatusOr<std::unique_ptr<Model>> model = LoadModel(*r.checkpoint_);
  if (!model.ok()) return WithContext(model.status(), where);
  r.model_ = std::move(*model);
  for (int i = 0; i < r.checkpoint_->item_ids_size(); ++i) {
    r.dense_item_.emplace(r.checkpoint_->item_ids(i), static_cast<uint32_t>(i));
  }
  return r;
}

absl::StatusOr<std::vector<Recommendation>> Recommender::Recommend(
    const RecommendRequest& request) const {
  if (request.k == 0) return absl::InvalidArgumentError("recommend: -k must be at least 1");
  std::vector<uint32_t> history;
  history.reserve(request.history.size());
  for (uint64_t id : request.history) {
    const auto it = dense_item_.find(id);
    if (it == dense_item_.end()) {
      return absl::InvalidArgumentError("--history: item " + std::to_string(id) +
                                        " is not in the model's catalogue");
    }
    history.push_back(it->second);
  }
  uint32_t user = Scorer::kUnknownUser;
  if (request.user) {
    const auto& ids = checkpoint_->user_ids();
    const auto pos = std::find(ids.begin(), ids.end(), *request.user);
    if (pos == ids.end()) {
      return absl::InvalidArgumentError("--user: '" + std::to_string(*request.user) +
                                        "' is not a user of the model");
    }
    user = static_cast<uint32_t>(pos - ids.begin());
  }

  const uint32_t n = model_->num_items();
  std::vector<float> scores(n);
  model_->ScoreAll(user, history, scores);
  std::vector<uint32_t> candidates(n);
  std::iota(candidates.begin(), candidates.end(), 0u);
  if (!request.include_history) {
    std::vector<uint8_t> seen(n, 0);
    for (uint32_t item : history) seen[item] = 1;
    std::erase_if(candidates, [&](uint32_t item) { return seen[item] != 0; });
  }
  const size_t k = std::min<size_t>(request.k, candidates.size());
  // Highest score first; ties by dense id for a stable answer.
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(),
                    [&](uint32_t a, uint32_t b) {
                      return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
                    });
  std::vector<Recommendation> out;
  out.reserve(k);
  for (size_t r = 0; r < k; ++r) {
    out.push_back({checkpoint_->item_ids(candidates[r]), scores[candidates[r]]});
  }
  return out;
}

}  // namespace fedrec
