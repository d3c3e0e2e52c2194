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
  layers::AlignedVector<float> x;        // (T x D) embedded inputs
  std::vector<layers::AlignedVector<float>> outs;  // per layer (T x D)
};

struct Gru4RecWorkspace final : Workspace {
  ForwardScratch fwd;
  NegativeSampler sampler;
  std::vector<layers::AlignedVector<float>> masks;  // layers + 1 masks of (T x D)
  std::vector<const float*> mask_ptrs;    // into masks; empty without dropout
  layers::AlignedVector<float> final_out;  // (T x D) last output after dropout
  layers::AlignedVector<float> dcur, dnext;  // (T x D)
  std::vector<uint32_t> cands;            // 1 + negatives
  layers::AlignedVector<float> logits, dlogits;  // (1 + negatives) or (T x num_items)
};

void Resize(ForwardScratch* s, uint32_t layers) {
  if (s->layers.size() != layers) {
    s->layers.resize(layers);
    s->outs.resize(layers);
  }
}

GruWeights<float> LayerWeights(const ParameterStore& p, uint32_t l, int dim) {
  return {dim,
          dim,
          p.ViewAt(Gru4RecModel::GruTensor(l, 0)).data,
          p.ViewAt(Gru4RecModel::GruTensor(l, 1)).data,
          p.ViewAt(Gru4RecModel::GruTensor(l, 2)).data,
          p.ViewAt(Gru4RecModel::GruTensor(l, 3)).data};
}

// Embeds `items` and runs the layers; masks[l] (or nullptr) is layer l's
// input mask. Returns the last layer's output (T x D).
const float* RunLayers(const ParameterStore& p, uint32_t num_layers, int dim,
                       std::span<const uint32_t> items, const std::vector<const float*>& masks,
                       ForwardScratch* s) {
  const int steps = static_cast<int>(items.size());
  const size_t td = items.size() * static_cast<size_t>(dim);
  const ConstTensorView emb = p.ViewAt(Gru4RecModel::kItemEmb);
  float* x = Grow(&s->x, td);
  for (int t = 0; t < steps; ++t) {
    const auto row = emb.Row(items[t]);
    std::copy(row.begin(), row.end(), x + static_cast<size_t>(t) * dim);
  }
  const float* in = x;
  for (uint32_t l = 0; l < num_layers; ++l) {
    float* out = Grow(&s->outs[l], td);
    s->layers[l].Forward(LayerWeights(p, l, dim), in, steps, nullptr,
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
const float* Forward(const Gru4RecOptions& o, const ParameterStore& global, const StepKey& key,
                     uint32_t user, const Window& w, Gru4RecWorkspace* ws) {
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
  const float* last =
      RunLayers(global, num_layers, static_cast<int>(o.dim), w.inputs, masks, &ws->fwd);
  float* fin = Grow(&ws->final_out, td);
  if (p > 0) {
    for (size_t k = 0; k < td; ++k) fin[k] = last[k] * masks[num_layers][k];
  } else {
    std::copy(last, last + td, fin);
  }
  return fin;
}

// Sampled losses (bpr, sampled softmax) of one user over [target,
// negatives...] per position: returns the loss, adds d loss / d fin into
// dfin (zeroed by the caller) and the scored rows' gradients into item_emb. The caller has
// begun the sampler on the user's items.
double SampledLoss(const Gru4RecOptions& o, const ParameterStore& global, const StepKey& key,
                   uint32_t user, const Window& w, const float* fin, float* dfin,
                   Gru4RecWorkspace* ws, Gradients* global_grads) {
  constexpr size_t kItemEmb = Gru4RecModel::kItemEmb;
  const int d = static_cast<int>(o.dim);
  const uint32_t negatives = o.negatives;
  const ConstTensorView emb = global.ViewAt(kItemEmb);
  const TensorView g_emb = global_grads->View(kItemEmb);
  RandomStream neg({.seed = key.seed,
                    .purpose = "train_negatives",
                    .round = key.epoch,
                    .client = user,
                    .step = key.step});
  const size_t c = 1 + negatives;
  double loss = 0;
  for (size_t t = 0; t < w.steps; ++t) {
    CVec h(fin + t * d, d);
    ws->cands[0] = w.targets[t];
    for (size_t k = 1; k < c; ++k) ws->cands[k] = ws->sampler.Draw(neg);
    for (size_t k = 0; k < c; ++k) {
      ws->logits[k] = CVec(emb.Row(ws->cands[k]).data(), d).dot(h);
    }
    if (o.loss == SeqLoss::kBpr) {
      const float inv = 1.0f / static_cast<float>(negatives);
      ws->dlogits[0] = 0;
      float pos_loss = 0;
      for (size_t k = 1; k < c; ++k) {
        float dpos, dneg;
        pos_loss += BprLoss(ws->logits[0], ws->logits[k], &dpos, &dneg);
        ws->dlogits[0] += dpos * inv;
        ws->dlogits[k] = dneg * inv;
      }
      loss += pos_loss * inv;
    } else {
      loss += SoftmaxCrossEntropy<float>(std::span<const float>(ws->logits.data(), c), 0,
                                         std::span<float>(ws->dlogits.data(), c));
    }
    Vec dh(dfin + t * d, d);
    for (size_t k = 0; k < c; ++k) {
      const uint32_t item = ws->cands[k];
      global_grads->MarkRow(kItemEmb, item);
      dh += ws->dlogits[k] * CVec(emb.Row(item).data(), d);
      Vec(g_emb.Row(item).data(), d) += ws->dlogits[k] * h;
    }
  }
  return loss;
}

// Full softmax cross-entropy of one user, logits (T x num_items) = fin * E^T:
// returns the loss, writes d loss / d fin into dfin and adds into every
// item_emb row.
double FullSoftmaxLoss(const Gru4RecOptions& o, const ParameterStore& global, const Window& w,
                       const float* fin, float* dfin, Gru4RecWorkspace* ws,
                       Gradients* global_grads) {
  constexpr size_t kItemEmb = Gru4RecModel::kItemEmb;
  const int d = static_cast<int>(o.dim);
  const size_t steps = w.steps;
  const ConstTensorView emb = global.ViewAt(kItemEmb);
  const TensorView g_emb = global_grads->View(kItemEmb);
  double loss = 0;
  const auto items = static_cast<Eigen::Index>(o.num_items);
  Map logits(Grow(&ws->logits, steps * o.num_items), static_cast<Eigen::Index>(steps), items);
  CMap e(emb.data, items, d);
  CMap h(fin, static_cast<Eigen::Index>(steps), d);
  logits.noalias() = h * e.transpose();
  Map dlogits(Grow(&ws->dlogits, steps * o.num_items), static_cast<Eigen::Index>(steps), items);
  for (size_t t = 0; t < steps; ++t) {
    loss += SoftmaxCrossEntropy<float>(std::span<const float>(logits.row(t).data(), o.num_items),
                                       w.targets[t],
                                       std::span<float>(dlogits.row(t).data(), o.num_items));
  }
  for (uint32_t i = 0; i < o.num_items; ++i) global_grads->MarkRow(kItemEmb, i);
  Map(dfin, static_cast<Eigen::Index>(steps), d).noalias() = dlogits * e;
  Map(g_emb.data, items, d).noalias() += dlogits.transpose() * h;
  return loss;
}

// Backward pass of one user from d loss / d fin: back through the output
// dropout and the layers (into the GRU weights), then into the input rows of
// item_emb. Overwrites dfin.
void Backward(const Gru4RecOptions& o, const Window& w, float* dfin, Gru4RecWorkspace* ws,
              Gradients* global_grads) {
  constexpr size_t kItemEmb = Gru4RecModel::kItemEmb;
  const int d = static_cast<int>(o.dim);
  const uint32_t num_layers = o.layers;
  const size_t td = w.td;
  const TensorView g_emb = global_grads->View(kItemEmb);
  if (o.dropout > 0) {
    const float* out_mask = ws->mask_ptrs[num_layers];
    for (size_t k = 0; k < td; ++k) dfin[k] *= out_mask[k];
  }
  float* dcur = dfin;
  float* dnext = Grow(&ws->dnext, td);
  for (uint32_t l = num_layers; l-- > 0;) {
    GruGradients<float> g{global_grads->View(Gru4RecModel::GruTensor(l, 0)).data,
                          global_grads->View(Gru4RecModel::GruTensor(l, 1)).data,
                          global_grads->View(Gru4RecModel::GruTensor(l, 2)).data,
                          global_grads->View(Gru4RecModel::GruTensor(l, 3)).data};
    ws->fwd.layers[l].Backward(dcur, &g, dnext, nullptr);
    std::swap(dcur, dnext);
  }
  for (size_t t = 0; t < w.steps; ++t) {
    global_grads->MarkRow(kItemEmb, w.inputs[t]);
    Vec(g_emb.Row(w.inputs[t]).data(), d) += CVec(dcur + t * d, d);
  }
}

}  // namespace

absl::StatusOr<SeqLoss> ParseSeqLoss(const std::string& name) {
  if (name == "bpr") return SeqLoss::kBpr;
  if (name == "ce") return SeqLoss::kCe;
  return absl::InvalidArgumentError("loss '" + name + "' is not one of: bpr, ce");
}

const char* SeqLossName(SeqLoss loss) { return loss == SeqLoss::kBpr ? "bpr" : "ce"; }

absl::StatusOr<std::unique_ptr<Gru4RecModel>> Gru4RecModel::Create(const Gru4RecOptions& options) {
  const char* where = "model (gru4rec)";
  if (options.num_items == 0 || options.dim == 0 || options.layers == 0 || options.max_len == 0) {
    return InvalidInput(where, "num_items, dim, layers and max_len must be at least 1");
  }
  if (!(options.dropout >= 0 && options.dropout < 1)) {
    return InvalidInput(where, "dropout must be in [0, 1)");
  }
  if (options.loss == SeqLoss::kBpr && options.negatives == 0) {
    return InvalidInput(where, "the bpr loss needs at least 1 negative");
  }
  if (!(options.init_std >= 0)) return InvalidInput(where, "init_std must be non-negative");
  return std::unique_ptr<Gru4RecModel>(new Gru4RecModel(options));
}

Gru4RecModel::Gru4RecModel(const Gru4RecOptions& options) : options_(options) {
  const size_t d = options.dim;
  (void)global_.Add("item_emb", options.num_items, d);
  for (uint32_t l = 0; l < options.layers; ++l) {
    const std::string prefix = "gru" + std::to_string(l) + ".";
    (void)global_.Add(prefix + "w_ih", 3 * d, d);
    (void)global_.Add(prefix + "w_hh", 3 * d, d);
    (void)global_.Add(prefix + "b_ih", 1, 3 * d);
    (void)global_.Add(prefix + "b_hh", 1, 3 * d);
  }
  global_.Finalize();
}

Gradients Gru4RecModel::NewGlobalGradients() const {
  std::vector<bool> sparse(global_.num_tensors(), false);
  sparse[kItemEmb] = true;
  return Gradients(global_, std::move(sparse));
}

std::unique_ptr<Workspace> Gru4RecModel::NewWorkspace() const {
  auto ws = std::make_unique<Gru4RecWorkspace>();
  Resize(&ws->fwd, options_.layers);
  ws->sampler = NegativeSampler(options_.num_items);
  ws->masks.resize(options_.layers + 1);
  ws->mask_ptrs.reserve(options_.layers + 1);
  ws->cands.resize(1 + options_.negatives);
  ws->logits.resize(1 + options_.negatives);
  ws->dlogits.resize(1 + options_.negatives);
  return ws;
}

void Gru4RecModel::Initialize(uint64_t seed) {
  InitNormal(global_.ViewAt(kItemEmb), seed, kGlobalStoreIndex, kItemEmb, options_.init_std);
  const double bound = 1.0 / std::sqrt(static_cast<double>(options_.dim));
  for (size_t k = 1; k < global_.num_tensors(); ++k) {
    InitUniform(global_.ViewAt(k), seed, kGlobalStoreIndex, static_cast<uint32_t>(k), bound);
  }
}

LossSum Gru4RecModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                      Workspace* workspace, Gradients* global_grads,
                                      Gradients*) const {
  auto* ws = static_cast<Gru4RecWorkspace*>(workspace);
  const bool sampled = options_.negatives > 0;
  LossSum total;
  for (const UserSequence& seq : batch) {
    const size_t n = seq.items.size();
    if (n < 2) continue;
    Window w;
    w.steps = std::min<size_t>(n - 1, options_.max_len);
    w.inputs = seq.items.subspan(n - 1 - w.steps, w.steps);
    w.targets = seq.items.subspan(n - w.steps, w.steps);
    w.td = w.steps * static_cast<size_t>(options_.dim);
    if (sampled && !ws->sampler.Begin(seq.items)) {
      ws->sampler.End(seq.items);
      continue;
    }
    const float* fin = Forward(options_, global_, key, seq.user, w, ws);
    float* dfin = Grow(&ws->dcur, w.td);
    std::fill(dfin, dfin + w.td, 0.0f);
    double loss = 0;
    if (sampled) {
      loss = SampledLoss(options_, global_, key, seq.user, w, fin, dfin, ws, global_grads);
      ws->sampler.End(seq.items);
    } else {
      loss = FullSoftmaxLoss(options_, global_, w, fin, dfin, ws, global_grads);
    }
    Backward(options_, w, dfin, ws, global_grads);
    total.loss += loss;
    total.examples += w.steps;
  }
  return total;
}

void Gru4RecModel::ScoreAll(uint32_t, std::span<const uint32_t> history,
                            std::span<float> scores) const {
  const int d = static_cast<int>(options_.dim);
  const size_t steps = std::min<size_t>(history.size(), options_.max_len);
  if (steps == 0) {
    std::fill(scores.begin(), scores.end(), 0.0f);
    return;
  }
  ForwardScratch& s = ThreadScratch(options_.layers);
  const float* out = RunLayers(global_, options_.layers, d, history.last(steps), {}, &s);
  const auto items = static_cast<Eigen::Index>(options_.num_items);
  Vec(scores.data(), items).noalias() =
      CMap(global_.ViewAt(kItemEmb).data, items, d) * CVec(out + (steps - 1) * d, d);
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
  ForwardScratch& s = ThreadScratch(options_.layers);
  const float* out = RunLayers(global_, options_.layers, d, history.last(steps), {}, &s);
  CVec h(out + (steps - 1) * d, d);
  const ConstTensorView emb = global_.ViewAt(kItemEmb);
  for (size_t j = 0; j < candidates.size(); ++j) {
    scores[j] = CVec(emb.Row(candidates[j]).data(), d).dot(h);
  }
}

}  // namespace fedrec
