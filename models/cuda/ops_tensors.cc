#include "models/cuda/ops_tensors.h"

#include <utility>

namespace fedrec::kernels {

absl::StatusOr<OpsTensors> OpsTensors::Allocate(TensorOps& ops, const ParameterStore& store) {
  OpsTensors t;
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    const size_t size = store.ViewAt(k).size();
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<OpsBuffer> param, ops.Allocate(size * sizeof(float)));
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<OpsBuffer> grad, ops.Allocate(size * sizeof(float)));
    t.param_slots_.push_back(param->as<float>());
    t.params_.push_back(param->as<float>());
    t.grads_.push_back(grad->as<float>());
    t.sizes_.push_back(size);
    t.buffers_.push_back(std::move(param));
    t.buffers_.push_back(std::move(grad));
  }
  return t;
}

absl::Status OpsTensors::Load(TensorOps& ops, const ParameterStore& store) {
  for (size_t k = 0; k < sizes_.size(); ++k) {
    ConstTensorView v = store.ViewAt(k);
    FEDREC_RETURN_IF_ERROR(ops.Upload(param_slots_[k], v.data, sizes_[k] * sizeof(float)));
    FEDREC_RETURN_IF_ERROR(ops.Zero(grads_[k], sizes_[k]));
  }
  return absl::OkStatus();
}

absl::Status OpsTensors::FetchGradient(TensorOps& ops, size_t k, std::vector<float>* host) const {
  host->resize(sizes_[k]);
  return ops.Download(host->data(), grads_[k], sizes_[k] * sizeof(float));
}

absl::Status OpsTensors::AddGradientsTo(TensorOps& ops,
                                        std::span<const std::vector<uint32_t>> touched,
                                        Gradients* into) {
  for (size_t k = 0; k < sizes_.size(); ++k) {
    TensorView view = into->View(k);
    if (!into->IsSparse(k)) {
      FEDREC_RETURN_IF_ERROR(FetchGradient(ops, k, &host_));
      for (size_t i = 0; i < view.size(); ++i) view.data[i] += host_[i];
      continue;
    }
    if (k >= touched.size() || touched[k].empty()) continue;
    seen_.assign(view.rows, 0);
    unique_rows_.clear();
    for (uint32_t row : touched[k]) {
      if (seen_[row]) continue;
      seen_[row] = 1;
      unique_rows_.push_back(row);
    }
    const size_t d = view.cols, n = unique_rows_.size();
    FEDREC_ASSIGN_OR_RETURN(uint32_t * ids,
                            row_ids_.Put<uint32_t>(ops, std::span<const uint32_t>(unique_rows_)));
    FEDREC_ASSIGN_OR_RETURN(float* values, row_values_.Get<float>(ops, n * d));
    FEDREC_RETURN_IF_ERROR(ops.Gather(grads_[k], d, ids, n, 1.0f, values));
    host_.resize(n * d);
    FEDREC_RETURN_IF_ERROR(ops.Download(host_.data(), values, n * d * sizeof(float)));
    for (size_t i = 0; i < n; ++i) {
      const uint32_t row = unique_rows_[i];
      into->MarkRow(k, row);
      float* dst = view.data + static_cast<size_t>(row) * d;
      for (size_t j = 0; j < d; ++j) dst[j] += host_[i * d + j];
    }
  }
  return absl::OkStatus();
}

}  // namespace fedrec::kernels
