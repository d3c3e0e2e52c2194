// Many federated SASRec clients per device step: the round's local training,
// update norms and fixed-point encoding of a cohort, written against
// TensorOps (tensor_ops.h), so that the GPU runs it and CI checks it on the
// CPU (HostTensorOps) against worker/client_trainer.h.
//
// A step takes up to windows_per_step() clients that start from the same
// global parameters (the round's) and runs local_epochs SGD steps for all
// of them at once, as worker/client_trainer.h runs them for one:
//   - the first local step is ONE batched forward/backward over their
//     windows from the shared global parameters
//     (SasRecDeviceProgram::LossAndWindowGradients), each client's gradient
//     in its own slots: dense tensors per window, the item tables' rows it
//     touches (inputs, targets, every step's negatives) per client;
//   - each client then holds its own copy of the dense tensors and of its
//     rows, and later local steps read those (strided-batched products over
//     per-window weights);
//   - a step is p -= local_lr (g / n), n its predicted positions, with the
//     CPU client's roundings; the delta is (local - start).
// The deltas' norms and their fixed-point encoding (times the caller's
// clip-and-weight factor) run on the device, into a sum that stays in the
// ops' memory for the whole round and leaves it once (AddSumInto).
//
// Fixed shapes: every step has exactly windows_per_step() windows (padding
// windows fill a short step) of max_len rows, so every matrix product has
// the same shape whichever clients share a step. A client's words are then
// a pure function of (global parameters, its sequence, seed, round), and the
// round's sum is bitwise the same for any worker count and any split of the
// cohort into steps; the cost is computing padding for short sequences.
//
// Randomness: negatives and dropout masks are the CPU client's (the streams
// of (seed, round, user, local step)); the encoding's rounding uses word i of the
// stream (seed, "encode", round, user) for global coordinate i
// (client_update_kernels.h), not the CPU client's sequential draws, so a GPU
// client's words differ from a CPU client's by rounding only.
//
// Each client's own words (client-scope secure aggregation, EncodeEach) or
// its scaled delta (distributed DP, ScaledDeltas) can come to the host
// instead of the sum.
//
// Supported: what SasRecDeviceProgram supports. Thread safety: one thread at a time (it owns its
// TensorOps); ClientStepPlan::Make's scratch is per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/param_store.h"
#include "core/status.h"
#include "models/cuda/sasrec_device.h"
#include "models/cuda/tensor_ops.h"
#include "models/model.h"
#include "models/sasrec_options.h"

namespace fedrec::kernels {

struct ClientBatchOptions {
  uint64_t seed = 0;
  double local_lr = 0.05;
  size_t local_epochs = 1;
  size_t windows_per_step = 256;
};

// One client's result of a step.
struct ClientStepResult {
  uint32_t user = 0;
  LossSum loss;            // of its last local step (0 examples: too short, no update)
  double update_norm = 0;  // L2 norm of its delta before clipping
};

class SasRecClientBatch {
 public:
  // `layout`: a store with the model's global-parameter layout.
  static absl::StatusOr<std::unique_ptr<SasRecClientBatch>> Create(
      const SasRecOptions& o, const ParameterStore& layout, std::unique_ptr<TensorOps> ops,
      const ClientBatchOptions& options);
  ~SasRecClientBatch();

  size_t windows_per_step() const { return options_.windows_per_step; }

  // Uploads the round's global parameters and zeroes the round's sum.
  absl::Status BeginRound(const ParameterStore& global, uint32_t round);
  // Trains `clients` (at most windows_per_step()): their local steps, deltas
  // and norms, results in the clients' order.
  absl::StatusOr<std::vector<ClientStepResult>> Train(std::span<const UserSequence> clients);
  // Adds the last Train's clients into the round's sum: client i's delta
  // times factors[i] (0: nothing), encoded at fixed-point `scale` and
  // clamped to +-limit (FixedPointCodec's scale() and clip_norm() scale()).
  absl::Status Encode(std::span<const double> factors, double scale, double limit);
  // Client-scope uploads: adds client i of the last Train's own words into
  // words[i] (the global layout), the very words Encode would add for it
  // (factors[i] as there; 0: nothing). Only the coordinates a client touched
  // come back from the device.
  absl::Status EncodeEach(std::span<const double> factors, double scale, double limit,
                          std::span<const std::span<uint64_t>> words);
  // Distributed DP: calls visit(i, delta) for every client i of the last
  // Train, in order, with delta = factors[i] times its delta in double, in
  // the global layout (zero where it touched nothing; all zero for factor 0
  // or a client too short to train). The span is valid during the call.
  using DeltaVisitor = std::function<absl::Status(size_t, std::span<const double>)>;
  absl::Status VisitScaledDeltas(std::span<const double> factors, const DeltaVisitor& visit);
  // acc[i] += the round's sum (mod 2^64), then zeroes the sum.
  absl::Status AddSumInto(std::span<uint64_t> acc);

 private:
  struct DeviceState;
  SasRecClientBatch() = default;
  // Encodes the last Train's `runs` (the plan's, or the same re-packed)
  // into acc, in the ops' memory.
  absl::Status EncodeRunsInto(std::span<const double> factors, double scale, double limit,
                              const std::vector<EncodeRun>& runs, uint64_t* acc);

  SasRecOptions o_;
  ClientBatchOptions options_;
  std::vector<TensorLayout> layout_;
  size_t flat_size_ = 0;  // floats of the global layout
  std::unique_ptr<TensorOps> ops_;
  std::unique_ptr<SasRecDeviceProgram> program_;
  std::unique_ptr<DeviceState> state_;
  uint32_t round_ = 0;
};

}  // namespace fedrec::kernels
