#include "models/cuda/shared_negatives_head.h"

#include <algorithm>

#include "models/cuda/layer_kernels.h"

namespace fedrec::kernels {

void SharedNegatives::AddWindow(std::span<const uint32_t> negatives, std::span<const double> q) {
  const size_t n = std::min(negatives.size(), width);
  counts.push_back(static_cast<uint32_t>(n));
  const size_t at = ids.size();
  ids.resize(at + width, kNoItem);
  std::copy_n(negatives.begin(), n, ids.begin() + static_cast<std::ptrdiff_t>(at));
  if (q.empty()) return;
  logq.resize(at + width, 0.0f);
  for (size_t k = 0; k < n; ++k) logq[at + k] = static_cast<float>(q[k]);
}

SharedNegativesHead::SharedNegativesHead(TensorOps* ops, bool gbce, double beta)
    : ops_(ops), gbce_(gbce), beta_(static_cast<float>(beta)) {}

absl::StatusOr<std::vector<float>> SharedNegativesHead::Run(
    const float* h, const float* table, size_t d, size_t batch, size_t len, const uint32_t* targets,
    std::span<const uint32_t> targets_host, const uint8_t* valid, const SharedNegatives& negatives,
    float* dh, float* dtable) {
  TensorOps& ops = *ops_;
  const size_t B = batch, T = len, M = B * T, N = negatives.width;
  if (negatives.counts.size() != B || negatives.ids.size() != B * N || targets_host.size() != M ||
      (!negatives.logq.empty() && negatives.logq.size() != B * N)) {
    return absl::InvalidArgumentError("shared negatives: the negatives do not fit the batch");
  }
  std::vector<float> loss_host(M, 0.0f);
  if (M == 0) return loss_host;
  FEDREC_ASSIGN_OR_RETURN(uint32_t * ids,
                          neg_ids_.Put<uint32_t>(ops, std::span<const uint32_t>(negatives.ids)));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * counts,
                          counts_.Put<uint32_t>(ops, std::span<const uint32_t>(negatives.counts)));
  const float* logq = nullptr;
  if (!negatives.logq.empty()) {
    FEDREC_ASSIGN_OR_RETURN(logq, logq_.Put<float>(ops, std::span<const float>(negatives.logq)));
  }
  // Logits: the targets' per position, each window's negatives as one
  // product per window (padding ids gather zero rows).
  FEDREC_ASSIGN_OR_RETURN(float* rows, rows_.Get<float>(ops, std::max<size_t>(B * N, 1) * d));
  FEDREC_ASSIGN_OR_RETURN(float* pos, pos_.Get<float>(ops, M));
  FEDREC_ASSIGN_OR_RETURN(float* logits, logits_.Get<float>(ops, std::max<size_t>(M * N, 1)));
  FEDREC_ASSIGN_OR_RETURN(float* loss, loss_.Get<float>(ops, M));
  FEDREC_ASSIGN_OR_RETURN(float* dpos, dpos_.Get<float>(ops, M));
  FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(h, table, d, targets, M, pos));
  FEDREC_RETURN_IF_ERROR(ops.Gather(table, d, ids, B * N, 1.0f, rows));
  FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(false, true, T, N, d, 1.0f, h, d, T * d, rows, d,
                                                N * d, 0.0f, logits, N, T * N, B));
  FEDREC_RETURN_IF_ERROR(ops.SharedNegativeLossRows(gbce_, beta_, pos, valid, counts, logq, B, T, N,
                                                    logits, loss, dpos));
  FEDREC_RETURN_IF_ERROR(ops.Download(loss_host.data(), loss, M * sizeof(float)));
  if (dh == nullptr) return loss_host;

  // dh += dpos e_target + dlogits G; the targets' rows get dpos h, the
  // negatives' dlogits^T H, added through one plan (targets first).
  FEDREC_ASSIGN_OR_RETURN(float* grads, item_grads_.Get<float>(ops, (M + B * N) * d));
  FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(dpos, table, d, targets, M, dh));
  FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(false, false, T, d, N, 1.0f, logits, N, T * N, rows,
                                                d, N * d, 1.0f, dh, d, T * d, B));
  FEDREC_RETURN_IF_ERROR(ops.ScaleRows(dpos, h, M, d, grads));
  FEDREC_RETURN_IF_ERROR(ops.GemmStridedBatched(true, false, N, d, T, 1.0f, logits, N, T * N, h, d,
                                                T * d, 0.0f, grads + M * d, d, N * d, B));
  std::vector<uint32_t> scored(targets_host.begin(), targets_host.end());
  scored.insert(scored.end(), negatives.ids.begin(), negatives.ids.end());
  const ScatterPlan plan = BuildScatterPlan(scored.data(), scored.size());
  if (plan.rows.empty()) return loss_host;
  FEDREC_ASSIGN_OR_RETURN(uint32_t * r, plan_rows_.Put<uint32_t>(ops, plan.rows));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * off, plan_offsets_.Put<uint32_t>(ops, plan.offsets));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * at, plan_positions_.Put<uint32_t>(ops, plan.positions));
  FEDREC_RETURN_IF_ERROR(ops.ScatterAdd(r, off, at, plan.rows.size(), grads, d, 1.0f, dtable));
  return loss_host;
}

}  // namespace fedrec::kernels
