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
// Errors: a backend failure after creation (a CUDA fault, out of device
// memory) cannot be returned through the Model interface; it ends the
// process with one "fedrec: error:" line and exit code 1. Creation checks
// the backend first, so a missing device is a FailedPrecondition instead.
//
// Thread safety: as Model: const methods may run concurrently, each thread
// with its own Workspace (each workspace owns its own TensorOps, i.e. its own
// CUDA stream).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "models/cuda/tensor_ops.h"
#include "models/model.h"
#include "models/sasrec.h"

namespace fedrec {

class DeviceSasRecModel final : public Model {
 public:
  using OpsFactory = kernels::TensorOpsFactory;

  // `cpu`: the model whose parameters and scoring this one uses.
  // `make_ops`: a new TensorOps per workspace; called once here to check it
  // works (its error is returned). InvalidArgument for options the device
  // step does not support (SasRecDeviceProgram::Create); FailedPrecondition
  // for item features (item_repr text / id+text), which have no GPU step.
  static absl::StatusOr<std::unique_ptr<DeviceSasRecModel>> Create(std::unique_ptr<SasRecModel> cpu,
                                                                   OpsFactory make_ops,
                                                                   std::string backend_name);

  std::string type() const override { return cpu_->type(); }
  uint32_t num_items() const override { return cpu_->num_items(); }
  ParameterStore& global_params() override { return cpu_->global_params(); }
  const ParameterStore& global_params() const override { return cpu_->global_params(); }
  Gradients NewGlobalGradients() const override { return cpu_->NewGlobalGradients(); }
  std::unique_ptr<Workspace> NewWorkspace() const override;
  LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                          Workspace* workspace, Gradients* global_grads,
                          Gradients* local_grads) const override;
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

  // Evaluation ranks on the backend too (models/cuda/sasrec_ranking.h)
  // when the model's scores are plain dot products; null otherwise.
  absl::StatusOr<std::unique_ptr<RankingSession>> StartRanking() const override;

  const SasRecModel& cpu_model() const { return *cpu_; }

 private:
  DeviceSasRecModel(std::unique_ptr<SasRecModel> cpu, OpsFactory make_ops, std::string name)
      : cpu_(std::move(cpu)), make_ops_(std::move(make_ops)), backend_name_(std::move(name)) {}
  [[noreturn]] void Fail(const absl::Status& status) const;

  std::unique_ptr<SasRecModel> cpu_;
  OpsFactory make_ops_;
  std::string backend_name_;
};

}  // namespace fedrec
