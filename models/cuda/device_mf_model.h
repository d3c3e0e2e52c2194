// An MF-BPR whose training step (ForwardBackward) runs on a TensorOps
// backend (the GPU through CudaTensorOps; the host through HostTensorOps in
// tests), while the parameters (the item tables global, the user table
// local), initialisation and scoring stay the CPU model's (DeviceModel).
//
// Each ForwardBackward uploads the item tables and the batch's user rows
// only, runs MfDeviceProgram on the batch's examples, and adds the gradient
// to the caller's Gradients: the item tables and the user table in the rows
// the batch touched, marked in the CPU model's first-touch order (per
// example its item and negative; each user after its examples). The
// gradient equals the CPU model's up to float rounding (mf_device.h).
// Evaluation scores on the CPU (MF's scores read the user's row, not a
// history).
//
// Errors and thread safety: as DeviceModel (device_model.h).
#pragma once

#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "models/cuda/device_model.h"
#include "models/mf.h"

namespace fedrec {

class DeviceMfModel final : public DeviceModel {
 public:
  // `make_ops` is called once here to check it works (its error is
  // returned). FailedPrecondition for item features.
  static absl::StatusOr<std::unique_ptr<DeviceMfModel>> Create(std::unique_ptr<MfBprModel> cpu,
                                                               OpsFactory make_ops,
                                                               std::string backend_name);

  std::unique_ptr<Workspace> NewWorkspace() const override;
  // local_grads must not be null.
  LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                          Workspace* workspace, Gradients* global_grads,
                          Gradients* local_grads) const override;

  const MfBprModel& cpu_model() const { return static_cast<const MfBprModel&>(*cpu_); }

 private:
  DeviceMfModel(std::unique_ptr<MfBprModel> cpu, OpsFactory make_ops, std::string name)
      : DeviceModel(std::move(cpu), std::move(make_ops), std::move(name)) {}
};

}  // namespace fedrec
