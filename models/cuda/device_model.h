// What every model whose training step runs on a TensorOps backend shares:
// it wraps the CPU model, whose ParameterStore the optimisers and
// checkpoints see and whose initialisation, negative exclusions and scoring
// it keeps; evaluation ranks on the backend (StartRanking); and it ends the
// process on a backend failure. A subclass owns the training step
// (NewWorkspace, ForwardBackward).
//
// Errors: a backend failure after creation (a CUDA fault, out of device
// memory) cannot be returned through the Model interface; Fail ends the
// process with one "fedrec: error:" line and exit code 1. Subclasses check
// the backend at creation, so a missing device is a FailedPrecondition
// instead.
//
// Thread safety: as Model: const methods may run concurrently, each thread
// with its own Workspace (each owning its own TensorOps, i.e. CUDA stream).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>

#include "models/cuda/ops_tensors.h"
#include "models/cuda/tensor_ops.h"
#include "models/item_table.h"
#include "models/model.h"

namespace fedrec {

class DeviceModel : public Model {
 public:
  using OpsFactory = kernels::TensorOpsFactory;

  // One thread's backend: its TensorOps, the device program and the
  // tensors' buffers.
  template <typename Program>
  struct ProgramWorkspace : Workspace {
    std::unique_ptr<kernels::TensorOps> ops;
    std::unique_ptr<Program> program;
    kernels::OpsTensors tensors;
  };

  std::string type() const override { return cpu_->type(); }
  uint32_t num_items() const override { return cpu_->num_items(); }
  ParameterStore& global_params() override { return cpu_->global_params(); }
  const ParameterStore& global_params() const override { return cpu_->global_params(); }
  ParameterStore* local_params() override { return cpu_->local_params(); }
  const ParameterStore* local_params() const override { return cpu_->local_params(); }
  Gradients NewGlobalGradients() const override { return cpu_->NewGlobalGradients(); }
  Gradients NewLocalGradients() const override { return cpu_->NewLocalGradients(); }
  void Initialize(uint64_t seed) override { cpu_->Initialize(seed); }
  absl::Status SetItemPopularity(std::span<const uint64_t> counts) override {
    return cpu_->SetItemPopularity(counts);
  }
  absl::Status SetNegativeExclusions(std::span<const uint8_t> excluded) override {
    return cpu_->SetNegativeExclusions(excluded);
  }

  void ScoreAll(uint32_t user, std::span<const uint32_t> history,
                std::span<float> scores) const override {
    cpu_->ScoreAll(user, history, scores);
  }
  void ScoreCandidates(uint32_t user, std::span<const uint32_t> history,
                       std::span<const uint32_t> candidates,
                       std::span<float> scores) const override {
    cpu_->ScoreCandidates(user, history, candidates, scores);
  }
  DotItems dot_items() const override { return cpu_->dot_items(); }
  void UserState(uint32_t user, std::span<const uint32_t> history,
                 std::span<float> state) const override {
    cpu_->UserState(user, history, state);
  }
  // Evaluation ranks on the backend too (models/cuda/device_ranking.h)
  // when the CPU model is rankable there (RankableOnDevice); null (the
  // CPU's scoring) otherwise.
  absl::StatusOr<std::unique_ptr<RankingSession>> StartRanking() const override;

 protected:
  DeviceModel(std::unique_ptr<Model> cpu, OpsFactory make_ops, std::string backend_name)
      : cpu_(std::move(cpu)),
        make_ops_(std::move(make_ops)),
        backend_name_(std::move(backend_name)) {}

  // What a subclass's Create checks: items by id (FailedPrecondition
  // naming `model_name` otherwise), then `make_ops` and Program::Create on
  // its TensorOps (their errors).
  template <typename Program, typename Options>
  static absl::Status CheckBackend(const ItemLayout& layout, const Options& options,
                                   const OpsFactory& make_ops, const std::string& backend_name,
                                   const std::string& model_name) {
    if (layout.has_adapter()) {
      return absl::FailedPreconditionError(
          "backend.compute: '" + backend_name + "' trains " + model_name +
          " on item ids only so far; model.item_repr text and id+text run on the CPU "
          "(backend.compute = \"cpu\")");
    }
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<kernels::TensorOps> probe, make_ops());
    return Program::Create(options, probe.get()).status();
  }

  // Fills `ws` (a ProgramWorkspace<Program> or a subclass): a new TensorOps,
  // the program on it, the tensors' buffers; Fail on an error.
  template <typename Program, typename Options>
  void FillWorkspace(const Options& options, ProgramWorkspace<Program>* ws) const {
    ws->ops = NewOps();
    auto program = Program::Create(options, ws->ops.get());
    if (!program.ok()) Fail(program.status());
    ws->program = std::move(*program);
    auto tensors = kernels::OpsTensors::Allocate(*ws->ops, global_params());
    if (!tensors.ok()) Fail(tensors.status());
    ws->tensors = std::move(*tensors);
  }

  // The workspace a ForwardBackward runs in (W, a ProgramWorkspace):
  // `workspace`, or a new one kept in *owned; its TensorOps bound to the
  // calling thread (trainers create workspaces on one thread and use them
  // on others).
  template <typename W>
  W& Acquire(Workspace* workspace, std::unique_ptr<Workspace>* owned) const {
    if (workspace == nullptr) {
      *owned = NewWorkspace();
      workspace = owned->get();
    }
    W& ws = *static_cast<W*>(workspace);
    if (absl::Status bound = ws.ops->BindToCallingThread(); !bound.ok()) Fail(bound);
    return ws;
  }

  // One "fedrec: error: backend.compute '<name>': <why>" line, exit code 1.
  [[noreturn]] void Fail(const absl::Status& status) const;
  // A new TensorOps bound to the calling thread, or Fail.
  std::unique_ptr<kernels::TensorOps> NewOps() const;

  std::unique_ptr<Model> cpu_;
  OpsFactory make_ops_;
  std::string backend_name_;
};

}  // namespace fedrec
