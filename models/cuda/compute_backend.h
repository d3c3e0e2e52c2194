// The one seam every trainer builds its model through, by backend.compute:
//   "cpu"   models/factory.h's CreateModel;
//   "cuda"  SASRec (DeviceSasRecModel), GRU4Rec (DeviceGru4RecModel) and
//           MF-BPR (DeviceMfModel) with their training step on the GPU,
//           over CudaTensorOps from
//           the CUDA plugin (cuda_plugin.h), FP32 products, on device
//           (node-local rank mod the devices visible): one GPU per rank
//           under mpirun or srun, device 0 for a process launched alone
//           (CUDA_VISIBLE_DEVICES chooses others); TF32 products when
//           ComputeBackend::tf32; parameters, the optimiser and scoring stay
//           on the CPU (SASRec's evaluation ranks on the GPU).
// Errors name the key: FailedPrecondition when this build or machine cannot
// run CUDA (no plugin, no device) or the model has no GPU version yet
// (model.type other than sasrec, gru4rec and mf_bpr, item features);
// InvalidArgument for an unknown backend or options the GPU step does not
// support.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "data/item_features.h"
#include "models/cuda/tensor_ops.h"
#include "models/model.h"
#include "proto/fedrec.pb.h"

namespace fedrec {

// backend.compute and the options of its device.
struct ComputeBackend {
  std::string name = "cpu";  // backend.compute: cpu or cuda
  bool tf32 = false;         // backend.tf32: cuBLAS products in TF32
};

// The factory of backend.compute = "cuda" for this process's device: the
// node-local rank's (mpirun, srun) modulo the devices visible, or, in a
// process launched alone, `local_worker`'s (a worker thread's index; 0 for
// the coordinator) so that the workers of a local run spread over the GPUs.
// FailedPrecondition without a plugin or a visible device, InvalidArgument
// for another backend.
absl::StatusOr<kernels::TensorOpsFactory> DeviceTensorOpsFactory(const ComputeBackend& compute,
                                                                 uint32_t local_worker = 0);

// For tests: "cuda" runs its device programs on `factory`'s TensorOps (e.g.
// HostTensorOps) in this process instead of the plugin's, so that the whole
// GPU path, trainers and workers included, is checked without a GPU. An
// empty factory restores the plugin. Not thread-safe: set it before a run.
void SetDeviceTensorOpsForTesting(kernels::TensorOpsFactory factory);

absl::StatusOr<std::unique_ptr<Model>> CreateModelOnBackend(
    const proto::ModelSpec& spec, const ComputeBackend& compute,
    std::shared_ptr<const ItemFeatures> features = nullptr);

}  // namespace fedrec
