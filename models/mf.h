// Matrix factorisation models: MF-BPR (implicit feedback) and MF with
// explicit ratings.
//
// Both keep the user embedding (and, for ratings, the user bias) as LOCAL
// parameters (local_params(): one row per user, never aggregated, never
// leaving the user's worker); item tables are GLOBAL and row-sparse.
//
// Unknown users. MF scores from the user's embedding, not from the history,
// so a user the model has no row for (Scorer::kUnknownUser, e.g. a history
// typed into `fedrec recommend`, or any id >= num_users) cannot be
// personalised. ScoreAll/ScoreCandidates then fall back to the item terms
// that do not depend on the user: item_bias[i] for MF-BPR (a popularity-like
// prior) and global_mean + item_bias[i] for MF-rating. The history is never
// read.
//
// Randomness (DESIGN.md): initialisation from (seed, "init", tensor index);
// MF-BPR negatives from (seed, "train_negatives", epoch, user, step).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/param_store.h"
#include "core/status.h"
#include "data/split.h"
#include "models/item_repr.h"
#include "models/item_table.h"
#include "models/model.h"
#include "models/negatives.h"

namespace fedrec {

struct MfBprOptions {
  uint32_t num_users = 0;
  uint32_t num_items = 0;
  uint32_t dim = 64;
  // Per training triple (u, i, j): loss += l2/2 * (|u|^2 + |e_i|^2 + |e_j|^2
  // + b_i^2 + b_j^2), the usual per-sample BPR regulariser. 0 = off.
  float l2 = 0.0f;
  float init_std = 0.1f;           // embeddings ~ N(0, init_std^2); biases start at 0
  ItemReprOptions item_repr = {};  // id, text or id+text (models/item_repr.h)
};

// score(u, i) = user_emb[u] . e_i + item_bias[i], where e_i is the item's
// representation (models/item_repr.h): item_emb[i] (id), Adapter(f_i)
// (text) or their sum (id+text). A text model has no item_bias (it would be
// a per-item parameter): score(u, i) = user_emb[u] . Adapter(f_i), and its
// global parameters are the adapter alone.
// Training: every training interaction (u, i) of the user is one BPR example
// against ONE negative j drawn uniformly from the items not in the user's
// training sequence: loss = -log sigmoid(score(u, i) - score(u, j)); with l2
// the regulariser reads the representations e_i, e_j.
// A user who has touched every item contributes nothing (no negative exists).
// Global: the item tensors of the layout ("item_emb", num_items x dim,
// sparse; the adapter's, dense), then "item_bias" (num_items x 1, sparse;
// id and id+text). Local: "user_emb" (num_users x dim, sparse in the
// gradients).
class MfBprModel final : public Model {
 public:
  // InvalidArgument for zero users, items or dim, negative l2 or init_std;
  // ValidateItemRepr's errors for the text modes, whose `features` are shared
  // read-only for the model's life.
  static absl::StatusOr<std::unique_ptr<MfBprModel>> Create(
      const MfBprOptions& options, std::shared_ptr<const ItemFeatures> features = nullptr);

  const MfBprOptions& options() const { return options_; }
  std::string type() const override { return "mf_bpr"; }
  uint32_t num_items() const override { return options_.num_items; }
  uint32_t num_users() const { return options_.num_users; }

  ParameterStore& global_params() override { return global_; }
  const ParameterStore& global_params() const override { return global_; }
  ParameterStore* local_params() override { return &local_; }
  const ParameterStore* local_params() const override { return &local_; }
  Gradients NewGlobalGradients() const override;
  Gradients NewLocalGradients() const override;
  std::unique_ptr<Workspace> NewWorkspace() const override;

  // `workspace` must come from this model's NewWorkspace(); local_grads must
  // not be null; every batch user must be < num_users().
  LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                          Workspace* workspace, Gradients* global_grads,
                          Gradients* local_grads) const override;
  void Initialize(uint64_t seed) override;
  // Never a sampled negative.
  absl::Status SetNegativeExclusions(std::span<const uint8_t> excluded) override;

  void ScoreAll(uint32_t user, std::span<const uint32_t> history,
                std::span<float> scores) const override;
  void ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                       std::span<const uint32_t> candidates,
                       std::span<float> scores) const override;

  // Tensor indices in the stores: item_emb and item_bias as an id model lays
  // them out (text modes: item_layout(), bias_tensor()).
  static constexpr size_t kItemEmb = 0, kItemBias = 1;  // global, id
  static constexpr size_t kUserEmb = 0;                 // local
  const ItemLayout& item_layout() const { return layout_; }
  // item_bias's index in the global store; npos for a text model.
  static constexpr size_t kNoBias = static_cast<size_t>(-1);
  size_t bias_tensor() const { return bias_; }
  // The items SetNegativeExclusions excluded.
  const ExcludedItems& excluded_items() const { return excluded_; }

 private:
  MfBprModel(const MfBprOptions& options, std::shared_ptr<const ItemFeatures> features);
  // The text modes' ForwardBackward: the batch's items adapted once.
  LossSum FeatureForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                 Workspace* workspace, Gradients* global_grads,
                                 Gradients* local_grads) const;

  MfBprOptions options_;
  ItemLayout layout_;
  size_t bias_ = kItemBias;
  std::shared_ptr<const ItemFeatures> features_;    // text modes
  std::unique_ptr<AdaptedTableCache> table_cache_;  // text modes: scoring rows
  ExcludedItems excluded_;
  ParameterStore global_;
  ParameterStore local_;
};

namespace mf_internal {

// MF-BPR's negatives of one user, exactly as MfBprModel draws them: one per
// training item of `seq`, uniform over the items neither the user's nor
// excluded, from (seed, "train_negatives", epoch, user, step). False when
// no such item is left (the user is skipped). `sampler` has the catalogue's
// size.
bool DrawBprNegatives(const UserSequence& seq, const StepKey& key, const ExcludedItems& excluded,
                      UnseenItemSampler& sampler, std::vector<uint32_t>* negatives);

}  // namespace mf_internal

struct MfRatingOptions {
  uint32_t num_users = 0;
  uint32_t num_items = 0;
  uint32_t dim = 64;
  // loss += l2/2 * (|u|^2 + |e_i|^2 + b_u^2 + b_i^2) per rated interaction.
  float l2 = 0.0f;
  float init_std = 0.1f;
  // Initial value of "global_mean" (e.g. TrainingMeanRating(split)); the
  // parameter is then trained like the others.
  float global_mean = 0.0f;
};

// prediction(u, i) = global_mean + user_bias[u] + item_bias[i]
//                    + user_emb[u] . item_emb[i]
// Training: loss = sum over the user's training interactions of
// (prediction - rating)^2 (LossSum.examples = interactions, so loss/examples
// is the MSE). UserSequence::ratings must be parallel to items (precondition;
// a mismatch aborts). ScoreAll returns predicted ratings.
// Global: "item_emb" (num_items x dim, sparse), "item_bias" (num_items x 1,
// sparse), "global_mean" (1 x 1). Local: "user_emb" (num_users x dim),
// "user_bias" (num_users x 1), both sparse in the gradients.
class MfRatingModel final : public Model {
 public:
  // InvalidArgument for zero users, items or dim, negative l2 or init_std,
  // non-finite global_mean.
  static absl::StatusOr<std::unique_ptr<MfRatingModel>> Create(const MfRatingOptions& options);

  const MfRatingOptions& options() const { return options_; }
  std::string type() const override { return "mf_rating"; }
  uint32_t num_items() const override { return options_.num_items; }
  uint32_t num_users() const { return options_.num_users; }

  ParameterStore& global_params() override { return global_; }
  const ParameterStore& global_params() const override { return global_; }
  ParameterStore* local_params() override { return &local_; }
  const ParameterStore* local_params() const override { return &local_; }
  Gradients NewGlobalGradients() const override;
  Gradients NewLocalGradients() const override;
  std::unique_ptr<Workspace> NewWorkspace() const override;

  // local_grads must not be null; every batch user must be < num_users().
  LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                          Workspace* workspace, Gradients* global_grads,
                          Gradients* local_grads) const override;
  // Embeddings ~ N(0, init_std^2), biases 0, global_mean = options.global_mean.
  void Initialize(uint64_t seed) override;

  // Predicted rating; an unknown user (>= num_users) gets
  // global_mean + item_bias[item].
  float PredictRating(uint32_t user, uint32_t item) const;

  void ScoreAll(uint32_t user, std::span<const uint32_t> history,
                std::span<float> scores) const override;
  void ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                       std::span<const uint32_t> candidates,
                       std::span<float> scores) const override;

  static constexpr size_t kItemEmb = 0, kItemBias = 1, kGlobalMean = 2;  // global
  static constexpr size_t kUserEmb = 0, kUserBias = 1;                   // local

 private:
  explicit MfRatingModel(const MfRatingOptions& options);

  MfRatingOptions options_;
  ParameterStore global_;
  ParameterStore local_;
};

// Mean of the ratings of every user's training part (split.Train), 0 when
// there are none: the usual initial global_mean.
float TrainingMeanRating(const LeaveOneOutSplit& split);

struct RatingMetrics {
  double rmse = 0;
  double mae = 0;
  uint64_t count = 0;  // held-out targets scored
};

// RMSE and MAE of model.PredictRating(u, target) against the true rating of
// the held-out target of `part`, over every evaluable user (split.IsEvaluable).
// Runs on `threads` threads (0 = all cores); per-user errors are summed in
// chunks whose boundaries depend only on the user count, reduced in chunk
// order, so the result is bitwise independent of the thread count.
// InvalidArgument when the model's user or item count does not match the
// dataset or when no user is evaluable.
absl::StatusOr<RatingMetrics> EvaluateRatings(const MfRatingModel& model,
                                              const LeaveOneOutSplit& split, SplitPart part,
                                              size_t threads = 0);

}  // namespace fedrec
