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
  MfWorkspace(uint32_t num_items, uint32_t dim) : sampler(num_items), du(dim) {}
  UnseenItemSampler sampler;
  std::vector<float> du;
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

// scores = E * u + b for all items (user row present), or b alone.
void ScoreAllItems(ConstTensorView emb, ConstTensorView bias, const float* user_row, float offset,
                   std::span<float> scores) {
  Vec out(scores.data(), static_cast<Eigen::Index>(scores.size()));
  out = CVec(bias.data, static_cast<Eigen::Index>(bias.rows)).array() + offset;
  if (user_row != nullptr) {
    out.noalias() +=
        CMat(emb.data, static_cast<Eigen::Index>(emb.rows), static_cast<Eigen::Index>(emb.cols)) *
        CVec(user_row, static_cast<Eigen::Index>(emb.cols));
  }
}

void ScoreSome(ConstTensorView emb, ConstTensorView bias, const float* user_row, float offset,
               std::span<const uint32_t> candidates, std::span<float> scores) {
  const auto d = static_cast<Eigen::Index>(emb.cols);
  for (size_t j = 0; j < candidates.size(); ++j) {
    const uint32_t item = candidates[j];
    float s = bias.data[item] + offset;
    if (user_row != nullptr) s += CVec(emb.Row(item).data(), d).dot(CVec(user_row, d));
    scores[j] = s;
  }
}

}  // namespace

// ---------------------------------------------------------------- MF-BPR

absl::StatusOr<std::unique_ptr<MfBprModel>> MfBprModel::Create(const MfBprOptions& options) {
  FEDREC_RETURN_IF_ERROR(CheckCommon(options.num_users, options.num_items, options.dim, options.l2,
                                     options.init_std, "model (mf_bpr)"));
  return std::unique_ptr<MfBprModel>(new MfBprModel(options));
}

MfBprModel::MfBprModel(const MfBprOptions& options) : options_(options) {
  (void)global_.Add("item_emb", options.num_items, options.dim);
  (void)global_.Add("item_bias", options.num_items, 1);
  global_.Finalize();
  (void)local_.Add("user_emb", options.num_users, options.dim);
  local_.Finalize();
}

Gradients MfBprModel::NewGlobalGradients() const { return Gradients(global_, {true, true}); }
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
  InitNormal(global_.ViewAt(kItemEmb), seed, kGlobalStoreIndex, kItemEmb, options_.init_std);
  for (float& b : global_.ViewAt(kItemBias).Flat()) b = 0.0f;
  InitNormal(local_.ViewAt(kUserEmb), seed, kLocalStoreIndex, kUserEmb, options_.init_std);
}

LossSum MfBprModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                    Workspace* workspace, Gradients* global_grads,
                                    Gradients* local_grads) const {
  auto* ws = static_cast<MfWorkspace*>(workspace);
  if (local_grads == nullptr) Fail("MfBprModel::ForwardBackward needs local gradients");
  const auto d = static_cast<Eigen::Index>(options_.dim);
  const float l2 = options_.l2;
  const ConstTensorView emb = global_.ViewAt(kItemEmb);
  const ConstTensorView bias = global_.ViewAt(kItemBias);
  const ConstTensorView users = local_.ViewAt(kUserEmb);
  const TensorView g_emb = global_grads->View(kItemEmb);
  const TensorView g_bias = global_grads->View(kItemBias);
  const TensorView g_users = local_grads->View(kUserEmb);
  LossSum total;
  for (const UserSequence& seq : batch) {
    if (seq.user >= options_.num_users) Fail("MfBprModel: user id out of range");
    if (seq.items.empty()) continue;
    if (!ws->sampler.Begin(seq.items, excluded_)) {
      ws->sampler.End(seq.items);
      continue;
    }
    RandomStream stream({.seed = key.seed,
                         .purpose = "train_negatives",
                         .round = key.epoch,
                         .client = seq.user,
                         .step = key.step});
    CVec u(users.Row(seq.user).data(), d);
    Vec du(ws->du.data(), d);
    du.setZero();
    double loss = 0;
    for (uint32_t i : seq.items) {
      const uint32_t j = ws->sampler.Draw(stream, excluded_);
      CVec ei(emb.Row(i).data(), d), ej(emb.Row(j).data(), d);
      const float pos = u.dot(ei) + bias.data[i];
      const float neg = u.dot(ej) + bias.data[j];
      float dpos, dneg;
      loss += BprLoss(pos, neg, &dpos, &dneg);
      global_grads->MarkRow(kItemEmb, i);
      global_grads->MarkRow(kItemEmb, j);
      global_grads->MarkRow(kItemBias, i);
      global_grads->MarkRow(kItemBias, j);
      Vec gi(g_emb.Row(i).data(), d), gj(g_emb.Row(j).data(), d);
      gi += dpos * u;
      gj += dneg * u;
      g_bias.data[i] += dpos;
      g_bias.data[j] += dneg;
      du += dpos * ei + dneg * ej;
      if (l2 > 0) {
        loss += 0.5 * l2 *
                (u.squaredNorm() + ei.squaredNorm() + ej.squaredNorm() +
                 bias.data[i] * bias.data[i] + bias.data[j] * bias.data[j]);
        gi += l2 * ei;
        gj += l2 * ej;
        g_bias.data[i] += l2 * bias.data[i];
        g_bias.data[j] += l2 * bias.data[j];
        du += l2 * u;
      }
    }
    ws->sampler.End(seq.items);
    local_grads->MarkRow(kUserEmb, seq.user);
    Vec(g_users.Row(seq.user).data(), d) += du;
    total.loss += loss;
    total.examples += seq.items.size();
  }
  return total;
}

void MfBprModel::ScoreAll(uint32_t user, std::span<const uint32_t>, std::span<float> scores) const {
  const float* row = user < options_.num_users ? local_.ViewAt(kUserEmb).Row(user).data() : nullptr;
  ScoreAllItems(global_.ViewAt(kItemEmb), global_.ViewAt(kItemBias), row, 0.0f, scores);
}

void MfBprModel::ScoreCandidates(uint32_t user, std::span<const uint32_t>,
                                 std::span<const uint32_t> candidates,
                                 std::span<float> scores) const {
  const float* row = user < options_.num_users ? local_.ViewAt(kUserEmb).Row(user).data() : nullptr;
  ScoreSome(global_.ViewAt(kItemEmb), global_.ViewAt(kItemBias), row, 0.0f, candidates, scores);
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
  ScoreAllItems(global_.ViewAt(kItemEmb), global_.ViewAt(kItemBias),
                known ? local_.ViewAt(kUserEmb).Row(user).data() : nullptr, offset, scores);
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
