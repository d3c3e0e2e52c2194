// A GRU4Rec whose training step (ForwardBackward) runs on a TensorOps
// backend (the GPU through CudaTensorOps; the host through HostTensorOps in
// tests), while the parameters, initialisation and scoring stay the CPU
// model's (DeviceModel).
//
// Each ForwardBackward uploads the current parameters into its workspace's
// buffers, runs Gru4RecDeviceProgram on the batch, and adds the gradient to
// the caller's Gradients: dense tensors whole, the item tables only in the
// rows the batch touched, marked in the CPU model's first-touch order (per
// user: each position's target and negatives, then the inputs). The
// gradient equals the CPU model's up to float rounding (gru4rec_device.h);
// it is a pure function of the parameters, the batch and the StepKey, so a
// run is reproducible. Evaluation ranks on the backend (DeviceModel).
//
// Errors and thread safety: as DeviceModel (device_model.h).
#pragma once

#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "models/cuda/device_model.h"
#include "models/gru4rec.h"

namespace fedrec {

class DeviceGru4RecModel final : public DeviceModel {
 public:
  // `make_ops` is called once here to check it works (its error is
  // returned). InvalidArgument for options the device step does not
  // support (Gru4RecDeviceProgram::Create), FailedPrecondition for item
  // features.
  static absl::StatusOr<std::unique_ptr<DeviceGru4RecModel>> Create(
      std::unique_ptr<Gru4RecModel> cpu, OpsFactory make_ops, std::string backend_name);

  std::unique_ptr<Workspace> NewWorkspace() const override;
  LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                          Workspace* workspace, Gradients* global_grads,
                          Gradients* local_grads) const override;

  const Gru4RecModel& cpu_model() const { return static_cast<const Gru4RecModel&>(*cpu_); }

 private:
  DeviceGru4RecModel(std::unique_ptr<Gru4RecModel> cpu, OpsFactory make_ops, std::string name)
      : DeviceModel(std::move(cpu), std::move(make_ops), std::move(name)) {}
};

}  // namespace fedrec
