#include "models/gru4rec.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "models/init_util.h"
#include "models/layers/gru.h"
#include "models/losses.h"
#include "models/negatives.h"
#include "models/sequence_losses.h"

namespace fedrec {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<RowMat>;
using CMap = Eigen::Map<const RowMat>;
using Vec = Eigen::Map<Eigen::VectorXf>;
using CVec = Eigen::Map<const Eigen::VectorXf>;

float* Grow(layers::AlignedVector<float>* v, size_t n) {
  if (v->size() < n) v->resize(n);
  return v->data();
}

// Buffers of one forward pass through the embedding and the GRU stack.
struct ForwardScratch {
  std::vector<GruLayer<float>> layers;
  layers::AlignedVector<float> x;                  // (T x D) embedded inputs
  std::vector<layers::AlignedVector<float>> outs;  // per layer (T x D)
};

// The item rows a pass reads and the gradients it writes: item_emb (id;
// rows marked in `tracker`), a compact table of a batch's items (text
// training: `row_of` maps item -> row) or the adapted table (scoring).
struct ItemTable {
  const float* rows = nullptr;
  float* grads = nullptr;
  Gradients* tracker = nullptr;
  const uint32_t* row_of = nullptr;        // null: row = item id
  size_t tensor = Gru4RecModel::kItemEmb;  // the store index rows are marked under

  uint32_t Row(uint32_t item) const { return row_of != nullptr ? row_of[item] : item; }
  // The gradient row of `item` for writing (marked first).
  float* GradRow(uint32_t item, int d) const {
    const uint32_t r = Row(item);
    if (tracker != nullptr) tracker->MarkRow(tensor, r);
    return grads + static_cast<size_t>(r) * d;
  }
  const float* RowPtr(uint32_t item, int d) const {
    return rows + static_cast<size_t>(Row(item)) * d;
  }
};

struct Gru4RecWorkspace final : Workspace {
  ForwardScratch fwd;
  gru4rec_internal::NegativeScratch draw;  // the negatives' samplers
  // The model's exclusions (never a negative, out of the full softmax); set
  // by every ForwardBackward.
  const ExcludedItems* excluded = nullptr;
  std::vector<layers::AlignedVector<float>> masks;  // layers + 1 masks of (T x D)
  std::vector<const float*> mask_ptrs;              // into masks; empty without dropout
  layers::AlignedVector<float> final_out;           // (T x D) last output after dropout
  layers::AlignedVector<float> dcur, dnext;         // (T x D)
  std::vector<uint32_t> cands;                      // BPR: 1 + negatives
  layers::AlignedVector<float> logits, dlogits;     // BPR: 1 + negatives
  // Shared negatives: the draw's bitmap (num_items, kept zeroed), the
  // targets and negatives as table rows, the heads' scratch.
  std::vector<uint32_t> target_rows, negative_rows;
  seqloss::HeadScratch<float> head;
  // Each user's negatives (BPR: steps x negatives; shared: one set) and
  // their logQ corrections (popularity only), drawn before any user runs
  // so that text modes can adapt every touched item at once; whether the
  // user is skipped.
  ItemRows<float> items;
  std::vector<std::vector<uint32_t>> negatives;
  std::vector<std::vector<double>> logq;
  std::vector<uint8_t> skip;
};

bool SharesNegatives(const Gru4RecOptions& o) { return o.loss != SeqLoss::kBpr; }

void Resize(ForwardScratch* s, uint32_t layers) {
  if (s->layers.size() != layers) {
    s->layers.resize(layers);
    s->outs.resize(layers);
  }
}

// `first`: the store index of gru0.w_ih.
GruWeights<float> LayerWeights(const ParameterStore& p, size_t first, uint32_t l, int dim) {
  const size_t k = first + 4 * static_cast<size_t>(l);
  return {
      dim, dim, p.ViewAt(k).data, p.ViewAt(k + 1).data, p.ViewAt(k + 2).data, p.ViewAt(k + 3).data};
}

// Embeds `items` and runs the layers; masks[l] (or nullptr) is layer l's
// input mask. Returns the last layer's output (T x D).
const float* RunLayers(const ParameterStore& p, size_t gru_first, uint32_t num_layers, int dim,
                       const ItemTable& table, std::span<const uint32_t> items,
                       const std::vector<const float*>& masks, ForwardScratch* s) {
  const int steps = static_cast<int>(items.size());
  const size_t td = items.size() * static_cast<size_t>(dim);
  float* x = Grow(&s->x, td);
  for (int t = 0; t < steps; ++t) {
    const float* row = table.RowPtr(items[t], dim);
    std::copy(row, row + dim, x + static_cast<size_t>(t) * dim);
  }
  const float* in = x;
  for (uint32_t l = 0; l < num_layers; ++l) {
    float* out = Grow(&s->outs[l], td);
    s->layers[l].Forward(LayerWeights(p, gru_first, l, dim), in, steps, nullptr,
                         masks.empty() ? nullptr : masks[l], out);
    in = out;
  }
  return in;
}

// Inference scratch, one per thread (Scorer calls may run concurrently).
ForwardScratch& ThreadScratch(uint32_t layers) {
  thread_local ForwardScratch scratch;
  Resize(&scratch, layers);
  return scratch;
}

// One user's training positions: position t reads inputs[0..t] and predicts
// targets[t].
struct Window {
  std::span<const uint32_t> inputs, targets;
  size_t steps = 0;
  size_t td = 0;  // steps * dim
};

// Forward pass of one user: draws the dropout masks (ws->mask_ptrs stays
// empty without dropout), runs the layers and returns the last output after
// the output dropout (T x D, in ws->final_out).
const float* Forward(const Gru4RecOptions& o, const ParameterStore& global, size_t gru_first,
                     const ItemTable& table, const StepKey& key, uint32_t user, const Window& w,
                     Gru4RecWorkspace* ws) {
  const uint32_t num_layers = o.layers;
  const float p = o.dropout;
  const size_t td = w.td;
  std::vector<const float*>& masks = ws->mask_ptrs;
  masks.clear();
  if (p > 0) {
    const float keep_scale = 1.0f / (1.0f - p);
    RandomStream drop({.seed = key.seed,
                       .purpose = "dropout",
                       .round = key.epoch,
                       .client = user,
                       .step = key.step});
    for (uint32_t m = 0; m <= num_layers; ++m) {
      float* mask = Grow(&ws->masks[m], td);
      for (size_t k = 0; k < td; ++k) mask[k] = drop.NextFloat() < p ? 0.0f : keep_scale;
      masks.push_back(mask);
    }
  }
  const float* last = RunLayers(global, gru_first, num_layers, static_cast<int>(o.dim), table,
                                w.inputs, masks, &ws->fwd);
  float* fin = Grow(&ws->final_out, td);
  if (p > 0) {
    for (size_t k = 0; k < td; ++k) fin[k] = last[k] * masks[num_layers][k];
  } else {
    std::copy(last, last + td, fin);
  }
  return fin;
}

// BPR of one user over [target, negatives...] per position: returns the
// loss, adds d loss / d fin into dfin (zeroed by the caller) and the scored
// rows' gradients into the table. `drawn`: steps x negatives items.
double BprUserLoss(const Gru4RecOptions& o, const ItemTable& table, const Window& w,
                   const float* fin, float* dfin, Gru4RecWorkspace* ws, const uint32_t* drawn) {
  const int d = static_cast<int>(o.dim);
  const uint32_t negatives = o.negatives;
  const size_t c = 1 + negatives;
  const float inv = 1.0f / static_cast<float>(negatives);
  double loss = 0;
  for (size_t t = 0; t < w.steps; ++t) {
    CVec h(fin + t * d, d);
    ws->cands[0] = w.targets[t];
    for (size_t k = 1; k < c; ++k) ws->cands[k] = drawn[t * negatives + k - 1];
    for (size_t k = 0; k < c; ++k) {
      ws->logits[k] = CVec(table.RowPtr(ws->cands[k], d), d).dot(h);
    }
    ws->dlogits[0] = 0;
    float pos_loss = 0;
    for (size_t k = 1; k < c; ++k) {
      float dpos, dneg;
      pos_loss += BprLoss(ws->logits[0], ws->logits[k], &dpos, &dneg);
      ws->dlogits[0] += dpos * inv;
      ws->dlogits[k] = dneg * inv;
    }
    loss += pos_loss * inv;
    Vec dh(dfin + t * d, d);
    for (size_t k = 0; k < c; ++k) {
      const uint32_t item = ws->cands[k];
      float* g = table.GradRow(item, d);
      dh += ws->dlogits[k] * CVec(table.RowPtr(item, d), d);
      Vec(g, d) += ws->dlogits[k] * h;
    }
  }
  return loss;
}

// The softmax-type heads (sampled softmax and gBCE over the shared
// `negatives`, or the full softmax) of one user through
// models/sequence_losses.h: returns the loss, adds d loss / d fin into dfin
// and the rows' gradients into the table (a full softmax reads every row;
// the table then holds every item, row = item id).
double HeadUserLoss(const Gru4RecOptions& o, const ItemTable& table, const ExcludedItems& excluded,
                    const Window& w, const float* fin, float* dfin, Gru4RecWorkspace* ws,
                    std::span<const uint32_t> negatives, const double* logq) {
  const auto d = static_cast<Eigen::Index>(o.dim);
  const auto steps = static_cast<Eigen::Index>(w.steps);
  const seqloss::HeadOptions head =
      seqloss::MakeHeadOptions(o.loss == SeqLoss::kGbce, o.negatives, o.num_items, o.gbce_t,
                               o.normalize, o.temperature, o.negatives_per_position, &excluded);
  std::span<const uint32_t> targets = MapToRows(w.targets, table.row_of, ws->target_rows);
  negatives = MapToRows(negatives, table.row_of, ws->negative_rows);
  // The table's row count: every item under the full softmax, else the
  // rows the targets and negatives index (all of item_emb, or the compact
  // table of text modes; only indexed rows are read).
  const auto rows = static_cast<Eigen::Index>(o.num_items);
  layers::ConstMatrixMap<float> h(fin, steps, d);
  layers::ConstMatrixMap<float> emb(table.rows, rows, d);
  layers::MatrixMap<float> dh(dfin, steps, d);
  layers::MatrixMap<float> demb(table.grads, rows, d);
  return seqloss::HeadLossOf<float>(head, h, emb, targets, negatives, logq, &dh, &demb,
                                    table.tracker, table.tensor, ws->head);
}

// Backward pass of one user from d loss / d fin: back through the output
// dropout and the layers (into the GRU weights), then into the input rows of
// the item table. Overwrites dfin.
void Backward(const Gru4RecOptions& o, size_t gru_first, const ItemTable& table, const Window& w,
              float* dfin, Gru4RecWorkspace* ws, Gradients* global_grads) {
  const int d = static_cast<int>(o.dim);
  const uint32_t num_layers = o.layers;
  const size_t td = w.td;
  if (o.dropout > 0) {
    const float* out_mask = ws->mask_ptrs[num_layers];
    for (size_t k = 0; k < td; ++k) dfin[k] *= out_mask[k];
  }
  float* dcur = dfin;
  float* dnext = Grow(&ws->dnext, td);
  for (uint32_t l = num_layers; l-- > 0;) {
    const size_t k = gru_first + 4 * static_cast<size_t>(l);
    GruGradients<float> g{global_grads->View(k).data, global_grads->View(k + 1).data,
                          global_grads->View(k + 2).data, global_grads->View(k + 3).data};
    ws->fwd.layers[l].Backward(dcur, &g, dnext, nullptr);
    std::swap(dcur, dnext);
  }
  for (size_t t = 0; t < w.steps; ++t) {
    Vec(table.GradRow(w.inputs[t], d), d) += CVec(dcur + t * d, d);
  }
}

// The training window of a sequence of n >= 2 items.
Window MakeWindow(const Gru4RecOptions& o, std::span<const uint32_t> items) {
  const size_t n = items.size();
  Window w;
  w.steps = std::min<size_t>(n - 1, o.max_len);
  w.inputs = items.subspan(n - 1 - w.steps, w.steps);
  w.targets = items.subspan(n - w.steps, w.steps);
  w.td = w.steps * static_cast<size_t>(o.dim);
  return w;
}

// One user's loss and gradients, reading inputs from `in` and scoring
// against `out` (the same table unless the output embedding is separate),
// given the user's negatives (`drawn`, `logq`: as DrawUserNegatives left
// them).
double UserLoss(const Gru4RecOptions& o, const ParameterStore& global, size_t gru_first,
                const ItemTable& in, const ItemTable& out, const ExcludedItems& excluded,
                const StepKey& key, uint32_t user, const Window& w, Gru4RecWorkspace* ws,
                Gradients* global_grads, std::span<const uint32_t> drawn,
                std::span<const double> logq) {
  const float* fin = Forward(o, global, gru_first, in, key, user, w, ws);
  float* dfin = Grow(&ws->dcur, w.td);
  std::fill(dfin, dfin + w.td, 0.0f);
  const double loss = SharesNegatives(o) ? HeadUserLoss(o, out, excluded, w, fin, dfin, ws, drawn,
                                                        logq.empty() ? nullptr : logq.data())
                                         : BprUserLoss(o, out, w, fin, dfin, ws, drawn.data());
  Backward(o, gru_first, in, w, dfin, ws, global_grads);
  return loss;
}

// Draws one user's training negatives (gru4rec_internal::DrawNegatives with
// the model's popularity table when it samples by popularity).
bool DrawUserNegatives(const Gru4RecOptions& o, const seqloss::PopularityTable& popularity,
                       const ExcludedItems& excluded, const StepKey& key, uint32_t user,
                       std::span<const uint32_t> items, size_t steps, Gru4RecWorkspace* ws,
                       std::vector<uint32_t>* drawn, std::vector<double>* logq) {
  const bool by_popularity = o.sampler == NegativeSampler::kPopularity;
  return gru4rec_internal::DrawNegatives(o, by_popularity ? &popularity : nullptr, excluded, key,
                                         user, items, steps, &ws->draw, drawn, logq);
}

std::vector<const float*> TensorPointers(const ParameterStore& p) {
  std::vector<const float*> v(p.num_tensors());
  for (size_t k = 0; k < v.size(); ++k) v[k] = p.ViewAt(k).data;
  return v;
}

}  // namespace

bool gru4rec_internal::DrawNegatives(const Gru4RecOptions& o,
                                     const seqloss::PopularityTable* popularity,
                                     const ExcludedItems& excluded, const StepKey& key,
                                     uint32_t user, std::span<const uint32_t> items, size_t steps,
                                     NegativeScratch* scratch, std::vector<uint32_t>* drawn,
                                     std::vector<double>* logq) {
  drawn->clear();
  logq->clear();
  if (IsFullSoftmax(o)) return true;
  RandomStream neg({.seed = key.seed,
                    .purpose = "train_negatives",
                    .round = key.epoch,
                    .client = user,
                    .step = key.step});
  if (SharesNegatives(o)) {
    std::vector<uint8_t>& seen = scratch->seen;
    if (seen.size() < o.num_items) seen.assign(o.num_items, 0);
    if (o.negatives_per_position) {
      seqloss::DrawPerPositionNegatives(neg, items, o.num_items, popularity, o.negatives, steps,
                                        excluded, seen, drawn, logq);
    } else {
      seqloss::DrawSharedNegatives(neg, items, o.num_items, popularity, o.negatives, excluded, seen,
                                   drawn, logq);
    }
    if (popularity == nullptr) logq->clear();
    return true;
  }
  UnseenItemSampler& sampler = scratch->sampler;
  const bool any = sampler.Begin(items, excluded);
  if (any) {
    drawn->resize(steps * o.negatives);
    for (uint32_t& j : *drawn) j = sampler.Draw(neg, excluded);
  }
  sampler.End(items);
  return any;
}

absl::StatusOr<std::unique_ptr<Gru4RecModel>> Gru4RecModel::Create(
    const Gru4RecOptions& options, std::shared_ptr<const ItemFeatures> features) {
  FEDREC_RETURN_IF_ERROR(ValidateGru4RecOptions(options));
  FEDREC_RETURN_IF_ERROR(
      ValidateItemRepr("gru4rec", options.item_repr, options.num_items, features.get()));
  return std::unique_ptr<Gru4RecModel>(new Gru4RecModel(options, std::move(features)));
}

Gru4RecModel::Gru4RecModel(const Gru4RecOptions& options,
                           std::shared_ptr<const ItemFeatures> features)
    : options_(options), layout_(options.item_repr, options.dim), features_(std::move(features)) {
  if (layout_.has_adapter()) table_cache_ = std::make_unique<AdaptedTableCache>();
  if (options.sampler == NegativeSampler::kPopularity) {
    popularity_ = seqloss::PopularityTable(std::vector<uint64_t>(options.num_items, 1));
  }
  const size_t d = options.dim;
  AddItemTensors(layout_, options.num_items, options.dim, &global_);
  for (uint32_t l = 0; l < options.layers; ++l) {
    const std::string prefix = "gru" + std::to_string(l) + ".";
    (void)global_.Add(prefix + "w_ih", 3 * d, d);
    (void)global_.Add(prefix + "w_hh", 3 * d, d);
    (void)global_.Add(prefix + "b_ih", 1, 3 * d);
    (void)global_.Add(prefix + "b_hh", 1, 3 * d);
  }
  if (options.separate_output) (void)global_.Add("out_emb", options.num_items, d);
  global_.Finalize();
}

Gradients Gru4RecModel::NewGlobalGradients() const {
  std::vector<bool> sparse(global_.num_tensors(), false);
  if (layout_.has_emb()) sparse[kItemEmb] = true;
  if (options_.separate_output) sparse[OutputTensor()] = true;
  return Gradients(global_, std::move(sparse));
}

std::unique_ptr<Workspace> Gru4RecModel::NewWorkspace() const {
  auto ws = std::make_unique<Gru4RecWorkspace>();
  Resize(&ws->fwd, options_.layers);
  ws->draw.sampler = UnseenItemSampler(options_.num_items);
  ws->masks.resize(options_.layers + 1);
  ws->mask_ptrs.reserve(options_.layers + 1);
  ws->cands.resize(1 + options_.negatives);
  ws->logits.resize(1 + options_.negatives);
  ws->dlogits.resize(1 + options_.negatives);
  return ws;
}

absl::Status Gru4RecModel::SetItemPopularity(std::span<const uint64_t> counts) {
  if (options_.sampler != NegativeSampler::kPopularity) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(popularity_,
                          seqloss::MakePopularityTable("gru4rec", counts, options_.num_items));
  return absl::OkStatus();
}

absl::Status Gru4RecModel::SetNegativeExclusions(std::span<const uint8_t> excluded) {
  FEDREC_RETURN_IF_ERROR(CheckExclusionFlags("gru4rec", excluded, options_.num_items));
  excluded_ = ExcludedItems(excluded);
  return absl::OkStatus();
}

void Gru4RecModel::Initialize(uint64_t seed) {
  if (layout_.has_emb()) {
    InitNormal(global_.ViewAt(kItemEmb), seed, kGlobalStoreIndex, kItemEmb, options_.init_std);
  }
  InitAdapter(layout_, seed, &global_);
  const double bound = 1.0 / std::sqrt(static_cast<double>(options_.dim));
  const size_t gru_end = layout_.num_tensors() + 4 * static_cast<size_t>(options_.layers);
  for (size_t k = layout_.num_tensors(); k < gru_end; ++k) {
    InitUniform(global_.ViewAt(k), seed, kGlobalStoreIndex, static_cast<uint32_t>(k), bound);
  }
  if (options_.separate_output) {
    const size_t k = OutputTensor();
    InitNormal(global_.ViewAt(k), seed, kGlobalStoreIndex, static_cast<uint32_t>(k),
               options_.init_std);
  }
}

LossSum Gru4RecModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                      Workspace* workspace, Gradients* global_grads,
                                      Gradients*) const {
  auto* ws = static_cast<Gru4RecWorkspace*>(workspace);
  ws->excluded = &excluded_;
  const size_t gru_first = layout_.num_tensors();
  const bool full = gru4rec_internal::IsFullSoftmax(options_);
  if (ws->negatives.size() < batch.size()) {
    ws->negatives.resize(batch.size());
    ws->logq.resize(batch.size());
  }
  LossSum total;
  if (!layout_.has_adapter()) {
    const ItemTable table{global_.ViewAt(kItemEmb).data, global_grads->View(kItemEmb).data,
                          global_grads, nullptr};
    const size_t out_index = OutputTensor();
    const ItemTable out = options_.separate_output ? ItemTable{global_.ViewAt(out_index).data,
                                                               global_grads->View(out_index).data,
                                                               global_grads, nullptr, out_index}
                                                   : table;
    for (const UserSequence& seq : batch) {
      if (seq.items.size() < 2) continue;
      const Window w = MakeWindow(options_, seq.items);
      if (!DrawUserNegatives(options_, popularity_, excluded_, key, seq.user, seq.items, w.steps,
                             ws, &ws->negatives[0], &ws->logq[0])) {
        continue;
      }
      total.loss += UserLoss(options_, global_, gru_first, table, out, excluded_, key, seq.user, w,
                             ws, global_grads, ws->negatives[0], ws->logq[0]);
      total.examples += w.steps;
    }
    return total;
  }
  // Text modes: draw every user's negatives (the very draws of the id
  // mode), adapt the touched items once, run the users on the compact
  // table, then backpropagate the table through the adapter once.
  ItemRows<float>& rows = ws->items;
  rows.Begin(options_.num_items);
  ws->skip.assign(batch.size(), 1);
  for (size_t b = 0; b < batch.size(); ++b) {
    const UserSequence& seq = batch[b];
    if (seq.items.size() < 2) continue;
    const Window w = MakeWindow(options_, seq.items);
    if (!DrawUserNegatives(options_, popularity_, excluded_, key, seq.user, seq.items, w.steps, ws,
                           &ws->negatives[b], &ws->logq[b])) {
      continue;
    }
    rows.Add(ws->negatives[b]);
    ws->skip[b] = 0;
    rows.Add(seq.items.subspan(seq.items.size() - 1 - w.steps));
  }
  if (full) rows.AddAll();
  rows.Finish();
  const std::vector<const float*> params = TensorPointers(global_);
  std::vector<float*> grads(global_.num_tensors());
  for (size_t k = 0; k < grads.size(); ++k) grads[k] = global_grads->View(k).data;
  rows.Forward(layout_, *features_, params.data(), options_.dim);
  const ItemTable table{rows.table(), rows.dtable(), nullptr, rows.row_map()};
  for (size_t b = 0; b < batch.size(); ++b) {
    if (ws->skip[b]) continue;
    const Window w = MakeWindow(options_, batch[b].items);
    total.loss += UserLoss(options_, global_, gru_first, table, table, excluded_, key,
                           batch[b].user, w, ws, global_grads, ws->negatives[b], ws->logq[b]);
    total.examples += w.steps;
  }
  rows.Backward(layout_, params.data(), grads.data(), global_grads, options_.dim);
  return total;
}

const float* Gru4RecModel::ScoringRows(
    std::shared_ptr<const AdaptedTableCache::Table>* hold) const {
  return ScoringItemRows(layout_, global_, features_.get(), table_cache_.get(), hold);
}

const float* Gru4RecModel::OutputRows(const float* input_rows) const {
  return options_.separate_output ? global_.ViewAt(OutputTensor()).data : input_rows;
}

void Gru4RecModel::ScoreAll(uint32_t, std::span<const uint32_t> history,
                            std::span<float> scores) const {
  const int d = static_cast<int>(options_.dim);
  const size_t steps = std::min<size_t>(history.size(), options_.max_len);
  if (steps == 0) {
    std::fill(scores.begin(), scores.end(), 0.0f);
    return;
  }
  std::shared_ptr<const AdaptedTableCache::Table> hold;
  const ItemTable table{ScoringRows(&hold)};
  ForwardScratch& s = ThreadScratch(options_.layers);
  const float* last = RunLayers(global_, layout_.num_tensors(), options_.layers, d, table,
                                history.last(steps), {}, &s);
  const auto items = static_cast<Eigen::Index>(options_.num_items);
  const Eigen::VectorXf h = ScoringState(last + (steps - 1) * d);
  const ItemTable out{OutputRows(table.rows)};
  Vec(scores.data(), items).noalias() = CMap(out.rows, items, d) * h;
  if (!options_.normalize && options_.temperature == 1.0) return;
  for (uint32_t i = 0; i < options_.num_items; ++i) {
    scores[i] = ScaleScore(scores[i], out.RowPtr(i, d));
  }
}

void Gru4RecModel::ScoreCandidates(uint32_t, std::span<const uint32_t> history,
                                   std::span<const uint32_t> candidates,
                                   std::span<float> scores) const {
  const int d = static_cast<int>(options_.dim);
  const size_t steps = std::min<size_t>(history.size(), options_.max_len);
  if (steps == 0) {
    std::fill(scores.begin(), scores.end(), 0.0f);
    return;
  }
  std::shared_ptr<const AdaptedTableCache::Table> hold;
  const ItemTable table{ScoringRows(&hold)};
  ForwardScratch& s = ThreadScratch(options_.layers);
  const float* last = RunLayers(global_, layout_.num_tensors(), options_.layers, d, table,
                                history.last(steps), {}, &s);
  const Eigen::VectorXf h = ScoringState(last + (steps - 1) * d);
  const ItemTable out{OutputRows(table.rows)};
  for (size_t j = 0; j < candidates.size(); ++j) {
    const float* row = out.RowPtr(candidates[j], d);
    scores[j] = ScaleScore(CVec(row, d).dot(h), row);
  }
}

Eigen::VectorXf Gru4RecModel::ScoringState(const float* last) const {
  Eigen::VectorXf h = CVec(last, options_.dim);
  if (options_.normalize) {
    // A zero state stays zero (every score 0), as in training's floor.
    const float norm = h.norm();
    if (norm > 0) h /= std::max(norm, static_cast<float>(seqloss::kNormEps));
  }
  return h;
}

float Gru4RecModel::ScaleScore(float dot, const float* row) const {
  if (options_.normalize) {
    const float norm = CVec(row, options_.dim).norm();
    dot /= std::max(norm, static_cast<float>(seqloss::kNormEps));
  }
  return options_.temperature == 1.0 ? dot : dot * static_cast<float>(1.0 / options_.temperature);
}

}  // namespace fedrec
