#include "models/sasrec.h"

#include <cmath>
#include <string>
#include <vector>

#include "core/random.h"
#include "models/sasrec_impl.h"
#include "models/sasrec_last_hidden.h"
#include "models/score_kernel.h"

namespace fedrec {
namespace {

using sasrec_internal::SeqWorkspace;

class SasRecWorkspace final : public Workspace {
 public:
  SeqWorkspace<float> ws;
};

std::vector<const float*> ParamPointers(const ParameterStore& store) {
  std::vector<const float*> p(store.num_tensors());
  for (size_t k = 0; k < p.size(); ++k) p[k] = store.ViewAt(k).data;
  return p;
}

}  // namespace

absl::Status ValidateSasRecOptions(const SasRecOptions& o) {
  auto bad = [](const std::string& field, const std::string& why) {
    return InvalidInput("sasrec: " + field, why);
  };
  if (o.num_items == 0) return bad("num_items", "must be positive");
  if (o.dim == 0) return bad("dim", "must be positive");
  if (o.heads == 0 || o.dim % o.heads != 0) return bad("heads", "must divide dim");
  if (o.max_len == 0) return bad("max_len", "must be positive");
  if (!(o.dropout >= 0 && o.dropout < 1)) return bad("dropout", "must be in [0, 1)");
  if (!(o.l2_emb >= 0)) return bad("l2_emb", "must be >= 0");
  if (!(o.temperature > 0 && std::isfinite(o.temperature))) {
    return bad("temperature", "must be > 0");
  }
  if (!(o.gbce_t >= 0 && o.gbce_t <= 1)) return bad("gbce_t", "must be in [0, 1]");
  if (o.loss == SasRecLoss::kBce && (o.normalize || o.temperature != 1.0)) {
    return bad("normalize",
               "normalisation and temperature apply to ce, sampled_softmax and gbce, "
               "not to the paper's bce");
  }
  if (o.loss == SasRecLoss::kGbce && o.ce_negatives == 0) {
    return bad("negatives", "gbce needs at least one negative");
  }
  if (o.loss == SasRecLoss::kGbce && o.num_items < 2) {
    return bad("num_items", "gbce needs at least two items");
  }
  if (o.separate_output && o.item_repr.repr != ItemRepr::kId) {
    return bad("output_embedding", "a separate output table is a learned row per item: id only");
  }
  if (o.negatives_per_position && o.ce_negatives == 0) {
    return bad("negative_sharing", "per-position negatives apply to sampled_softmax and gbce");
  }
  if (o.sampler == NegativeSampler::kPopularity && o.ce_negatives == 0) {
    return bad("negative_sampler", "popularity negatives apply to sampled_softmax and gbce");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SasRecModel>> SasRecModel::Create(
    const SasRecOptions& options, std::shared_ptr<const ItemFeatures> features) {
  FEDREC_RETURN_IF_ERROR(ValidateSasRecOptions(options));
  FEDREC_RETURN_IF_ERROR(
      ValidateItemRepr("sasrec", options.item_repr, options.num_items, features.get()));
  return std::unique_ptr<SasRecModel>(new SasRecModel(options, std::move(features)));
}

SasRecModel::SasRecModel(const SasRecOptions& o, std::shared_ptr<const ItemFeatures> features)
    : options_(o), layout_(o.item_repr, o.dim), features_(std::move(features)) {
  if (layout_.has_adapter()) table_cache_ = std::make_unique<AdaptedTableCache>();
  // Add() cannot fail: names are unique and shapes positive (validated).
  const size_t d = o.dim;
  AddItemTensors(layout_, o.num_items, o.dim, &params_);
  (void)params_.Add("pos_emb", o.max_len, d);
  for (uint32_t b = 0; b < o.blocks; ++b) {
    const std::string p = "block" + std::to_string(b) + ".";
    (void)params_.Add(p + "attn_ln.gamma", 1, d);
    (void)params_.Add(p + "attn_ln.beta", 1, d);
    (void)params_.Add(p + "attn.wq", d, d);
    (void)params_.Add(p + "attn.bq", 1, d);
    (void)params_.Add(p + "attn.wk", d, d);
    (void)params_.Add(p + "attn.bk", 1, d);
    (void)params_.Add(p + "attn.wv", d, d);
    (void)params_.Add(p + "attn.bv", 1, d);
    (void)params_.Add(p + "ffn_ln.gamma", 1, d);
    (void)params_.Add(p + "ffn_ln.beta", 1, d);
    (void)params_.Add(p + "ffn.w1", d, d);
    (void)params_.Add(p + "ffn.b1", 1, d);
    (void)params_.Add(p + "ffn.w2", d, d);
    (void)params_.Add(p + "ffn.b2", 1, d);
  }
  (void)params_.Add("final_ln.gamma", 1, d);
  (void)params_.Add("final_ln.beta", 1, d);
  if (o.separate_output) (void)params_.Add("out_emb", o.num_items, d);
  params_.Finalize();
  if (o.sampler == NegativeSampler::kPopularity) {
    popularity_ = seqloss::PopularityTable(std::vector<uint64_t>(o.num_items, 1));
  }
}

absl::Status SasRecModel::SetItemPopularity(std::span<const uint64_t> counts) {
  if (options_.sampler != NegativeSampler::kPopularity) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(popularity_,
                          seqloss::MakePopularityTable("sasrec", counts, options_.num_items));
  return absl::OkStatus();
}

absl::Status SasRecModel::SetNegativeExclusions(std::span<const uint8_t> excluded) {
  FEDREC_RETURN_IF_ERROR(CheckExclusionFlags("sasrec", excluded, options_.num_items));
  options_.excluded = excluded.empty() ? nullptr : std::make_shared<const ExcludedItems>(excluded);
  return absl::OkStatus();
}

Gradients SasRecModel::NewGlobalGradients() const {
  std::vector<bool> sparse(params_.num_tensors(), false);
  if (layout_.has_emb()) sparse[ItemLayout::kEmb] = true;
  if (options_.separate_output) sparse[sasrec_internal::OutEmbIndex(options_)] = true;
  return Gradients(params_, std::move(sparse));
}

std::unique_ptr<Workspace> SasRecModel::NewWorkspace() const {
  return std::make_unique<SasRecWorkspace>();
}

void SasRecModel::Initialize(uint64_t seed) {
  for (size_t k = 0; k < params_.num_tensors(); ++k) {
    const TensorLayout& t = params_.layout()[k];
    TensorView v = params_.ViewAt(k);
    const std::string& name = t.name;
    const bool is_gamma = name.ends_with(".gamma");
    // Biases, LayerNorm beta and gamma (an adapter weight of one input row is
    // a weight all the same).
    if (t.rows == 1 && !name.starts_with("item_adapter.w")) {
      std::fill(v.data, v.data + v.size(), is_gamma ? 1.0f : 0.0f);
      continue;
    }
    const double limit = std::sqrt(6.0 / static_cast<double>(t.rows + t.cols));
    RandomStream stream({seed, "init", 0, static_cast<uint32_t>(k), 0});
    for (size_t i = 0; i < v.size(); ++i) {
      v.data[i] = static_cast<float>((2.0 * stream.NextDouble() - 1.0) * limit);
    }
  }
}

LossSum SasRecModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                     Workspace* workspace, Gradients* global_grads,
                                     Gradients* local_grads) const {
  std::unique_ptr<Workspace> owned;
  if (workspace == nullptr) {
    owned = NewWorkspace();
    workspace = owned.get();
  }
  SeqWorkspace<float>& ws = static_cast<SasRecWorkspace*>(workspace)->ws;
  const std::vector<const float*> params = ParamPointers(params_);
  std::vector<float*> grads(params_.num_tensors());
  for (size_t k = 0; k < grads.size(); ++k) grads[k] = global_grads->View(k).data;
  LossSum sum;
  if (layout_.has_adapter()) {
    sum.loss = sasrec_internal::FeatureBatchLoss<float>(
        options_, layout_, *features_, params.data(), grads.data(), global_grads, batch, key,
        /*dropout_on=*/true, ws, &sum.examples, &popularity_);
    return sum;
  }
  for (const UserSequence& seq : batch) {
    sum.loss += sasrec_internal::SequenceLoss<float>(
        options_, params.data(), grads.data(), global_grads, seq.user, seq.items, key,
        /*dropout_on=*/true, ws, &sum.examples, &popularity_);
  }
  return sum;
}

LossSum SasRecModel::Loss(std::span<const UserSequence> batch, const StepKey& key,
                          bool dropout) const {
  SeqWorkspace<float> ws;
  const std::vector<const float*> params = ParamPointers(params_);
  LossSum sum;
  if (layout_.has_adapter()) {
    sum.loss = sasrec_internal::FeatureBatchLoss<float>(options_, layout_, *features_,
                                                        params.data(), nullptr, nullptr, batch, key,
                                                        dropout, ws, &sum.examples, &popularity_);
    return sum;
  }
  for (const UserSequence& seq : batch) {
    sum.loss += sasrec_internal::SequenceLoss<float>(options_, params.data(), nullptr, nullptr,
                                                     seq.user, seq.items, key, dropout, ws,
                                                     &sum.examples, &popularity_);
  }
  return sum;
}

void SasRecModel::LastHiddenState(std::span<const uint32_t> history, std::span<float> out) const {
  thread_local SeqWorkspace<float> ws;
  const std::vector<const float*> params = ParamPointers(params_);
  if (!layout_.has_adapter() || history.empty()) {
    sasrec_internal::LastHidden<float>(options_, params.data(), history, ws, out.data());
    return;
  }
  // The window's item rows as a table of its own, row t for position t.
  thread_local std::vector<float> rows;
  thread_local std::vector<uint32_t> positions;
  const size_t len = std::min<size_t>(history.size(), options_.max_len);
  const size_t d = options_.dim;
  history = history.subspan(history.size() - len);
  rows.resize(len * d);
  positions.resize(len);
  for (size_t t = 0; t < len; ++t) positions[t] = static_cast<uint32_t>(t);
  size_t t = 0;
  ForEachItemRow(
      history, [&](uint32_t, const float* row) { std::copy(row, row + d, rows.data() + t++ * d); });
  const size_t shift = layout_.num_tensors() - 1;
  std::vector<const float*> core(params.size() - shift);
  core[0] = rows.data();
  for (size_t k = 1; k < core.size(); ++k) core[k] = params[k + shift];
  sasrec_internal::LastHidden<float>(options_, core.data(), positions, ws, out.data());
}

std::shared_ptr<const AdaptedTableCache::Table> SasRecModel::AdaptedTable() const {
  return table_cache_->Get(layout_, *features_, params_);
}

template <typename Fn>
void SasRecModel::ForEachScoredRow(std::span<const uint32_t> items, Fn&& fn) const {
  if (!options_.separate_output) {
    ForEachItemRow(items, std::forward<Fn>(fn));
    return;
  }
  const float* out = params_.ViewAt(sasrec_internal::OutEmbIndex(options_)).data;
  for (uint32_t i : items) fn(i, out + size_t{i} * options_.dim);
}

template <typename Fn>
void SasRecModel::ForEachItemRow(std::span<const uint32_t> items, Fn&& fn) const {
  const size_t d = options_.dim;
  const float* emb = layout_.has_emb() ? params_.ViewAt(ItemLayout::kEmb).data : nullptr;
  if (!layout_.has_adapter()) {
    for (uint32_t i : items) fn(i, emb + size_t{i} * d);
    return;
  }
  const std::shared_ptr<const AdaptedTableCache::Table> table = AdaptedTable();
  if (emb == nullptr) {
    for (uint32_t i : items) fn(i, table->data() + size_t{i} * d);
    return;
  }
  // id+text: item_emb row + adapted row, as the training table sums them.
  Eigen::RowVectorXf row(d);
  for (uint32_t i : items) {
    row = Eigen::Map<const Eigen::RowVectorXf>(table->data() + size_t{i} * d, d) +
          Eigen::Map<const Eigen::RowVectorXf>(emb + size_t{i} * d, d);
    fn(i, row.data());
  }
}

namespace {

// The logit of one item row given its dot product with the scoring state
// (ScoreDot, the shared kernel of models/score_kernel.h that the blocked
// full ranking also uses), computed the same way by ScoreAll and
// ScoreCandidates, so all three agree bitwise. With normalisation, the state
// is already h / |h| and `inv_tau` is 1 / tau.
float ItemScoreFromDot(const SasRecOptions& o, float dot, const float* row, float inv_tau) {
  if (!o.normalize) return o.temperature == 1.0 ? dot : dot * inv_tau;
  Eigen::Map<const Eigen::RowVectorXf> e(row, o.dim);
  const float norm = std::max(e.norm(), static_cast<float>(seqloss::kNormEps));
  return dot / norm * inv_tau;
}

float ItemScore(const SasRecOptions& o, const float* row, const Eigen::RowVectorXf& hv,
                float inv_tau) {
  return ItemScoreFromDot(o, ScoreDot(hv.data(), row, o.dim), row, inv_tau);
}

}  // namespace

// The blocked full ranking multiplies user states by the raw item table: only
// exact for plain dot-product scores. Cosine / temperature scoring (a
// per-item divisor, a rounding of every product) goes through ScoreAll.
Scorer::DotItems SasRecModel::dot_items() const {
  if (options_.normalize || options_.temperature != 1.0) return {};
  if (layout_.repr == ItemRepr::kIdText) return {};
  if (layout_.repr == ItemRepr::kText) return {AdaptedTable()->data(), options_.dim};
  return {params_.ViewAt(sasrec_internal::ScoredTable(options_)).data, options_.dim};
}

void SasRecModel::UserState(uint32_t, std::span<const uint32_t> history,
                            std::span<float> state) const {
  LastHiddenState(history, state);
}

Eigen::RowVectorXf SasRecModel::ScoringState(std::span<const uint32_t> history) const {
  Eigen::RowVectorXf h(options_.dim);
  LastHiddenState(history, {h.data(), options_.dim});
  if (options_.normalize) {
    const float norm = h.norm();
    // An empty history gives h = 0: every score 0, as without normalisation.
    if (norm > 0) h /= std::max(norm, static_cast<float>(seqloss::kNormEps));
  }
  return h;
}

void SasRecModel::ScoreAll(uint32_t user, std::span<const uint32_t> history,
                           std::span<float> scores) const {
  const Eigen::RowVectorXf hv = ScoringState(history);
  const float inv_tau = static_cast<float>(1.0 / options_.temperature);
  if (layout_.repr != ItemRepr::kIdText) {
    // The stored table: every dot at once (the kernel's blocked row scan,
    // bitwise ScoreDot), then each item's divisor and temperature if any.
    std::shared_ptr<const AdaptedTableCache::Table> table;
    const float* rows = params_.ViewAt(sasrec_internal::ScoredTable(options_)).data;
    if (layout_.has_adapter()) {
      table = AdaptedTable();
      rows = table->data();
    }
    ScoreRows(hv.data(), rows, options_.dim, options_.num_items, scores.data());
    if (options_.normalize || options_.temperature != 1.0) {
      for (uint32_t i = 0; i < options_.num_items; ++i) {
        scores[i] = ItemScoreFromDot(options_, scores[i], rows + size_t{i} * options_.dim, inv_tau);
      }
    }
    return;
  }
  thread_local std::vector<uint32_t> all;
  if (all.size() != options_.num_items) {
    all.resize(options_.num_items);
    for (uint32_t i = 0; i < options_.num_items; ++i) all[i] = i;
  }
  ForEachScoredRow(all, [&](uint32_t i, const float* row) {
    scores[i] = ItemScore(options_, row, hv, inv_tau);
  });
}

void SasRecModel::ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                                  std::span<const uint32_t> candidates,
                                  std::span<float> scores) const {
  const Eigen::RowVectorXf hv = ScoringState(history);
  const float inv_tau = static_cast<float>(1.0 / options_.temperature);
  // The candidates' rows gathered into one block, scored by the kernel's
  // row scan (bitwise ScoreDot each, models/score_kernel.h), then each
  // item's divisor and temperature if any.
  const size_t d = options_.dim;
  thread_local std::vector<float> rows;
  rows.resize(candidates.size() * d);
  size_t j = 0;
  ForEachScoredRow(candidates, [&](uint32_t, const float* row) {
    std::copy(row, row + d, rows.data() + j++ * d);
  });
  ScoreRows(hv.data(), rows.data(), options_.dim, static_cast<uint32_t>(candidates.size()),
            scores.data());
  if (options_.normalize || options_.temperature != 1.0) {
    for (j = 0; j < candidates.size(); ++j) {
      scores[j] = ItemScoreFromDot(options_, scores[j], rows.data() + j * d, inv_tau);
    }
  }
}

}  // namespace fedrec
