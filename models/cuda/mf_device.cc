#include "models/cuda/mf_device.h"

#include <string>
#include <unordered_map>

#include "models/cuda/layer_kernels.h"

namespace fedrec::kernels {

MfExampleBatch MfExampleBatch::Pack(const MfBprOptions& o, const ExcludedItems& excluded,
                                    std::span<const UserSequence> batch, const StepKey& key,
                                    UnseenItemSampler* sampler) {
  (void)o;  // the layout is fixed by the id representation
  MfExampleBatch w;
  std::unordered_map<uint32_t, uint32_t> row_of;
  std::vector<uint32_t> negatives;
  for (const UserSequence& seq : batch) {
    if (seq.items.empty()) continue;
    if (!mf_internal::DrawBprNegatives(seq, key, excluded, *sampler, &negatives)) continue;
    const auto [it, added] = row_of.try_emplace(seq.user, static_cast<uint32_t>(w.users.size()));
    if (added) w.users.push_back(seq.user);
    for (size_t k = 0; k < seq.items.size(); ++k) {
      w.user_row.push_back(it->second);
      w.items.push_back(seq.items[k]);
      w.negatives.push_back(negatives[k]);
    }
    w.sequence_users.push_back(seq.user);
    w.examples += seq.items.size();
  }
  return w;
}

absl::StatusOr<std::unique_ptr<MfDeviceProgram>> MfDeviceProgram::Create(const MfBprOptions& o,
                                                                         TensorOps* ops) {
  if (o.item_repr.repr != ItemRepr::kId) {
    return absl::InvalidArgumentError(
        "the GPU MF-BPR does not support model.item_repr other than id yet");
  }
  if (o.dim == 0) return absl::InvalidArgumentError("the GPU MF-BPR needs model.dim >= 1");
  return std::unique_ptr<MfDeviceProgram>(new MfDeviceProgram(o, ops));
}

absl::Status MfDeviceProgram::Scatter(std::span<const uint32_t> ids, const float* src, size_t width,
                                      float* table) {
  TensorOps& ops = *ops_;
  const ScatterPlan plan = BuildScatterPlan(ids.data(), ids.size());
  if (plan.rows.empty()) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(uint32_t * r, plan_rows_.Put<uint32_t>(ops, plan.rows));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * off, plan_offsets_.Put<uint32_t>(ops, plan.offsets));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * at, plan_positions_.Put<uint32_t>(ops, plan.positions));
  return ops.ScatterAdd(r, off, at, plan.rows.size(), src, width, 1.0f, table);
}

absl::StatusOr<LossSum> MfDeviceProgram::LossAndGradients(const float* const* params,
                                                          const float* user_rows,
                                                          const MfExampleBatch& batch,
                                                          float* const* grads, float* user_grads) {
  LossSum result;
  const size_t n = batch.size(), d = o_.dim, nd = n * d;
  if (n == 0) return result;
  TensorOps& ops = *ops_;
  FEDREC_RETURN_IF_ERROR(ops.BindToCallingThread());
  const float* emb = params[MfBprModel::kItemEmb];
  const float* bias = params[MfBprModel::kItemBias];
  FEDREC_ASSIGN_OR_RETURN(uint32_t * user_row,
                          user_row_.Put<uint32_t>(ops, std::span<const uint32_t>(batch.user_row)));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * items,
                          items_.Put<uint32_t>(ops, std::span<const uint32_t>(batch.items)));
  FEDREC_ASSIGN_OR_RETURN(
      uint32_t * negatives,
      negatives_.Put<uint32_t>(ops, std::span<const uint32_t>(batch.negatives)));
  FEDREC_ASSIGN_OR_RETURN(float* ue, ue_.Get<float>(ops, nd));
  FEDREC_ASSIGN_OR_RETURN(float* pos, pos_.Get<float>(ops, n));
  FEDREC_ASSIGN_OR_RETURN(float* neg, neg_.Get<float>(ops, n));
  FEDREC_ASSIGN_OR_RETURN(float* bias_i, bias_i_.Get<float>(ops, n));
  FEDREC_ASSIGN_OR_RETURN(float* bias_j, bias_j_.Get<float>(ops, n));
  FEDREC_ASSIGN_OR_RETURN(float* loss, loss_.Get<float>(ops, n));
  FEDREC_ASSIGN_OR_RETURN(float* dpos, dpos_.Get<float>(ops, n));
  FEDREC_ASSIGN_OR_RETURN(float* dneg, dneg_.Get<float>(ops, n));
  const std::vector<uint8_t> ones(n, 1);
  FEDREC_ASSIGN_OR_RETURN(uint8_t * valid,
                          valid_.Put<uint8_t>(ops, std::span<const uint8_t>(ones)));

  // Scores u . e + b, the BPR loss per example.
  FEDREC_RETURN_IF_ERROR(ops.Gather(user_rows, d, user_row, n, 1.0f, ue));
  FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(ue, emb, d, items, n, pos));
  FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(ue, emb, d, negatives, n, neg));
  FEDREC_RETURN_IF_ERROR(ops.Gather(bias, 1, items, n, 1.0f, bias_i));
  FEDREC_RETURN_IF_ERROR(ops.Gather(bias, 1, negatives, n, 1.0f, bias_j));
  FEDREC_RETURN_IF_ERROR(ops.Add(pos, bias_i, n, pos));
  FEDREC_RETURN_IF_ERROR(ops.Add(neg, bias_j, n, neg));
  FEDREC_RETURN_IF_ERROR(ops.BprLoss(pos, neg, valid, n, 1, loss, dpos, dneg));
  std::vector<float> host(n);
  FEDREC_RETURN_IF_ERROR(ops.Download(host.data(), loss, n * sizeof(float)));
  for (float x : host) result.loss += x;
  result.examples = batch.examples;

  const float l2 = o_.l2;
  float* l2s = nullptr;
  if (l2 > 0) {
    // The regulariser's loss from each example's squared norms.
    const std::vector<float> l2_host(n, l2);
    FEDREC_ASSIGN_OR_RETURN(l2s, l2_.Put<float>(ops, std::span<const float>(l2_host)));
    FEDREC_ASSIGN_OR_RETURN(float* sq, sq_.Get<float>(ops, 3 * n));
    FEDREC_ASSIGN_OR_RETURN(float* rows, item_grads_.Get<float>(ops, 2 * nd));
    FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(ue, user_rows, d, user_row, n, sq));
    FEDREC_RETURN_IF_ERROR(ops.Gather(emb, d, items, n, 1.0f, rows));
    FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(rows, emb, d, items, n, sq + n));
    FEDREC_RETURN_IF_ERROR(ops.Gather(emb, d, negatives, n, 1.0f, rows));
    FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(rows, emb, d, negatives, n, sq + 2 * n));
    std::vector<float> norms(3 * n), bi(n), bj(n);
    FEDREC_RETURN_IF_ERROR(ops.Download(norms.data(), sq, 3 * n * sizeof(float)));
    FEDREC_RETURN_IF_ERROR(ops.Download(bi.data(), bias_i, n * sizeof(float)));
    FEDREC_RETURN_IF_ERROR(ops.Download(bj.data(), bias_j, n * sizeof(float)));
    for (size_t x = 0; x < n; ++x) {
      result.loss +=
          0.5 * l2 * (norms[x] + norms[n + x] + norms[2 * n + x] + bi[x] * bi[x] + bj[x] * bj[x]);
    }
  }

  // The users' rows: dpos e_i + dneg e_j (+ l2 u).
  FEDREC_ASSIGN_OR_RETURN(float* due, due_.Get<float>(ops, nd));
  FEDREC_RETURN_IF_ERROR(ops.Zero(due, nd));
  FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(dpos, emb, d, items, n, due));
  FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(dneg, emb, d, negatives, n, due));
  if (l2 > 0) FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(l2s, user_rows, d, user_row, n, due));
  FEDREC_RETURN_IF_ERROR(Scatter(batch.user_row, due, d, user_grads));

  // The items' rows (dpos u + l2 e_i; dneg u + l2 e_j) and biases (dpos +
  // l2 b_i; dneg + l2 b_j), items then negatives through one plan each.
  std::vector<uint32_t> both(batch.items);
  both.insert(both.end(), batch.negatives.begin(), batch.negatives.end());
  FEDREC_ASSIGN_OR_RETURN(float* item_grads, item_grads_.Get<float>(ops, 2 * nd));
  FEDREC_ASSIGN_OR_RETURN(float* bias_grads, bias_grads_.Get<float>(ops, 2 * n));
  FEDREC_RETURN_IF_ERROR(ops.ScaleRows(dpos, ue, n, d, item_grads));
  FEDREC_RETURN_IF_ERROR(ops.ScaleRows(dneg, ue, n, d, item_grads + nd));
  FEDREC_RETURN_IF_ERROR(ops.Copy(dpos, n, bias_grads));
  FEDREC_RETURN_IF_ERROR(ops.Copy(dneg, n, bias_grads + n));
  if (l2 > 0) {
    FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(l2s, emb, d, items, n, item_grads));
    FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(l2s, emb, d, negatives, n, item_grads + nd));
    FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(l2s, bias, 1, items, n, bias_grads));
    FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(l2s, bias, 1, negatives, n, bias_grads + n));
  }
  FEDREC_RETURN_IF_ERROR(Scatter(both, item_grads, d, grads[MfBprModel::kItemEmb]));
  FEDREC_RETURN_IF_ERROR(Scatter(both, bias_grads, 1, grads[MfBprModel::kItemBias]));
  return result;
}

}  // namespace fedrec::kernels
