// GRU4Rec (Hidasi et al., ICLR 2016; with the sequence-to-sequence training
// of the later "GRU4Rec+" reproductions): item embedding -> stacked GRU
// layers -> the hidden state at every position is scored against the SHARED
// item embedding table (tied output: logit(i) = h_t . item_emb[i]).
//
// Training (ForwardBackward): per user, the last max_len + 1 training items
// give T = min(n - 1, max_len) positions; position t reads items[0..t] and
// predicts items[t + 1]. Loss per position:
//   kBpr:  mean over `negatives` (>= 1) items j drawn for this position of
//          -log sigmoid(logit(target) - logit(j)) (the paper);
//   kCe:   negatives >= 1: sampled softmax over [target, negatives...] with
//          the negatives SHARED by every position of the sequence;
//          negatives == 0: full softmax over the whole catalogue (every
//          item_emb row gets a gradient);
//   kGbce: gBCE (gSASRec's calibrated BCE) against shared negatives.
// kCe and kGbce are SASRec's heads (models/sequence_losses.h): one GEMM per
// sequence, cosine logits with a temperature on request (`normalize`,
// `temperature`, also in scoring), uniform or popularity negatives with the
// logQ correction.
// BPR's negatives are drawn uniformly, with replacement, from the items NOT
// in the user's training sequence; a user who touched every item is skipped
// by BPR. Shared negatives are drawn (with replacement, the same rejection)
// by DrawSharedNegatives, and a user without any sees only the target. Both
// from (seed, "train_negatives", epoch, user, step). LossSum.examples counts
// positions.
//
// Dropout (inverted, rate `dropout`) with masks from (seed, "dropout",
// epoch, user, step), drawn in this order: the embedded inputs of layer 0,
// the input of each further layer (the previous layer's output), and the
// last layer's output before scoring. Scoring uses no dropout.
//
// Scoring: the last max_len items of the history are run through the
// layers; scores = item_emb * h_last (with `normalize`: the cosine over tau,
// as in training; a temperature alone divides every score). An empty
// history scores every item 0. The user id is not read.
//
// Item representation (options.item_repr, models/item_repr.h): "item_emb"
// above stands for the item's representation, for inputs and scored items
// alike: the learned row (id), Adapter(features[item]) (text) or their sum
// (id+text). Text modes train on a compact table of the batch's touched
// items (inputs, targets, negatives; the whole catalogue for full softmax),
// adapted with one GEMM, and score with the cached adapted table of the
// whole catalogue (AdaptedTableCache, models/item_table.h).
//
// Global parameters (in this order): the item tensors (id: "item_emb"
// (num_items x dim, sparse); text: "item_adapter.*"; id+text: both), then
// per layer l: "gru{l}.w_ih" (3dim x dim), "gru{l}.w_hh" (3dim x dim),
// "gru{l}.b_ih" (1 x 3dim), "gru{l}.b_hh" (1 x 3dim), gates stacked [r; z; n]
// as in PyTorch (models/layers/gru.h), then "out_emb" with
// separate_output. No local parameters.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/param_store.h"
#include "core/status.h"
#include "models/item_table.h"
#include "models/model.h"
#include "models/negatives.h"
#include "models/sequence_losses.h"

namespace fedrec {

enum class SeqLoss { kBpr, kCe, kGbce };

// "bpr", "ce" or "gbce"; InvalidArgument otherwise.
absl::StatusOr<SeqLoss> ParseSeqLoss(const std::string& name);
const char* SeqLossName(SeqLoss loss);

struct Gru4RecOptions {
  uint32_t num_items = 0;
  uint32_t dim = 64;  // embedding size = hidden size
  uint32_t layers = 1;
  uint32_t max_len = 200;
  float dropout = 0.0f;  // in [0, 1)
  SeqLoss loss = SeqLoss::kBpr;
  // kBpr: per position (>= 1); kCe: shared by the sequence, 0 = full
  // softmax; kGbce: shared (>= 1).
  uint32_t negatives = 1;
  // kCe and kGbce: how the shared negatives are drawn, cosine logits and the
  // temperature dividing every logit, gBCE's calibration t in [0, 1].
  NegativeSampler sampler = NegativeSampler::kUniform;
  // Sampled kCe and kGbce: `negatives` drawn for every position instead of
  // one set shared by the sequence (gSASRec's setting; L x k gathered rows).
  bool negatives_per_position = false;
  bool normalize = false;
  double temperature = 1.0;
  double gbce_t = 0.75;
  // item_emb ~ N(0, init_std^2); GRU weights ~ U(-1/sqrt(dim), 1/sqrt(dim))
  // as in PyTorch.
  float init_std = 0.1f;
  // A separate output embedding "out_emb" (num_items x dim, sparse, after
  // the GRU tensors; item_repr id only) scores the hidden states instead of
  // the input item_emb (gSASRec's default): logit(i) = h_t . out_emb[i].
  bool separate_output = false;
  ItemReprOptions item_repr = {};  // id, text or id+text (models/item_repr.h)
};

// InvalidArgument "model (gru4rec): <why>" for the unusable option
// combinations Gru4RecModel::Create refuses (the item features aside).
absl::Status ValidateGru4RecOptions(const Gru4RecOptions& options);

class Gru4RecModel final : public Model {
 public:
  // InvalidArgument for num_items, dim, layers or max_len of 0, dropout
  // outside [0, 1), negatives == 0 with kBpr or kGbce, negative init_std,
  // temperature <= 0, gbce_t outside [0, 1], or normalisation, temperature
  // or popularity negatives with a loss they do not apply to.
  // `features`: required by the text modes (ValidateItemRepr's errors),
  // shared read-only for the model's life.
  static absl::StatusOr<std::unique_ptr<Gru4RecModel>> Create(
      const Gru4RecOptions& options, std::shared_ptr<const ItemFeatures> features = nullptr);

  const Gru4RecOptions& options() const { return options_; }
  std::string type() const override { return "gru4rec"; }
  uint32_t num_items() const override { return options_.num_items; }

  ParameterStore& global_params() override { return global_; }
  const ParameterStore& global_params() const override { return global_; }
  Gradients NewGlobalGradients() const override;
  std::unique_ptr<Workspace> NewWorkspace() const override;

  // `workspace` must come from this model's NewWorkspace(); local_grads is
  // ignored (no local parameters).
  LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                          Workspace* workspace, Gradients* global_grads,
                          Gradients* local_grads) const override;
  void Initialize(uint64_t seed) override;
  // Never a sampled negative, out of the full softmax.
  absl::Status SetNegativeExclusions(std::span<const uint8_t> excluded) override;
  // Training counts per item for NegativeSampler::kPopularity (ignored
  // otherwise); until set, popularity negatives are uniform.
  absl::Status SetItemPopularity(std::span<const uint64_t> counts) override;

  void ScoreAll(uint32_t user, std::span<const uint32_t> history,
                std::span<float> scores) const override;
  void ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                       std::span<const uint32_t> candidates,
                       std::span<float> scores) const override;

  static constexpr size_t kItemEmb = 0;
  // Index of tensor `which` (0 w_ih, 1 w_hh, 2 b_ih, 3 b_hh) of GRU layer l
  // in the id layout; GruTensorAt for any layout.
  static constexpr size_t GruTensor(uint32_t layer, uint32_t which) {
    return 1 + 4 * static_cast<size_t>(layer) + which;
  }
  size_t GruTensorAt(uint32_t layer, uint32_t which) const {
    return layout_.num_tensors() + 4 * static_cast<size_t>(layer) + which;
  }
  const ItemLayout& item_layout() const { return layout_; }
  // Store index of "out_emb" (options().separate_output only).
  size_t OutputTensor() const { return layout_.num_tensors() + 4 * size_t{options_.layers}; }
  // The items SetNegativeExclusions excluded.
  const ExcludedItems& excluded_items() const { return excluded_; }

 private:
  Gru4RecModel(const Gru4RecOptions& options, std::shared_ptr<const ItemFeatures> features);
  // The scored item rows for the current parameters: item_emb, the cached
  // adapted table, or (id+text) their sum in `sum` (thread-local scratch).
  const float* ScoringRows(std::shared_ptr<const AdaptedTableCache::Table>* hold) const;
  // The scoring state from the last layer's last output (normalised with
  // options_.normalize), and one item's score from its plain dot with it:
  // divided by the row's norm (normalize) and by the temperature, as the
  // training logits are.
  Eigen::VectorXf ScoringState(const float* last) const;
  // The rows scores are taken against: out_emb, or the input rows.
  const float* OutputRows(const float* input_rows) const;
  float ScaleScore(float dot, const float* row) const;

  Gru4RecOptions options_;
  ExcludedItems excluded_;
  seqloss::PopularityTable popularity_;  // empty unless sampler == kPopularity
  ItemLayout layout_;
  std::shared_ptr<const ItemFeatures> features_;    // null for id
  std::unique_ptr<AdaptedTableCache> table_cache_;  // text modes
  ParameterStore global_;
};

namespace gru4rec_internal {

// The loss is the softmax over the whole catalogue (ce without negatives).
inline bool IsFullSoftmax(const Gru4RecOptions& o) {
  return o.loss == SeqLoss::kCe && o.negatives == 0;
}

// The samplers' scratch of a thread: BPR's unseen-item marks (sized to the
// catalogue by the owner) and the shared draws' bitmap (sized on first use).
struct NegativeScratch {
  UnseenItemSampler sampler;
  std::vector<uint8_t> seen;
};

// One user's training negatives (`items`, its whole training sequence) for
// `steps` positions, exactly as Gru4RecModel draws them from (seed,
// "train_negatives", epoch, user, step): BPR steps x o.negatives items,
// position-major, uniform over the items neither the user's nor excluded;
// the softmax-type losses one shared set (or one per position), by
// `popularity` when it is not null (with their logQ corrections in *logq,
// else *logq is empty); the full softmax none. Returns false (nothing
// drawn: the user is skipped) when BPR finds no such item.
bool DrawNegatives(const Gru4RecOptions& o, const seqloss::PopularityTable* popularity,
                   const ExcludedItems& excluded, const StepKey& key, uint32_t user,
                   std::span<const uint32_t> items, size_t steps, NegativeScratch* scratch,
                   std::vector<uint32_t>* drawn, std::vector<double>* logq);

}  // namespace gru4rec_internal
}  // namespace fedrec
