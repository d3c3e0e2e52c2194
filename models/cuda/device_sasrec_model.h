// A SASRec whose training step (ForwardBackward) runs on a TensorOps
// backend (the GPU through CudaTensorOps; the host through HostTensorOps in
// tests), while everything else is the CPU model's: the ParameterStore the
// optimisers and checkpoints see, initialisation and scoring. Evaluation
// ranks on the backend (StartRanking).
//
// Each ForwardBackward uploads the current parameters into its workspace's
// buffers, runs SasRecDeviceProgram on the batch, and adds the gradient to
// the caller's Gradients: dense tensors whole, embedding tables only in the
// rows the batch touched (marked in first-touch order: the scored rows,
// targets then negatives, then the input rows). The gradient equals the CPU
// model's up to float rounding (sasrec_device.h); it is a pure function of
// the parameters, the batch and the StepKey, so a run is reproducible.
//
// Errors and thread safety: as DeviceModel (device_model.h).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "models/cuda/device_model.h"
#include "models/sasrec.h"

namespace fedrec {

class DeviceSasRecModel final : public DeviceModel {
 public:
  // `cpu`: the model whose parameters and scoring this one uses.
  // `make_ops`: a new TensorOps per workspace; called once here to check it
  // works (its error is returned). InvalidArgument for options the device
  // step does not support (SasRecDeviceProgram::Create); FailedPrecondition
  // for item features (item_repr text / id+text), which have no GPU step.
  static absl::StatusOr<std::unique_ptr<DeviceSasRecModel>> Create(std::unique_ptr<SasRecModel> cpu,
                                                                   OpsFactory make_ops,
                                                                   std::string backend_name);

  std::unique_ptr<Workspace> NewWorkspace() const override;
  LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                          Workspace* workspace, Gradients* global_grads,
                          Gradients* local_grads) const override;

  const SasRecModel& cpu_model() const { return static_cast<const SasRecModel&>(*cpu_); }

 private:
  DeviceSasRecModel(std::unique_ptr<SasRecModel> cpu, OpsFactory make_ops, std::string name)
      : DeviceModel(std::move(cpu), std::move(make_ops), std::move(name)) {}
};

}  // namespace fedrec
