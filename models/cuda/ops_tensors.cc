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

}  // namespace fedrec::kernels
