#include "models/cuda/full_softmax_head.h"

#include <algorithm>
#include <string>

namespace fedrec::kernels {

FullSoftmaxHead::FullSoftmaxHead(TensorOps* ops, size_t max_chunk_logits)
    : ops_(ops), max_chunk_logits_(std::max<size_t>(max_chunk_logits, 1)) {}

absl::StatusOr<std::vector<float>> FullSoftmaxHead::Run(const float* h, const float* table,
                                                        size_t d, size_t items, size_t rows,
                                                        const uint32_t* targets,
                                                        const uint8_t* valid,
                                                        std::span<const uint32_t> excluded,
                                                        float* dh, float* dtable) {
  TensorOps& ops = *ops_;
  std::vector<float> loss_host(rows, 0.0f);
  if (rows == 0) return loss_host;
  if (items == 0) return absl::InvalidArgumentError("full softmax: an empty catalogue");
  const uint8_t* excluded_flags = nullptr;
  if (!excluded.empty()) {
    std::vector<uint8_t> flags(items, 0);
    for (uint32_t item : excluded) {
      if (item >= items) {
        return absl::InvalidArgumentError("full softmax: excluded item " + std::to_string(item) +
                                          " of " + std::to_string(items));
      }
      flags[item] = 1;
    }
    FEDREC_ASSIGN_OR_RETURN(excluded_flags,
                            excluded_.Put<uint8_t>(ops, std::span<const uint8_t>(flags)));
  }
  const size_t chunk = std::clamp<size_t>(max_chunk_logits_ / items, 1, rows);
  FEDREC_ASSIGN_OR_RETURN(float* logits, logits_.Get<float>(ops, chunk * items));
  FEDREC_ASSIGN_OR_RETURN(float* loss, loss_.Get<float>(ops, rows));
  for (size_t r0 = 0; r0 < rows; r0 += chunk) {
    const size_t n = std::min(chunk, rows - r0);
    const float* hc = h + r0 * d;
    FEDREC_RETURN_IF_ERROR(
        ops.Gemm(false, true, n, items, d, 1.0f, hc, d, table, d, 0.0f, logits, items));
    FEDREC_RETURN_IF_ERROR(
        ops.FullSoftmaxRows(targets + r0, valid + r0, excluded_flags, n, items, logits, loss + r0));
    if (dh == nullptr) continue;
    FEDREC_RETURN_IF_ERROR(
        ops.Gemm(false, false, n, d, items, 1.0f, logits, items, table, d, 1.0f, dh + r0 * d, d));
    FEDREC_RETURN_IF_ERROR(
        ops.Gemm(true, false, items, d, n, 1.0f, logits, items, hc, d, 1.0f, dtable, d));
  }
  FEDREC_RETURN_IF_ERROR(ops.Download(loss_host.data(), loss, rows * sizeof(float)));
  return loss_host;
}

}  // namespace fedrec::kernels
