#include "models/cuda/device_sasrec_model.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "models/cuda/layer_kernels.h"
#include "models/cuda/ops_tensors.h"
#include "models/cuda/sasrec_device.h"
#include "models/cuda/sasrec_ranking.h"
#include "models/sasrec_impl.h"

namespace fedrec {
namespace {

// One thread's backend: its TensorOps, the program and the tensors' buffers.
struct DeviceWorkspace final : Workspace {
  std::unique_ptr<kernels::TensorOps> ops;
  std::unique_ptr<kernels::SasRecDeviceProgram> program;
  kernels::OpsTensors tensors;
  std::vector<float> host;     // one tensor's gradient, downloaded
  std::vector<uint8_t> added;  // rows of a sparse tensor already added
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceSasRecModel>> DeviceSasRecModel::Create(
    std::unique_ptr<SasRecModel> cpu, OpsFactory make_ops, std::string backend_name) {
  if (cpu->item_layout().has_adapter()) {
    return absl::FailedPreconditionError(
        "backend.compute: '" + backend_name +
        "' trains SASRec on item ids only so far; model.item_repr text and id+text run on the "
        "CPU (backend.compute = \"cpu\")");
  }
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<kernels::TensorOps> probe, make_ops());
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<kernels::SasRecDeviceProgram> program,
                          kernels::SasRecDeviceProgram::Create(cpu->options(), probe.get()));
  return std::unique_ptr<DeviceSasRecModel>(
      new DeviceSasRecModel(std::move(cpu), std::move(make_ops), std::move(backend_name)));
}

void DeviceSasRecModel::Fail(const absl::Status& status) const {
  std::fprintf(stderr, "fedrec: error: backend.compute '%s': %s\n", backend_name_.c_str(),
               EscapeForMessage(std::string(status.message())).c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

absl::StatusOr<std::unique_ptr<RankingSession>> DeviceSasRecModel::StartRanking() const {
  if (!kernels::SasRecRankableOnDevice(*cpu_)) return std::unique_ptr<RankingSession>();
  return kernels::NewSasRecRankingSession(*cpu_, make_ops_);
}

std::unique_ptr<Workspace> DeviceSasRecModel::NewWorkspace() const {
  auto ws = std::make_unique<DeviceWorkspace>();
  absl::StatusOr<std::unique_ptr<kernels::TensorOps>> ops = make_ops_();
  if (!ops.ok()) Fail(ops.status());
  ws->ops = std::move(*ops);
  auto program = kernels::SasRecDeviceProgram::Create(cpu_->options(), ws->ops.get());
  if (!program.ok()) Fail(program.status());
  ws->program = std::move(*program);
  auto tensors = kernels::OpsTensors::Allocate(*ws->ops, cpu_->global_params());
  if (!tensors.ok()) Fail(tensors.status());
  ws->tensors = std::move(*tensors);
  return ws;
}

LossSum DeviceSasRecModel::ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                           Workspace* workspace, Gradients* global_grads,
                                           Gradients* local_grads) const {
  (void)local_grads;  // SASRec has no local parameters
  std::unique_ptr<Workspace> owned;
  if (workspace == nullptr) {
    owned = NewWorkspace();
    workspace = owned.get();
  }
  DeviceWorkspace& ws = *static_cast<DeviceWorkspace*>(workspace);
  kernels::TensorOps& ops = *ws.ops;
  // Trainers create workspaces on one thread and use them on others.
  if (absl::Status bound = ops.BindToCallingThread(); !bound.ok()) Fail(bound);
  const SasRecOptions& o = cpu_->options();
  const ParameterStore& store = cpu_->global_params();
  const kernels::SasRecWindowBatch windows = kernels::SasRecWindowBatch::Pack(o, batch, key);
  if (windows.batch == 0) return {};
  if (absl::Status loaded = ws.tensors.Load(ops, store); !loaded.ok()) Fail(loaded);
  absl::StatusOr<LossSum> sum =
      ws.program->LossAndGradients(ws.tensors.params(), ws.tensors.grads(), windows, key, true);
  if (!sum.ok()) Fail(sum.status());

  // The rows each table's gradient may hold, in first-touch order.
  const size_t scored = sasrec_internal::ScoredTable(o);
  std::vector<uint32_t> scored_rows, input_rows;
  for (size_t r = 0; r < windows.targets.size(); ++r) {
    if (windows.targets[r] != kernels::kNoItem) scored_rows.push_back(windows.targets[r]);
  }
  for (size_t r = 0; r < windows.negatives.size(); ++r) {
    if (windows.negatives[r] != kernels::kNoItem) scored_rows.push_back(windows.negatives[r]);
  }
  for (uint32_t id : windows.inputs) {
    if (id != kernels::kNoItem) input_rows.push_back(id);
  }
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    TensorView into = global_grads->View(k);
    if (absl::Status s = ws.tensors.FetchGradient(ops, k, &ws.host); !s.ok()) Fail(s);
    if (!global_grads->IsSparse(k)) {
      for (size_t i = 0; i < into.size(); ++i) into.data[i] += ws.host[i];
      continue;
    }
    const size_t d = o.dim;
    ws.added.assign(into.size() / d, 0);
    auto add_rows = [&](const std::vector<uint32_t>& rows) {
      for (uint32_t row : rows) {
        if (ws.added[row]) continue;
        ws.added[row] = 1;
        global_grads->MarkRow(k, row);
        for (size_t j = 0; j < d; ++j) into.data[row * d + j] += ws.host[row * d + j];
      }
    };
    if (k == scored) add_rows(scored_rows);
    if (k == sasrec_internal::kItemEmb) add_rows(input_rows);
  }
  return *sum;
}

}  // namespace fedrec
