// Top-k recommendations from a checkpoint: what `fedrec recommend` prints,
// as a library (shared by apps/recommend_command.cc and the Python package).
//
// Ids are the data's original ids (the checkpoint carries the mapping). The
// history's items are left out of the list unless include_history; ties are
// broken by the dense item id, so the answer is stable (NaN scores last).
// Dot-product models are scored in blocks with the evaluation's kernel and
// a k-item heap, so no catalogue-sized score vector is stored.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "data/item_features.h"
#include "models/model.h"
#include "proto/checkpoint.h"

namespace fedrec {

struct RecommendRequest {
  std::vector<uint64_t> history;  // original item ids, time order
  std::optional<uint64_t> user;   // original user id (MF models score by user)
  uint32_t k = 10;                // >= 1
  bool include_history = false;
};

struct Recommendation {
  uint64_t item = 0;  // original item id
  float score = 0;
};

// A checkpoint's model with its id tables, ready to answer many requests.
// Const methods may run concurrently (Model's const thread-safety).
class Recommender {
 public:
  // Builds the model (LoadModel). `where` (the checkpoint's path) prefixes
  // the error for a checkpoint without item ids (InvalidArgument).
  // `features`: the item features a text / id+text model needs (LoadModel).
  static absl::StatusOr<Recommender> Create(Checkpoint checkpoint, const std::string& where,
                                            std::shared_ptr<const ItemFeatures> features = nullptr);

  // InvalidArgument for k = 0, an item or user the model does not know.
  absl::StatusOr<std::vector<Recommendation>> Recommend(const RecommendRequest& request) const;

  const Checkpoint& checkpoint() const { return *checkpoint_; }
  const Model& model() const { return *model_; }

 private:
  Recommender() = default;
  // Behind pointers so that moving a Recommender keeps the model's buffers
  // (and views into them) where they are.
  std::unique_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<Model> model_;
  std::unordered_map<uint64_t, uint32_t> dense_item_;
};

}  // namespace fedrec
