#include "models/cuda/device_ranking.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "models/cuda/growing_buffer.h"
#include "models/cuda/gru4rec_device.h"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/ops_tensors.h"
#include "models/cuda/sasrec_device.h"
#include "models/gru4rec.h"
#include "models/sasrec.h"
#include "models/sasrec_impl.h"

namespace fedrec::kernels {
namespace {

// What a session ranks with: the model's sizes, the scored table's index
// among the tensors, and its states for a batch of histories.
struct RankedModel {
  uint32_t num_items = 0;
  size_t dim = 0;
  size_t max_len = 0;
  size_t scored_tensor = 0;
  // states (histories.size() x dim, in the ops' memory) for the histories'
  // last max_len items, from the parameters `params`.
  std::function<absl::Status(std::span<const std::span<const uint32_t>> histories,
                             const float* const* params, float* states)>
      states;
};

class DeviceRankingSession final : public RankingSession {
 public:
  DeviceRankingSession(RankingSessionOptions r, std::unique_ptr<TensorOps> ops, OpsTensors tensors,
                       RankedModel model)
      : max_batch_(r.max_batch),
        item_block_(r.item_block),
        ops_(std::move(ops)),
        tensors_(std::move(tensors)),
        model_(std::move(model)) {}

  size_t max_batch() const override { return max_batch_; }

  absl::Status Rank(std::span<const RankQuery> queries, std::span<uint64_t> greater,
                    std::span<uint64_t> ties) override {
    const size_t n = queries.size();
    if (n > max_batch_ || greater.size() != n || ties.size() != n) {
      return absl::InvalidArgumentError("ranking session: a batch of " + std::to_string(n) +
                                        " queries does not fit (at most " +
                                        std::to_string(max_batch_) + ", one count each)");
    }
    if (n == 0) return absl::OkStatus();
    TensorOps& ops = *ops_;
    FEDREC_RETURN_IF_ERROR(ops.BindToCallingThread());
    const size_t B = max_batch_, d = model_.dim;
    const float* table = tensors_.params()[model_.scored_tensor];

    // 1-2. States and the targets' scores, at the fixed shape B x max_len.
    std::vector<std::span<const uint32_t>> histories(B);
    std::vector<uint32_t> target_ids(B, kNoItem);
    for (size_t q = 0; q < n; ++q) {
      if (queries[q].target >= model_.num_items) {
        return absl::InvalidArgumentError("ranking session: target item out of range");
      }
      for (const uint32_t item : queries[q].history) {
        if (item >= model_.num_items) {
          return absl::InvalidArgumentError("ranking session: history item out of range");
        }
      }
      histories[q] = queries[q].history;
      target_ids[q] = queries[q].target;
    }
    FEDREC_ASSIGN_OR_RETURN(float* states, states_.Get<float>(ops, B * d));
    FEDREC_RETURN_IF_ERROR(model_.states(histories, tensors_.params(), states));
    FEDREC_ASSIGN_OR_RETURN(uint32_t * targets,
                            target_ids_.Put(ops, std::span<const uint32_t>(target_ids)));
    FEDREC_ASSIGN_OR_RETURN(float* target_scores, target_scores_.Get<float>(ops, B));
    FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(states, table, d, targets, B, target_scores));
    std::vector<float> target_host(n);
    FEDREC_RETURN_IF_ERROR(ops.Download(target_host.data(), target_scores, n * sizeof(float)));

    std::fill(greater.begin(), greater.end(), 0);
    std::fill(ties.begin(), ties.end(), 0);
    FEDREC_RETURN_IF_ERROR(RankSampled(queries, states, target_host, greater, ties));
    FEDREC_RETURN_IF_ERROR(RankFull(queries, states, target_scores, greater, ties));
    // A NaN target ranks below every competitor.
    for (size_t q = 0; q < n; ++q) {
      if (!std::isnan(target_host[q])) continue;
      greater[q] = queries[q].candidates.empty() ? FullCompetitors(queries[q])
                                                 : queries[q].candidates.size();
      ties[q] = 0;
    }
    return absl::OkStatus();
  }

 private:
  // Items a full query ranks its target against: all but the distinct items
  // of the history and the target.
  uint64_t FullCompetitors(const RankQuery& q) {
    Excluded(q);
    return model_.num_items - excluded_.size();
  }
  // excluded_ = the distinct items of q's history and its target, sorted.
  void Excluded(const RankQuery& q) {
    excluded_.assign(q.history.begin(), q.history.end());
    excluded_.push_back(q.target);
    std::sort(excluded_.begin(), excluded_.end());
    excluded_.erase(std::unique(excluded_.begin(), excluded_.end()), excluded_.end());
  }

  // 3. The sampled queries' candidates, scored on the device, counted here.
  absl::Status RankSampled(std::span<const RankQuery> queries, const float* states,
                           const std::vector<float>& target_host, std::span<uint64_t> greater,
                           std::span<uint64_t> ties) {
    std::vector<uint32_t> owner, items;
    for (size_t q = 0; q < queries.size(); ++q) {
      for (const uint32_t item : queries[q].candidates) {
        if (item >= model_.num_items) {
          return absl::InvalidArgumentError("ranking session: candidate item out of range");
        }
        owner.push_back(static_cast<uint32_t>(q));
        items.push_back(item);
      }
    }
    if (owner.empty()) return absl::OkStatus();
    TensorOps& ops = *ops_;
    const size_t m = owner.size(), d = model_.dim;
    const float* table = tensors_.params()[model_.scored_tensor];
    FEDREC_ASSIGN_OR_RETURN(uint32_t * owner_dev,
                            owner_.Put(ops, std::span<const uint32_t>(owner)));
    FEDREC_ASSIGN_OR_RETURN(uint32_t * items_dev,
                            items_.Put(ops, std::span<const uint32_t>(items)));
    FEDREC_ASSIGN_OR_RETURN(float* expanded, expanded_.Get<float>(ops, m * d));
    FEDREC_ASSIGN_OR_RETURN(float* scores, scores_.Get<float>(ops, m));
    FEDREC_RETURN_IF_ERROR(ops.Gather(states, d, owner_dev, m, 1.0f, expanded));
    FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(expanded, table, d, items_dev, m, scores));
    std::vector<float> host(m);
    FEDREC_RETURN_IF_ERROR(ops.Download(host.data(), scores, m * sizeof(float)));
    for (size_t i = 0; i < m; ++i) {
      const float t = target_host[owner[i]];
      greater[owner[i]] += host[i] > t ? 1 : 0;
      ties[owner[i]] += host[i] == t ? 1 : 0;
    }
    return absl::OkStatus();
  }

  // 4. The full queries: every item block scored and counted on the device.
  absl::Status RankFull(std::span<const RankQuery> queries, const float* states,
                        const float* target_scores, std::span<uint64_t> greater,
                        std::span<uint64_t> ties) {
    const size_t n = queries.size();
    // Queries are ranked in the first `rows` rows; sampled ones among them
    // are counted too and ignored.
    std::vector<std::vector<uint32_t>> excluded;
    size_t rows = 0;
    for (size_t q = 0; q < n; ++q) {
      if (!queries[q].candidates.empty()) continue;
      rows = q + 1;
    }
    if (rows == 0) return absl::OkStatus();
    excluded.resize(rows);
    for (size_t q = 0; q < rows; ++q) {
      if (!queries[q].candidates.empty()) continue;
      Excluded(queries[q]);
      excluded[q] = excluded_;
    }
    TensorOps& ops = *ops_;
    const size_t B = max_batch_, d = model_.dim, items = model_.num_items;
    const size_t block = std::min(items, item_block_);
    const float* table = tensors_.params()[model_.scored_tensor];
    FEDREC_ASSIGN_OR_RETURN(float* scores, block_scores_.Get<float>(ops, B * block));
    const std::vector<uint64_t> zeros(2 * rows, 0);
    FEDREC_ASSIGN_OR_RETURN(uint64_t * counts, counts_.Put(ops, std::span<const uint64_t>(zeros)));
    std::vector<uint64_t> offsets;
    std::vector<size_t> cursor(rows, 0);  // next excluded item per query
    for (size_t i0 = 0; i0 < items; i0 += block) {
      const size_t width = std::min(block, items - i0);
      FEDREC_RETURN_IF_ERROR(ops.Gemm(false, true, B, width, d, 1.0f, states, d, table + i0 * d, d,
                                      0.0f, scores, width));
      offsets.clear();
      for (size_t q = 0; q < rows; ++q) {
        const std::vector<uint32_t>& ex = excluded[q];
        for (size_t& c = cursor[q]; c < ex.size() && ex[c] < i0 + width; ++c) {
          offsets.push_back(q * width + (ex[c] - i0));
        }
      }
      if (!offsets.empty()) {
        FEDREC_ASSIGN_OR_RETURN(uint64_t * offsets_dev,
                                offsets_.Put(ops, std::span<const uint64_t>(offsets)));
        FEDREC_RETURN_IF_ERROR(ops.SetAt(scores, offsets_dev, offsets.size(),
                                         std::numeric_limits<float>::quiet_NaN()));
      }
      FEDREC_RETURN_IF_ERROR(
          ops.CountAboveRows(scores, rows, width, width, target_scores, counts, counts + rows));
    }
    std::vector<uint64_t> host(2 * rows);
    FEDREC_RETURN_IF_ERROR(ops.Download(host.data(), counts, host.size() * sizeof(uint64_t)));
    for (size_t q = 0; q < rows; ++q) {
      if (!queries[q].candidates.empty()) continue;
      greater[q] = host[q];
      ties[q] = host[rows + q];
    }
    return absl::OkStatus();
  }

  size_t max_batch_, item_block_;
  std::unique_ptr<TensorOps> ops_;  // before model_: its programs use it
  OpsTensors tensors_;
  RankedModel model_;
  GrowingBuffer states_, target_ids_, target_scores_, owner_, items_, expanded_, scores_,
      block_scores_, counts_, offsets_;
  std::vector<uint32_t> excluded_;
};

// The session over `params` copied to a new TensorOps from `make_ops`;
// `program` builds the states function on that TensorOps.
absl::StatusOr<std::unique_ptr<RankingSession>> NewSession(
    const ParameterStore& params, const TensorOpsFactory& make_ops, RankingSessionOptions options,
    RankedModel model,
    const std::function<absl::StatusOr<decltype(RankedModel::states)>(TensorOps*)>& program) {
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<TensorOps> ops, make_ops());
  FEDREC_ASSIGN_OR_RETURN(model.states, program(ops.get()));
  FEDREC_ASSIGN_OR_RETURN(OpsTensors tensors, OpsTensors::Allocate(*ops, params));
  FEDREC_RETURN_IF_ERROR(tensors.Load(*ops, params));
  options.max_batch = std::max<size_t>(options.max_batch, 1);
  options.item_block = std::max<size_t>(options.item_block, 1);
  return std::unique_ptr<RankingSession>(
      new DeviceRankingSession(options, std::move(ops), std::move(tensors), std::move(model)));
}

absl::StatusOr<std::unique_ptr<RankingSession>> NewSasRecSession(const SasRecModel& model,
                                                                 const TensorOpsFactory& make_ops,
                                                                 RankingSessionOptions options) {
  // The forward pass does not depend on the loss: the program's training
  // restrictions on it do not apply here.
  SasRecOptions o = model.options();
  o.loss = SasRecLoss::kBce;
  o.l2_emb = 0;
  RankedModel ranked{o.num_items, o.dim, o.max_len, sasrec_internal::ScoredTable(o), {}};
  return NewSession(model.global_params(), make_ops, options, std::move(ranked),
                    [&o](TensorOps* ops) -> absl::StatusOr<decltype(RankedModel::states)> {
                      FEDREC_ASSIGN_OR_RETURN(std::shared_ptr<SasRecDeviceProgram> program,
                                              SasRecDeviceProgram::Create(o, ops));
                      return [program, len = size_t{o.max_len}](
                                 std::span<const std::span<const uint32_t>> histories,
                                 const float* const* params, float* states) {
                        return program->LastStates(
                            params, SasRecWindowBatch::PackHistories(histories, len), states);
                      };
                    });
}

absl::StatusOr<std::unique_ptr<RankingSession>> NewGru4RecSession(const Gru4RecModel& model,
                                                                  const TensorOpsFactory& make_ops,
                                                                  RankingSessionOptions options) {
  // Likewise: any loss and negatives run the same forward pass.
  Gru4RecOptions o = model.options();
  o.loss = SeqLoss::kBpr;
  o.negatives = std::max<uint32_t>(o.negatives, 1);
  const size_t scored = o.separate_output ? model.OutputTensor() : Gru4RecModel::kItemEmb;
  RankedModel ranked{o.num_items, o.dim, o.max_len, scored, {}};
  return NewSession(model.global_params(), make_ops, options, std::move(ranked),
                    [&o](TensorOps* ops) -> absl::StatusOr<decltype(RankedModel::states)> {
                      FEDREC_ASSIGN_OR_RETURN(std::shared_ptr<Gru4RecDeviceProgram> program,
                                              Gru4RecDeviceProgram::Create(o, ops));
                      return [program, len = size_t{o.max_len}](
                                 std::span<const std::span<const uint32_t>> histories,
                                 const float* const* params, float* states) {
                        return program->LastStates(
                            params, Gru4RecWindowBatch::PackHistories(histories, len), states);
                      };
                    });
}

}  // namespace

bool RankableOnDevice(const Model& model) {
  if (const auto* sasrec = dynamic_cast<const SasRecModel*>(&model)) {
    const SasRecOptions& o = sasrec->options();
    return !sasrec->item_layout().has_adapter() && !o.normalize && o.temperature == 1.0;
  }
  if (const auto* gru = dynamic_cast<const Gru4RecModel*>(&model)) {
    const Gru4RecOptions& o = gru->options();
    return !gru->item_layout().has_adapter() && !o.normalize && o.temperature == 1.0;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<RankingSession>> NewRankingSessionOnDevice(
    const Model& model, const TensorOpsFactory& make_ops, RankingSessionOptions options) {
  if (!RankableOnDevice(model)) {
    return absl::FailedPreconditionError(
        "ranking on the device needs SASRec or GRU4Rec on item ids with plain dot-product "
        "scores; model.type '" +
        model.type() + "' as configured ranks on the CPU");
  }
  if (const auto* sasrec = dynamic_cast<const SasRecModel*>(&model)) {
    return NewSasRecSession(*sasrec, make_ops, options);
  }
  return NewGru4RecSession(static_cast<const Gru4RecModel&>(model), make_ops, options);
}

}  // namespace fedrec::kernels
