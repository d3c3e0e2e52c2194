#include "models/recommend.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/factory.h"
#include "models/full_ranking.h"
#include "models/score_kernel.h"

namespace fedrec {
namespace {

struct ScoredItem {
  float score;
  uint32_t item;
};

// Highest score first, ties by dense id (a stable answer). NaN scores rank
// below every number (the comparison stays a strict weak order).
bool Better(const ScoredItem& a, const ScoredItem& b) {
  const bool an = std::isnan(a.score), bn = std::isnan(b.score);
  if (an != bn) return bn;
  if (!an && a.score != b.score) return a.score > b.score;
  return a.item < b.item;
}

// The k best items seen so far: a heap with the worst of them on top, so an
// item enters only when it beats that one.
class TopK {
 public:
  explicit TopK(uint32_t k) : k_(k) { heap_.reserve(k); }
  void Offer(const ScoredItem& x) {
    if (heap_.size() < k_) {
      heap_.push_back(x);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (Better(x, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = x;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }
  std::vector<ScoredItem> Sorted() {
    std::sort(heap_.begin(), heap_.end(), Better);
    return std::move(heap_);
  }

 private:
  uint32_t k_;
  std::vector<ScoredItem> heap_;
};

}  // namespace

absl::StatusOr<Recommender> Recommender::Create(Checkpoint checkpoint, const std::string& where,
                                                std::shared_ptr<const ItemFeatures> features) {
  if (checkpoint.item_ids_size() == 0) {
    return absl::InvalidArgumentError(where +
                                      ": the checkpoint carries no item ids to recommend with");
  }
  Recommender r;
  r.checkpoint_ = std::make_unique<Checkpoint>(std::move(checkpoint));
  absl::StatusOr<std::unique_ptr<Model>> model = LoadModel(*r.checkpoint_, std::move(features));
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
  std::vector<uint8_t> seen(n, 0);
  if (!request.include_history) {
    for (uint32_t item : history) seen[item] = 1;
  }
  std::vector<ScoredItem> top;
  const Scorer::DotItems dot = model_->dot_items();
  if (dot.rows != nullptr) {
    // Blocked scores of the one state, the same kernel as evaluation.
    std::vector<float> state(dot.dim), block(std::min(n, kFullRankingItemBlock));
    model_->UserState(user, history, state);
    TopK heap(request.k);
    for (uint32_t i0 = 0; i0 < n; i0 += kFullRankingItemBlock) {
      const uint32_t i1 = std::min(n, i0 + kFullRankingItemBlock);
      ScoreBlock(state.data(), 1, dot.rows, dot.dim, i0, i1, block.data());
      for (uint32_t i = i0; i < i1; ++i) {
        if (seen[i] == 0) heap.Offer({block[i - i0], i});
      }
    }
    top = heap.Sorted();
  } else {
    std::vector<float> scores(n);
    model_->ScoreAll(user, history, scores);
    TopK heap(request.k);
    for (uint32_t i = 0; i < n; ++i) {
      if (seen[i] == 0) heap.Offer({scores[i], i});
    }
    top = heap.Sorted();
  }
  std::vector<Recommendation> out;
  out.reserve(top.size());
  for (const ScoredItem& s : top) out.push_back({checkpoint_->item_ids(s.item), s.score});
  return out;
}

}  // namespace fedrec
