#include "models/cuda/compute_backend.h"

#include <utility>

#include "core/node_rank.h"
#include "models/cuda/cuda_plugin.h"
#include "models/cuda/device_gru4rec_model.h"
#include "models/cuda/device_mf_model.h"
#include "models/cuda/device_sasrec_model.h"
#include "models/factory.h"
#include "models/gru4rec.h"
#include "models/mf.h"
#include "models/sasrec.h"

namespace fedrec {

namespace {

kernels::TensorOpsFactory& TestingFactory() {
  static kernels::TensorOpsFactory factory;
  return factory;
}

}  // namespace

void SetDeviceTensorOpsForTesting(kernels::TensorOpsFactory factory) {
  TestingFactory() = std::move(factory);
}

absl::StatusOr<kernels::TensorOpsFactory> DeviceTensorOpsFactory(const ComputeBackend& compute,
                                                                 uint32_t local_worker) {
  if (compute.name != "cuda") {
    return absl::InvalidArgumentError("backend.compute: '" + compute.name + "' has no device");
  }
  if (TestingFactory()) return TestingFactory();
  FEDREC_ASSIGN_OR_RETURN(const int visible, kernels::PluginCudaDeviceCount());
  if (visible == 0) {
    return absl::FailedPreconditionError(
        "backend.compute: 'cuda': no CUDA device is visible to this process (use "
        "backend.compute = \"cpu\")");
  }
  const int local = NodeLocalRank();
  const int device = static_cast<int>((local < 0 ? local_worker : static_cast<uint32_t>(local)) %
                                      static_cast<uint32_t>(visible));
  return kernels::TensorOpsFactory([device, tf32 = compute.tf32] {
    return kernels::NewPluginCudaTensorOps({.device = device, .allow_tf32 = tf32});
  });
}

absl::StatusOr<std::unique_ptr<Model>> CreateModelOnBackend(
    const proto::ModelSpec& spec, const ComputeBackend& compute,
    std::shared_ptr<const ItemFeatures> features) {
  if (compute.name != "cuda") return CreateModel(spec, compute.name, std::move(features));
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Model> cpu, CreateModel(spec, "cpu", features));
  const std::string type = cpu->type();
  if (type != "sasrec" && type != "gru4rec" && type != "mf_bpr") {
    return absl::FailedPreconditionError(
        "backend.compute: 'cuda' trains SASRec, GRU4Rec and MF-BPR only so far; model.type = '" +
        type + "' runs on the CPU (backend.compute = \"cpu\")");
  }
  FEDREC_ASSIGN_OR_RETURN(kernels::TensorOpsFactory make_ops, DeviceTensorOpsFactory(compute));
  if (type == "mf_bpr") {
    std::unique_ptr<MfBprModel> mf(static_cast<MfBprModel*>(cpu.release()));
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<DeviceMfModel> model,
                            DeviceMfModel::Create(std::move(mf), make_ops, "cuda"));
    return std::unique_ptr<Model>(std::move(model));
  }
  if (type == "gru4rec") {
    std::unique_ptr<Gru4RecModel> gru(static_cast<Gru4RecModel*>(cpu.release()));
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<DeviceGru4RecModel> model,
                            DeviceGru4RecModel::Create(std::move(gru), make_ops, "cuda"));
    return std::unique_ptr<Model>(std::move(model));
  }
  std::unique_ptr<SasRecModel> sasrec(static_cast<SasRecModel*>(cpu.release()));
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<DeviceSasRecModel> model,
                          DeviceSasRecModel::Create(std::move(sasrec), make_ops, "cuda"));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace fedrec
