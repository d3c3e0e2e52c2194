#include "models/cuda/device_sasrec_model.h"

#include <string>
#include <utility>
#include <vector>

#include "models/cuda/layer_kernels.h"
#include "models/cuda/ops_tensors.h"
#include "models/cuda/sasrec_device.h"
#include "models/sasrec_impl.h"

namespace fedrec {
namespace {

using DeviceWorkspace = DeviceModel::ProgramWorkspace<kernels::SasRecDeviceProgram>;

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceSasRecModel>> DeviceSasRecModel::Create(
    std::unique_ptr<SasRecModel> cpu, OpsFactory make_ops, std::string backend_name) {
  FEDREC_RETURN_IF_ERROR(CheckBackend<kernels::SasRecDeviceProgram>(
      cpu->item_layout(), cpu->options(), make_ops, backend_name, "SASRec"));
  return std::unique_ptr<DeviceSasRecModel>(
      new DeviceSasRecModel(std::move(cpu), std::move(make_ops), std::move(backend_name)));
}

std::unique_ptr<Workspace> DeviceSasRecModel::NewWorkspace() const {
  auto ws = std::make_unique<DeviceWorkspace>();
  FillWorkspace(cpu_model().options(), ws.get());
  return ws;
}

LossSum DeviceSasRecModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                           Workspace* workspace, Gradients* global_grads,
                                           Gradients* local_grads) const {
  (void)local_grads;  // SASRec has no local parameters
  std::unique_ptr<Workspace> owned;
  DeviceWorkspace& ws = Acquire<DeviceWorkspace>(workspace, &owned);
  kernels::TensorOps& ops = *ws.ops;
  const SasRecOptions& o = cpu_model().options();
  const ParameterStore& store = global_params();
  const kernels::SasRecWindowBatch windows = kernels::SasRecWindowBatch::Pack(o, batch, key);
  if (windows.batch == 0) return {};
  if (absl::Status loaded = ws.tensors.Load(ops, store); !loaded.ok()) Fail(loaded);
  absl::StatusOr<LossSum> sum =
      ws.program->LossAndGradients(ws.tensors.params(), ws.tensors.grads(), windows, key, true);
  if (!sum.ok()) Fail(sum.status());

  // The rows each table's gradient may hold, in first-touch order: the
  // scored rows (targets, then BCE's or the shared negatives; every row
  // under the full softmax), then the input rows.
  std::vector<std::vector<uint32_t>> touched(store.num_tensors());
  std::vector<uint32_t>& scored = touched[sasrec_internal::ScoredTable(o)];
  if (sasrec_internal::IsFullSoftmax(o)) {
    for (uint32_t item = 0; item < o.num_items; ++item) scored.push_back(item);
  }
  for (const std::vector<uint32_t>* ids :
       {&windows.targets, &windows.negatives, &windows.shared.ids}) {
    for (uint32_t id : *ids) {
      if (id != kernels::kNoItem) scored.push_back(id);
    }
  }
  for (uint32_t id : windows.inputs) {
    if (id != kernels::kNoItem) touched[sasrec_internal::kItemEmb].push_back(id);
  }
  if (absl::Status s = ws.tensors.AddGradientsTo(ops, touched, global_grads); !s.ok()) Fail(s);
  return *sum;
}

}  // namespace fedrec
