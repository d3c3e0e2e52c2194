#include "models/cuda/device_mf_model.h"

#include <string>
#include <utility>
#include <vector>

#include "models/cuda/growing_buffer.h"
#include "models/cuda/mf_device.h"

namespace fedrec {
namespace {

// DeviceModel's workspace, the sampler's scratch and the batch's user rows
// (values and gradients, compact) in the ops' memory.
struct DeviceWorkspace final : DeviceModel::ProgramWorkspace<kernels::MfDeviceProgram> {
  UnseenItemSampler sampler;
  kernels::GrowingBuffer user_rows, user_grads;
  std::vector<float> host;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceMfModel>> DeviceMfModel::Create(
    std::unique_ptr<MfBprModel> cpu, OpsFactory make_ops, std::string backend_name) {
  FEDREC_RETURN_IF_ERROR(CheckBackend<kernels::MfDeviceProgram>(cpu->item_layout(), cpu->options(),
                                                                make_ops, backend_name, "MF-BPR"));
  return std::unique_ptr<DeviceMfModel>(
      new DeviceMfModel(std::move(cpu), std::move(make_ops), std::move(backend_name)));
}

std::unique_ptr<Workspace> DeviceMfModel::NewWorkspace() const {
  auto ws = std::make_unique<DeviceWorkspace>();
  FillWorkspace(cpu_model().options(), ws.get());
  ws->sampler = UnseenItemSampler(num_items());
  return ws;
}

LossSum DeviceMfModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                       Workspace* workspace, Gradients* global_grads,
                                       Gradients* local_grads) const {
  if (local_grads == nullptr) Fail(absl::InternalError("MF-BPR needs local gradients"));
  std::unique_ptr<Workspace> owned;
  DeviceWorkspace& ws = Acquire<DeviceWorkspace>(workspace, &owned);
  kernels::TensorOps& ops = *ws.ops;
  const MfBprModel& cpu = cpu_model();
  const MfBprOptions& o = cpu.options();
  for (const UserSequence& seq : batch) {
    if (seq.user >= o.num_users) Fail(absl::InternalError("MF-BPR: user id out of range"));
  }
  const kernels::MfExampleBatch examples =
      kernels::MfExampleBatch::Pack(o, cpu.excluded_items(), batch, key, &ws.sampler);
  if (examples.size() == 0) return {};
  const size_t d = o.dim, users = examples.users.size();
  const ConstTensorView user_table = cpu.local_params()->ViewAt(MfBprModel::kUserEmb);
  ws.host.resize(users * d);
  for (size_t r = 0; r < users; ++r) {
    const float* row = user_table.data + size_t{examples.users[r]} * d;
    std::copy(row, row + d, ws.host.begin() + static_cast<std::ptrdiff_t>(r * d));
  }
  auto fail_on = [&](const absl::Status& s) {
    if (!s.ok()) Fail(s);
  };
  absl::StatusOr<float*> user_rows = ws.user_rows.Put<float>(ops, std::span<const float>(ws.host));
  fail_on(user_rows.status());
  absl::StatusOr<float*> user_grads = ws.user_grads.Get<float>(ops, users * d);
  fail_on(user_grads.status());
  fail_on(ops.Zero(*user_grads, users * d));
  fail_on(ws.tensors.Load(ops, global_params()));
  absl::StatusOr<LossSum> sum = ws.program->LossAndGradients(
      ws.tensors.params(), *user_rows, examples, ws.tensors.grads(), *user_grads);
  fail_on(sum.status());

  // The CPU model's first-touch order: per example its item and negative.
  std::vector<std::vector<uint32_t>> touched(global_params().num_tensors());
  for (size_t x = 0; x < examples.size(); ++x) {
    for (const size_t k : {MfBprModel::kItemEmb, MfBprModel::kItemBias}) {
      touched[k].push_back(examples.items[x]);
      touched[k].push_back(examples.negatives[x]);
    }
  }
  fail_on(ws.tensors.AddGradientsTo(ops, touched, global_grads));
  // The users' rows, each marked where the CPU marks it (after its
  // examples; a user twice in the batch once, at its first place).
  fail_on(ops.Download(ws.host.data(), *user_grads, users * d * sizeof(float)));
  const TensorView into = local_grads->View(MfBprModel::kUserEmb);
  for (size_t r = 0; r < users; ++r) {
    const uint32_t user = examples.users[r];
    local_grads->MarkRow(MfBprModel::kUserEmb, user);
    float* dst = into.data + size_t{user} * d;
    for (size_t j = 0; j < d; ++j) dst[j] += ws.host[r * d + j];
  }
  return *sum;
}

}  // namespace fedrec
