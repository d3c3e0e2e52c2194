#include "models/cuda/device_gru4rec_model.h"

#include <string>
#include <utility>
#include <vector>

#include "models/cuda/gru4rec_device.h"
#include "models/cuda/layer_kernels.h"
#include "models/cuda/ops_tensors.h"

namespace fedrec {
namespace {

// DeviceModel's workspace and the negative samplers' scratch.
struct DeviceWorkspace final : DeviceModel::ProgramWorkspace<kernels::Gru4RecDeviceProgram> {
  gru4rec_internal::NegativeScratch draw;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceGru4RecModel>> DeviceGru4RecModel::Create(
    std::unique_ptr<Gru4RecModel> cpu, OpsFactory make_ops, std::string backend_name) {
  FEDREC_RETURN_IF_ERROR(CheckBackend<kernels::Gru4RecDeviceProgram>(
      cpu->item_layout(), cpu->options(), make_ops, backend_name, "GRU4Rec"));
  return std::unique_ptr<DeviceGru4RecModel>(
      new DeviceGru4RecModel(std::move(cpu), std::move(make_ops), std::move(backend_name)));
}

std::unique_ptr<Workspace> DeviceGru4RecModel::NewWorkspace() const {
  auto ws = std::make_unique<DeviceWorkspace>();
  FillWorkspace(cpu_model().options(), ws.get());
  ws->draw.sampler = UnseenItemSampler(num_items());
  return ws;
}

LossSum DeviceGru4RecModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                            Workspace* workspace, Gradients* global_grads,
                                            Gradients*) const {
  std::unique_ptr<Workspace> owned;
  DeviceWorkspace& ws = Acquire<DeviceWorkspace>(workspace, &owned);
  kernels::TensorOps& ops = *ws.ops;
  const Gru4RecModel& cpu = cpu_model();
  const Gru4RecOptions& o = cpu.options();
  const kernels::Gru4RecWindowBatch windows =
      kernels::Gru4RecWindowBatch::Pack(o, cpu.excluded_items(), batch, key, &ws.draw);
  if (windows.batch == 0) return {};
  if (absl::Status loaded = ws.tensors.Load(ops, global_params()); !loaded.ok()) Fail(loaded);
  absl::StatusOr<LossSum> sum =
      ws.program->LossAndGradients(ws.tensors.params(), ws.tensors.grads(), windows, key, true);
  if (!sum.ok()) Fail(sum.status());

  // The CPU model's first-touch order, user by user: each position's target
  // and BPR negatives (or every target, then the shared negatives; every
  // row, from the first user on, under the full softmax) in the scored
  // table, then the user's inputs.
  const size_t B = windows.batch, T = windows.steps, rows = B * T, k = windows.negatives;
  const size_t scored_k = o.separate_output ? cpu.OutputTensor() : Gru4RecModel::kItemEmb;
  std::vector<std::vector<uint32_t>> touched(global_params().num_tensors());
  if (gru4rec_internal::IsFullSoftmax(o)) {
    for (uint32_t item = 0; item < o.num_items; ++item) touched[scored_k].push_back(item);
  }
  for (size_t b = 0; b < B; ++b) {
    for (size_t t = windows.first[b]; t < T; ++t) {
      const size_t r = t * B + b;
      touched[scored_k].push_back(windows.targets[r]);
      for (size_t j = 0; j < k; ++j) touched[scored_k].push_back(windows.drawn[j * rows + r]);
    }
    const size_t width = windows.shared.width;
    for (size_t j = 0; j < (width == 0 ? 0 : windows.shared.counts[b]); ++j) {
      touched[scored_k].push_back(windows.shared.ids[b * width + j]);
    }
    for (size_t t = windows.first[b]; t < T; ++t) {
      touched[Gru4RecModel::kItemEmb].push_back(windows.inputs[t * B + b]);
    }
  }
  if (absl::Status s = ws.tensors.AddGradientsTo(ops, touched, global_grads); !s.ok()) Fail(s);
  return *sum;
}

}  // namespace fedrec
