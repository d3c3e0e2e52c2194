// SASRec (Kang & McAuley, ICDM 2018, "Self-Attentive Sequential
// Recommendation"), faithful to the official TF code (kang205/SASRec):
//
//   x   = dropout(E[item] * sqrt(d) + P[slot])     slot = absolute position in
//                                                  the right-aligned max_len
//                                                  window (last item: max_len-1)
//   per block (default, as the official code):
//     z   = LN(x);  a = Attn(queries = z, keys = x) + z
//     f   = LN(a);  x = FFN(f) + f
//   per block (pre_ln):
//     z   = LN(x);  x = x + Attn(z, z);  x = x + FFN(LN(x))
//   H   = LN(x)                                      final LayerNorm
//   score(item) = H_last . E[item]                   shared item embedding
//
// E[item] is the item's representation (options.item_repr,
// models/item_repr.h): the learned row item_emb[item] (id, the paper),
// Adapter(features[item]) (text) or their sum (id+text), for the input items
// and the scored items alike.
//
// Attention is causal, without output projection (models/layers/attention.h);
// FFN = dropout(dropout(relu(f W1 + b1)) W2 + b2). LayerNorm eps = 1e-8.
//
// Training (ForwardBackward): a sequence s of length n gives inputs
// s[0..n-2] and targets s[1..n-1], truncated to the last max_len positions.
// Loss kBce (the paper): per position softplus(-pos) + softplus(neg) with one
// negative drawn uniformly from items not in s, from RandomStream
// {seed, "train_negatives", epoch, user, step} (the stable form of the
// official -log(sigmoid + 1e-24) terms). Loss kCe: softmax cross-entropy
// against ce_negatives negatives shared by all positions of the sequence
// (same stream), or the whole catalogue; kGbce: gSASRec's gBCE against the
// shared negatives (models/sequence_losses.h). Options normalize/temperature
// make the logits cosines / tau, in scoring too. Dropout masks come from
// RandomStream{seed, "dropout", epoch, user, step}.
// LossSum.examples = number of predicted positions.
//
// Only the valid suffix of each sequence is computed, which is exactly the
// official padded computation with key masking (see sasrec_impl.h); so no
// padding row is needed in the item table: item ids are 0..num_items-1.
//
// Parameters ("item_emb" is sparse; layout order is the checkpoint format):
//   the item tensors (id: item_emb [num_items x d]; text: item_adapter.*;
//   id+text: item_emb, then item_adapter.*; models/item_repr.h),
//   pos_emb [max_len x d],
//   block{i}.attn_ln.gamma/beta [1 x d], block{i}.attn.wq/wk/wv [d x d],
//   block{i}.attn.bq/bk/bv [1 x d], block{i}.ffn_ln.gamma/beta [1 x d],
//   block{i}.ffn.w1/w2 [d x d], block{i}.ffn.b1/b2 [1 x d],
//   final_ln.gamma/beta [1 x d]; with separate_output, out_emb
//   [num_items x d] (sparse), the scored table.
// Initialize(seed): Glorot-uniform (TF's xavier_initializer, fan_in = rows,
// fan_out = cols) for embeddings and weights (adapter weights included) from
// RandomStream{seed, "init", 0, tensor index, 0}; LayerNorm gamma 1, beta 0;
// biases 0.
//
// Text modes: training adapts only the items a batch touches, with one GEMM
// per batch (FeatureBatchLoss in sasrec_impl.h); scoring reads the adapted
// table of the whole catalogue, built once per parameter state and cached
// (AdaptedTableCache, models/item_table.h: rebuilt when the adapter's
// parameters differ from those it was built from), so every scoring path
// (ScoreAll, ScoreCandidates, the blocked full ranking, recommend) reads the
// same rows and agrees bitwise. id+text offers no dot_items() (its rows
// depend on item_emb too; it scores through ScoreAll, row by row).
#pragma once

#include <memory>
#include <string>

#include "models/item_table.h"
#include "models/model.h"
#include "models/sasrec_options.h"
#include "models/sequence_losses.h"

namespace fedrec {

class SasRecModel final : public Model {
 public:
  // Validates the options and builds the parameter layout (zeroed; call
  // Initialize). `features`: the items' content features, required by the
  // text modes (FailedPrecondition without; InvalidArgument when their shape
  // disagrees), refused by id. Shared read-only, kept for the model's life.
  static absl::StatusOr<std::unique_ptr<SasRecModel>> Create(
      const SasRecOptions& options, std::shared_ptr<const ItemFeatures> features = nullptr);

  const SasRecOptions& options() const { return options_; }
  const ItemLayout& item_layout() const { return layout_; }

  std::string type() const override { return "sasrec"; }
  uint32_t num_items() const override { return options_.num_items; }

  ParameterStore& global_params() override { return params_; }
  const ParameterStore& global_params() const override { return params_; }

  Gradients NewGlobalGradients() const override;
  std::unique_ptr<Workspace> NewWorkspace() const override;

  // Sequences are processed one after another into the same gradients;
  // dropout on. `workspace` must come from NewWorkspace() of a SASRec model
  // (nullptr: a temporary one). `local_grads` is ignored (no local params).
  LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                          Workspace* workspace, Gradients* global_grads,
                          Gradients* local_grads) const override;

  void Initialize(uint64_t seed) override;

  // Scores from the last hidden state of the history's last max_len items,
  // dropout off; thread-safe (thread-local scratch). An empty history scores
  // every item 0.
  void ScoreAll(uint32_t user, std::span<const uint32_t> history,
                std::span<float> scores) const override;
  void ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                       std::span<const uint32_t> candidates,
                       std::span<float> scores) const override;

  // Scores are ScoreDot(LastHiddenState, item row) (models/score_kernel.h);
  // the rows are item_emb (id) or the cached adapted table (text, valid until
  // the parameters change); none for id+text or normalised scores.
  DotItems dot_items() const override;
  void UserState(uint32_t user, std::span<const uint32_t> history,
                 std::span<float> state) const override;

  // The final hidden state of the last position (d floats): what scoring
  // dots with the item embeddings. Thread-safe.
  void LastHiddenState(std::span<const uint32_t> history, std::span<float> out) const;

  // Training counts per item for NegativeSampler::kPopularity (size
  // num_items); builds the alias table once. Until called, every item counts
  // 1. InvalidArgument for a wrong size or all-zero counts.
  absl::Status SetItemPopularity(std::span<const uint64_t> counts) override;
  // Sets options().excluded: never a negative, out of the full softmax.
  absl::Status SetNegativeExclusions(std::span<const uint8_t> excluded) override;

  // Loss only (no gradients) with the dropout/negatives of `key`; for tests.
  LossSum Loss(std::span<const UserSequence> batch, const StepKey& key, bool dropout) const;

 private:
  SasRecModel(const SasRecOptions& options, std::shared_ptr<const ItemFeatures> features);
  // The last hidden state, normalised when options_.normalize.
  Eigen::RowVectorXf ScoringState(std::span<const uint32_t> history) const;
  // Text modes: the adapted table of the catalogue for the current
  // parameters.
  std::shared_ptr<const AdaptedTableCache::Table> AdaptedTable() const;
  // Calls fn(item, row) for each of `items` with its representation row (d
  // floats): item_emb, adapted or their sum, as the mode says.
  template <typename Fn>
  void ForEachItemRow(std::span<const uint32_t> items, Fn&& fn) const;
  // The same for the rows scores are taken against: out_emb with
  // separate_output, else the item rows.
  template <typename Fn>
  void ForEachScoredRow(std::span<const uint32_t> items, Fn&& fn) const;

  SasRecOptions options_;
  ItemLayout layout_;
  std::shared_ptr<const ItemFeatures> features_;    // null for id
  std::unique_ptr<AdaptedTableCache> table_cache_;  // text modes
  ParameterStore params_;
  seqloss::PopularityTable popularity_;  // empty unless sampler == kPopularity
};

}  // namespace fedrec
