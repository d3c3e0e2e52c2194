#include "models/mf.h"

#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/random.h"
#include "core/thread_pool.h"
#include "models/init_util.h"
#include "models/losses.h"
#include "models/negatives.h"

namespace fedrec {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMat = Eigen::Map<const RowMat>;
using Vec = Eigen::Map<Eigen::VectorXf>;
using CVec = Eigen::Map<const Eigen::VectorXf>;

struct MfWorkspace final : Workspace {
  MfWorkspace(uint32_t num_items, uint32_t dim) : sampler(num_items), du(dim), negatives(1) {}
  UnseenItemSampler sampler;
  std::vector<float> du;
  // MF-BPR: each user's negatives (one per training item); the id path
  // uses the first only. Text modes: the batch's compact item rows and
  // which users are skipped.
  std::vector<std::vector<uint32_t>> negatives;
  ItemRows<float> rows;
  std::vector<uint8_t> skip;
};

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fedrec: internal error: %s\n", what);
  std::abort();
}

absl::Status CheckCommon(uint32_t users, uint32_t items, uint32_t dim, float l2, float init_std,
                         const char* where) {
  if (users == 0 || items == 0 || dim == 0) {
    return InvalidInput(where, "num_users, num_items and dim must be at least 1");
  }
  if (!(l2 >= 0) || !(init_std >= 0)) {
    return InvalidInput(where, "l2 and init_std must be non-negative");
  }
  return absl::OkStatus();
}

// scores = E * u + b + offset for all items (user row present), or b +
// offset alone; `bias` null: no bias term. E: `items` rows of d floats.
void ScoreAllItems(const float* rows, const float* bias, size_t items, size_t d,
                   const float* user_row, float offset, std::span<float> scores) {
  Vec out(scores.data(), static_cast<Eigen::Index>(scores.size()));
  if (bias != nullptr) {
    out = CVec(bias, static_cast<Eigen::Index>(items)).array() + offset;
  } else {
    out.setConstant(offset);
  }
  if (user_row != nullptr) {
    out.noalias() += CMat(rows, static_cast<Eigen::Index>(items), static_cast<Eigen::Index>(d)) *
                     CVec(user_row, static_cast<Eigen::Index>(d));
  }
}

void ScoreSome(const float* rows, const float* bias, size_t d, const float* user_row, float offset,
               std::span<const uint32_t> candidates, std::span<float> scores) {
  const auto ed = static_cast<Eigen::Index>(d);
  for (size_t j = 0; j < candidates.size(); ++j) {
    const uint32_t item = candidates[j];
    float s = (bias != nullptr ? bias[item] : 0.0f) + offset;
    if (user_row != nullptr) s += CVec(rows + size_t{item} * d, ed).dot(CVec(user_row, ed));
    scores[j] = s;
  }
}

// Where one MF-BPR step reads the item representations and writes their
// gradients: item_emb itself (row = item id, rows marked in `tracker`), or
// the compact table of the step's items (row_of[item]; tracker null, the
// table's gradient goes back through the adapter afterwards). `bias` null:
// no item bias (text).
struct BprItems {
  const float* rows = nullptr;
  float* grads = nullptr;
  const uint32_t* row_of = nullptr;
  Gradients* tracker = nullptr;
  size_t emb_tensor = 0;
  const float* bias = nullptr;
  float* bias_grads = nullptr;
  size_t bias_tensor = 0;

  uint32_t Row(uint32_t item) const { return row_of != nullptr ? row_of[item] : item; }
};

// One user's BPR examples: training item items[k] against negatives[k].
// Returns the loss; the user's gradient goes into `du`, the items' into
// `t`. The bias rows are marked in `bias_tracker` (null: no bias).
double UserBpr(const BprItems& t, Gradients* bias_tracker, const CVec& u,
               std::span<const uint32_t> items, std::span<const uint32_t> negatives, float l2,
               Vec du) {
  const auto d = u.size();
  double loss = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    const uint32_t i = items[k], j = negatives[k];
    const uint32_t ri = t.Row(i), rj = t.Row(j);
    CVec ei(t.rows + size_t{ri} * d, d), ej(t.rows + size_t{rj} * d, d);
    const float bi = t.bias != nullptr ? t.bias[i] : 0.0f;
    const float bj = t.bias != nullptr ? t.bias[j] : 0.0f;
    const float pos = t.bias != nullptr ? u.dot(ei) + bi : u.dot(ei);
    const float neg = t.bias != nullptr ? u.dot(ej) + bj : u.dot(ej);
    float dpos, dneg;
    loss += BprLoss(pos, neg, &dpos, &dneg);
    if (t.tracker != nullptr) {
      t.tracker->MarkRow(t.emb_tensor, ri);
      t.tracker->MarkRow(t.emb_tensor, rj);
    }
    if (bias_tracker != nullptr) {
      bias_tracker->MarkRow(t.bias_tensor, i);
      bias_tracker->MarkRow(t.bias_tensor, j);
    }
    Vec gi(t.grads + size_t{ri} * d, d), gj(t.grads + size_t{rj} * d, d);
    gi += dpos * u;
    gj += dneg * u;
    if (t.bias != nullptr) {
      t.bias_grads[i] += dpos;
      t.bias_grads[j] += dneg;
    }
    du += dpos * ei + dneg * ej;
    if (l2 > 0) {
      loss +=
          0.5 * l2 * (u.squaredNorm() + ei.squaredNorm() + ej.squaredNorm() + bi * bi + bj * bj);
      gi += l2 * ei;
      gj += l2 * ej;
      if (t.bias != nullptr) {
        t.bias_grads[i] += l2 * bi;
        t.bias_grads[j] += l2 * bj;
      }
      du += l2 * u;
    }
  }
  return loss;
}

}  // namespace

// ---------------------------------------------------------------- MF-BPR

absl::StatusOr<std::unique_ptr<MfBprModel>> MfBprModel::Create(
    const MfBprOptions& options, std::shared_ptr<const ItemFeatures> features) {
  FEDREC_RETURN_IF_ERROR(CheckCommon(options.num_users, options.num_items, options.dim, options.l2,
                                     options.init_std, "model (mf_bpr)"));
  FEDREC_RETURN_IF_ERROR(
      ValidateItemRepr("mf_bpr", options.item_repr, options.num_items, features.get()));
  return std::unique_ptr<MfBprModel>(new MfBprModel(options, std::move(features)));
}

MfBprModel::MfBprModel(const MfBprOptions& options, std::shared_ptr<const ItemFeatures> features)
    : options_(options), layout_(options.item_repr, options.dim), features_(std::move(features)) {
  if (layout_.has_adapter()) table_cache_ = std::make_unique<AdaptedTableCache>();
  AddItemTensors(layout_, options.num_items, options.dim, &global_);
  bias_ = layout_.has_emb() ? layout_.num_tensors() : kNoBias;
  if (bias_ != kNoBias) (void)global_.Add("item_bias", options.num_items, 1);
  global_.Finalize();
  (void)local_.Add("user_emb", options.num_users, options.dim);
  local_.Finalize();
}

Gradients MfBprModel::NewGlobalGradients() const {
  std::vector<bool> sparse(global_.num_tensors(), false);
  if (layout_.has_emb()) sparse[ItemLayout::kEmb] = true;
  if (bias_ != kNoBias) sparse[bias_] = true;
  return Gradients(global_, std::move(sparse));
}
Gradients MfBprModel::NewLocalGradients() const { return Gradients(local_, {true}); }
std::unique_ptr<Workspace> MfBprModel::NewWorkspace() const {
  return std::make_unique<MfWorkspace>(options_.num_items, options_.dim);
}

absl::Status MfBprModel::SetNegativeExclusions(std::span<const uint8_t> excluded) {
  FEDREC_RETURN_IF_ERROR(CheckExclusionFlags("mf_bpr", excluded, options_.num_items));
  excluded_ = ExcludedItems(excluded);
  return absl::OkStatus();
}

void MfBprModel::Initialize(uint64_t seed) {
  if (layout_.has_emb()) {
    InitNormal(global_.ViewAt(kItemEmb), seed, kGlobalStoreIndex, kItemEmb, options_.init_std);
  }
  InitAdapter(layout_, seed, &global_);
  if (bias_ != kNoBias) {
    for (float& b : global_.ViewAt(bias_).Flat()) b = 0.0f;
  }
  InitNormal(local_.ViewAt(kUserEmb), seed, kLocalStoreIndex, kUserEmb, options_.init_std);
}

bool mf_internal::DrawBprNegatives(const UserSequence& seq, const StepKey& key,
                                   const ExcludedItems& excluded, UnseenItemSampler& sampler,
                                   std::vector<uint32_t>* negatives) {
  if (!sampler.Begin(seq.items, excluded)) {
    sampler.End(seq.items);
    return false;
  }
  RandomStream stream({.seed = key.seed,
                       .purpose = "train_negatives",
                       .round = key.epoch,
                       .client = seq.user,
                       .step = key.step});
  negatives->resize(seq.items.size());
  for (uint32_t& j : *negatives) j = sampler.Draw(stream, excluded);
  sampler.End(seq.items);
  return true;
}

LossSum MfBprModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                    Workspace* workspace, Gradients* global_grads,
                                    Gradients* local_grads) const {
  if (local_grads == nullptr) Fail("MfBprModel::ForwardBackward needs local gradients");
  if (layout_.has_adapter()) {
    return FeatureForwardBackward(batch, key, workspace, global_grads, local_grads);
  }
  auto* ws = static_cast<MfWorkspace*>(workspace);
  const auto d = static_cast<Eigen::Index>(options_.dim);
  const ConstTensorView users = local_.ViewAt(kUserEmb);
  const TensorView g_users = local_grads->View(kUserEmb);
  const BprItems items{.rows = global_.ViewAt(kItemEmb).data,
                       .grads = global_grads->View(kItemEmb).data,
                       .tracker = global_grads,
                       .emb_tensor = kItemEmb,
                       .bias = global_.ViewAt(kItemBias).data,
                       .bias_grads = global_grads->View(kItemBias).data,
                       .bias_tensor = kItemBias};
  LossSum total;
  for (const UserSequence& seq : batch) {
    if (seq.user >= options_.num_users) Fail("MfBprModel: user id out of range");
    if (seq.items.empty()) continue;
    if (!mf_internal::DrawBprNegatives(seq, key, excluded_, ws->sampler, &ws->negatives[0])) {
      continue;
    }
    Vec du(ws->du.data(), d);
    du.setZero();
    total.loss += UserBpr(items, global_grads, CVec(users.Row(seq.user).data(), d), seq.items,
                          ws->negatives[0], options_.l2, du);
    local_grads->MarkRow(kUserEmb, seq.user);
    Vec(g_users.Row(seq.user).data(), d) += du;
    total.examples += seq.items.size();
  }
  return total;
}

// Text modes: every user's negatives are drawn first (the very draws of the
// id path), the touched items adapted once into a compact table (ItemRows),
// the users run on it in batch order, and the table's gradient goes back
// through the adapter (and into the touched item_emb rows) once.
LossSum MfBprModel::FeatureForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                           Workspace* workspace, Gradients* global_grads,
                                           Gradients* local_grads) const {
  auto* ws = static_cast<MfWorkspace*>(workspace);
  const auto d = static_cast<Eigen::Index>(options_.dim);
  ItemRows<float>& rows = ws->rows;
  rows.Begin(options_.num_items);
  if (ws->negatives.size() < batch.size()) ws->negatives.resize(batch.size());
  ws->skip.assign(batch.size(), 1);
  for (size_t b = 0; b < batch.size(); ++b) {
    const UserSequence& seq = batch[b];
    if (seq.user >= options_.num_users) Fail("MfBprModel: user id out of range");
    if (seq.items.empty()) continue;
    if (!mf_internal::DrawBprNegatives(seq, key, excluded_, ws->sampler, &ws->negatives[b])) {
      continue;
    }
    ws->skip[b] = 0;
    rows.Add(seq.items);
    rows.Add(ws->negatives[b]);
  }
  rows.Finish();
  std::vector<const float*> params(global_.num_tensors());
  std::vector<float*> grads(global_.num_tensors());
  for (size_t k = 0; k < params.size(); ++k) {
    params[k] = global_.ViewAt(k).data;
    grads[k] = global_grads->View(k).data;
  }
  rows.Forward(layout_, *features_, params.data(), options_.dim);
  BprItems items{.rows = rows.table(), .grads = rows.dtable(), .row_of = rows.row_map()};
  Gradients* bias_tracker = nullptr;
  if (bias_ != kNoBias) {
    items.bias = params[bias_];
    items.bias_grads = grads[bias_];
    items.bias_tensor = bias_;
    bias_tracker = global_grads;
  }
  const ConstTensorView users = local_.ViewAt(kUserEmb);
  const TensorView g_users = local_grads->View(kUserEmb);
  LossSum total;
  for (size_t b = 0; b < batch.size(); ++b) {
    if (ws->skip[b]) continue;
    const UserSequence& seq = batch[b];
    Vec du(ws->du.data(), d);
    du.setZero();
    total.loss += UserBpr(items, bias_tracker, CVec(users.Row(seq.user).data(), d), seq.items,
                          ws->negatives[b], options_.l2, du);
    local_grads->MarkRow(kUserEmb, seq.user);
    Vec(g_users.Row(seq.user).data(), d) += du;
    total.examples += seq.items.size();
  }
  rows.Backward(layout_, params.data(), grads.data(), global_grads, options_.dim);
  return total;
}

void MfBprModel::ScoreAll(uint32_t user, std::span<const uint32_t>, std::span<float> scores) const {
  const float* row = user < options_.num_users ? local_.ViewAt(kUserEmb).Row(user).data() : nullptr;
  std::shared_ptr<const AdaptedTableCache::Table> hold;
  const float* items =
      ScoringItemRows(layout_, global_, features_.get(), table_cache_.get(), &hold);
  const float* bias = bias_ != kNoBias ? global_.ViewAt(bias_).data : nullptr;
  ScoreAllItems(items, bias, options_.num_items, options_.dim, row, 0.0f, scores);
}

void MfBprModel::ScoreCandidates(uint32_t user, std::span<const uint32_t>,
                                 std::span<const uint32_t> candidates,
                                 std::span<float> scores) const {
  const float* row = user < options_.num_users ? local_.ViewAt(kUserEmb).Row(user).data() : nullptr;
  std::shared_ptr<const AdaptedTableCache::Table> hold;
  const float* items =
      ScoringItemRows(layout_, global_, features_.get(), table_cache_.get(), &hold);
  const float* bias = bias_ != kNoBias ? global_.ViewAt(bias_).data : nullptr;
  ScoreSome(items, bias, options_.dim, row, 0.0f, candidates, scores);
}

// ---------------------------------------------------------------- MF-rating

absl::StatusOr<std::unique_ptr<MfRatingModel>> MfRatingModel::Create(
    const MfRatingOptions& options) {
  FEDREC_RETURN_IF_ERROR(CheckCommon(options.num_users, options.num_items, options.dim, options.l2,
                                     options.init_std, "model (mf_rating)"));
  if (!std::isfinite(options.global_mean)) {
    return InvalidInput("model (mf_rating)", "global_mean must be finite");
  }
  return std::unique_ptr<MfRatingModel>(new MfRatingModel(options));
}

MfRatingModel::MfRatingModel(const MfRatingOptions& options) : options_(options) {
  (void)global_.Add("item_emb", options.num_items, options.dim);
  (void)global_.Add("item_bias", options.num_items, 1);
  (void)global_.Add("global_mean", 1, 1);
  global_.Finalize();
  (void)local_.Add("user_emb", options.num_users, options.dim);
  (void)local_.Add("user_bias", options.num_users, 1);
  local_.Finalize();
  global_.ViewAt(kGlobalMean).data[0] = options.global_mean;
}

Gradients MfRatingModel::NewGlobalGradients() const {
  return Gradients(global_, {true, true, false});
}
Gradients MfRatingModel::NewLocalGradients() const { return Gradients(local_, {true, true}); }
std::unique_ptr<Workspace> MfRatingModel::NewWorkspace() const {
  return std::make_unique<MfWorkspace>(0, options_.dim);
}

void MfRatingModel::Initialize(uint64_t seed) {
  InitNormal(global_.ViewAt(kItemEmb), seed, kGlobalStoreIndex, kItemEmb, options_.init_std);
  for (float& b : global_.ViewAt(kItemBias).Flat()) b = 0.0f;
  global_.ViewAt(kGlobalMean).data[0] = options_.global_mean;
  InitNormal(local_.ViewAt(kUserEmb), seed, kLocalStoreIndex, kUserEmb, options_.init_std);
  for (float& b : local_.ViewAt(kUserBias).Flat()) b = 0.0f;
}

LossSum MfRatingModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey&,
                                       Workspace* workspace, Gradients* global_grads,
                                       Gradients* local_grads) const {
  auto* ws = static_cast<MfWorkspace*>(workspace);
  if (local_grads == nullptr) Fail("MfRatingModel::ForwardBackward needs local gradients");
  const auto d = static_cast<Eigen::Index>(options_.dim);
  const float l2 = options_.l2;
  const ConstTensorView emb = global_.ViewAt(kItemEmb);
  const ConstTensorView ibias = global_.ViewAt(kItemBias);
  const float mean = global_.ViewAt(kGlobalMean).data[0];
  const ConstTensorView users = local_.ViewAt(kUserEmb);
  const ConstTensorView ubias = local_.ViewAt(kUserBias);
  const TensorView g_emb = global_grads->View(kItemEmb);
  const TensorView g_ibias = global_grads->View(kItemBias);
  float* g_mean = global_grads->View(kGlobalMean).data;
  const TensorView g_users = local_grads->View(kUserEmb);
  const TensorView g_ubias = local_grads->View(kUserBias);
  LossSum total;
  for (const UserSequence& seq : batch) {
    if (seq.user >= options_.num_users) Fail("MfRatingModel: user id out of range");
    if (seq.ratings.size() != seq.items.size()) {
      Fail("MfRatingModel: ratings must be parallel to items");
    }
    if (seq.items.empty()) continue;
    CVec u(users.Row(seq.user).data(), d);
    const float bu = ubias.data[seq.user];
    Vec du(ws->du.data(), d);
    du.setZero();
    float dbu = 0, dmean = 0;
    double loss = 0;
    for (size_t k = 0; k < seq.items.size(); ++k) {
      const uint32_t i = seq.items[k];
      CVec ei(emb.Row(i).data(), d);
      const float bi = ibias.data[i];
      const float err = mean + bu + bi + u.dot(ei) - seq.ratings[k];
      loss += static_cast<double>(err) * err;
      const float g = 2 * err;
      global_grads->MarkRow(kItemEmb, i);
      global_grads->MarkRow(kItemBias, i);
      Vec gi(g_emb.Row(i).data(), d);
      gi += g * u;
      g_ibias.data[i] += g;
      du += g * ei;
      dbu += g;
      dmean += g;
      if (l2 > 0) {
        loss += 0.5 * l2 * (u.squaredNorm() + ei.squaredNorm() + bu * bu + bi * bi);
        gi += l2 * ei;
        g_ibias.data[i] += l2 * bi;
        du += l2 * u;
        dbu += l2 * bu;
      }
    }
    *g_mean += dmean;
    local_grads->MarkRow(kUserEmb, seq.user);
    local_grads->MarkRow(kUserBias, seq.user);
    Vec(g_users.Row(seq.user).data(), d) += du;
    g_ubias.data[seq.user] += dbu;
    total.loss += loss;
    total.examples += seq.items.size();
  }
  return total;
}

float MfRatingModel::PredictRating(uint32_t user, uint32_t item) const {
  const ConstTensorView emb = global_.ViewAt(kItemEmb);
  float p = global_.ViewAt(kGlobalMean).data[0] + global_.ViewAt(kItemBias).data[item];
  if (user < options_.num_users) {
    const auto d = static_cast<Eigen::Index>(options_.dim);
    p += local_.ViewAt(kUserBias).data[user] +
         CVec(local_.ViewAt(kUserEmb).Row(user).data(), d).dot(CVec(emb.Row(item).data(), d));
  }
  return p;
}

void MfRatingModel::ScoreAll(uint32_t user, std::span<const uint32_t>,
                             std::span<float> scores) const {
  const bool known = user < options_.num_users;
  const float offset =
      global_.ViewAt(kGlobalMean).data[0] + (known ? local_.ViewAt(kUserBias).data[user] : 0.0f);
  ScoreAllItems(global_.ViewAt(kItemEmb).data, global_.ViewAt(kItemBias).data, options_.num_items,
                options_.dim, known ? local_.ViewAt(kUserEmb).Row(user).data() : nullptr, offset,
                scores);
}

void MfRatingModel::ScoreCandidates(uint32_t user, std::span<const uint32_t>,
                                    std::span<const uint32_t> candidates,
                                    std::span<float> scores) const {
  for (size_t j = 0; j < candidates.size(); ++j) scores[j] = PredictRating(user, candidates[j]);
}

float TrainingMeanRating(const LeaveOneOutSplit& split) {
  const Dataset& data = split.data();
  double sum = 0;
  uint64_t n = 0;
  for (uint32_t u = 0; u < data.num_users(); ++u) {
    const size_t len = split.Train(u).size();
    const auto r = data.Ratings(u);
    for (size_t k = 0; k < len; ++k) sum += r[k];
    n += len;
  }
  return n == 0 ? 0.0f : static_cast<float>(sum / static_cast<double>(n));
}

absl::StatusOr<RatingMetrics> EvaluateRatings(const MfRatingModel& model,
                                              const LeaveOneOutSplit& split, SplitPart part,
                                              size_t threads) {
  const Dataset& data = split.data();
  if (model.num_users() != data.num_users() || model.num_items() != data.num_items()) {
    return InvalidInput("eval (ratings)", "the model has " + std::to_string(model.num_users()) +
                                              " users and " + std::to_string(model.num_items()) +
                                              " items but the dataset has " +
                                              std::to_string(data.num_users()) + " and " +
                                              std::to_string(data.num_items()));
  }
  if (data.ratings.size() != data.items.size()) {
    return InvalidInput("eval (ratings)", "the dataset has no ratings parallel to its items");
  }
  struct Sums {
    double squared = 0;
    double absolute = 0;
    uint64_t count = 0;
  };
  const size_t n = data.num_users();
  const size_t chunk = DefaultChunkSize(n);
  std::vector<Sums> per_chunk(NumChunks(n, chunk));
  FEDREC_RETURN_IF_ERROR(ParallelFor(n, chunk, threads, [&](size_t begin, size_t end, size_t c) {
    Sums s;
    for (size_t u = begin; u < end; ++u) {
      const auto user = static_cast<uint32_t>(u);
      if (!split.IsEvaluable(user)) continue;
      const size_t back = part == SplitPart::kValidation ? 2 : 1;
      const double truth = data.Ratings(user)[data.SequenceLength(user) - back];
      const double err = model.PredictRating(user, split.Target(user, part)) - truth;
      s.squared += err * err;
      s.absolute += std::abs(err);
      ++s.count;
    }
    per_chunk[c] = s;
    return absl::OkStatus();
  }));
  Sums all;
  for (const Sums& s : per_chunk) {  // chunk order: thread-count independent
    all.squared += s.squared;
    all.absolute += s.absolute;
    all.count += s.count;
  }
  if (all.count == 0) return InvalidInput("eval (ratings)", "no user has a held-out rating");
  RatingMetrics m;
  m.count = all.count;
  m.rmse = std::sqrt(all.squared / static_cast<double>(all.count));
  m.mae = all.absolute / static_cast<double>(all.count);
  return m;
}

}  // namespace fedrec
