// A worker: one silo (a rank under mpirun, a thread in a local run) hosting
// many simulated clients, one per user of its partition.
//
// Owns: its copy of the round's global parameters, the local parameters of
// its users (MF user embeddings; they never leave the worker: checkpoints
// hold them in this worker's own shard, proto/local_shards.h), and one
// ClientTrainer per thread.
//
// Guarantees: the integer sum a worker returns for a round is the sum mod
// 2^bits of its clients' encodings, each a pure function of (global model,
// client, seed, round); integer addition makes the result independent of the
// worker's thread count and of the order clients ran in. Evaluation sums
// per-user metrics in fixed point for the same reason.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aggregation/fixed_point.h"
#include "core/status.h"
#include "data/split.h"
#include "models/cuda/sasrec_client_batch.h"
#include "models/cuda/tensor_ops.h"
#include "models/evaluation.h"
#include "models/model.h"
#include "worker/client_trainer.h"
#include "worker/cohort.h"

namespace fedrec {

// What a worker reports about one round (exact integers, summed over
// workers by the coordinator; seconds are this worker's wall times).
struct WorkerRoundStats {
  uint64_t sampled = 0;  // clients of this worker in the cohort
  uint64_t dropped = 0;  // sampled clients that dropped out before upload
  uint64_t uploaded = 0;
  uint64_t clipped = 0;
  uint64_t loss_fixed = 0;  // sum over uploaded clients of mean loss, units 2^-32
  // Uploaded clients whose mean loss was NaN or infinite: not in loss_fixed,
  // counted so that the round's loss is reported as unknown, not as 0.
  uint64_t nonfinite_loss = 0;
  uint64_t norm_fixed = 0;  // sum of update norms before clipping, units 2^-32
  uint64_t examples = 0;
  uint64_t capped_examples = 0;  // sum of min(examples, cap): the weights' numerator
  double seconds_train = 0;
  double seconds_encode = 0;
  double seconds_allreduce = 0;
  absl::Status status;  // not OK: this worker failed; the run must stop

  void Add(const WorkerRoundStats& other);  // integers summed, seconds maxed, first error kept
};

struct WorkerOptions {
  ClientTrainingOptions client;
  CohortPlan cohort;
  uint32_t threads = 1;
  // Users whose local (per-user) parameters this worker owns: its clients
  // and the users that are no one's client (too short to train on). Empty:
  // its clients only.
  std::vector<uint32_t> local_users;
  // eval.cold_items's cold items, one flag per item (empty: off): never a
  // training negative (Model::SetNegativeExclusions), and the targets of the
  // coordinator's cold-only evaluations.
  std::vector<uint8_t> cold_items;
  // Set: the round's clients train batched on a device
  // (models/cuda/sasrec_client_batch.h), client_windows_per_step per step,
  // with TensorOps from this factory, instead of one ClientTrainer per
  // thread. SASRec only, at least one local epoch: Create refuses anything
  // else. Encodings go into the worker's sum on the device; each client's
  // own words (client-scope secure aggregation) and distributed DP are
  // finished on the host.
  kernels::TensorOpsFactory client_ops;
  size_t client_windows_per_step = 256;
};

class Worker {
 public:
  // `users`: this worker's dense user ids, ascending; `population`: every
  // client of the federation (users with >= 2 training items), ascending.
  // `initial_local`: the initial local-parameter store (nullptr if none).
  static absl::StatusOr<std::unique_ptr<Worker>> Create(
      const proto::ModelSpec& spec, const LeaveOneOutSplit& split, std::vector<uint32_t> users,
      std::span<const uint32_t> population, const ParameterStore& initial_global,
      const ParameterStore* initial_local, const WorkerOptions& options);

  ParameterStore& global() { return global_; }
  ParameterStore* local() { return local_ ? &*local_ : nullptr; }
  const std::vector<uint32_t>& users() const { return users_; }
  std::span<const uint8_t> cold_items() const { return options_.cold_items; }

  // One sampled client's upload, for client-scope secure aggregation.
  struct ClientUpload {
    uint32_t user = 0;
    bool dropped = false;         // sampled, then vanished before upload
    std::vector<uint64_t> words;  // its encoding (empty when dropped)
  };

  // Trains this worker's clients of round `round` from global() and adds
  // their encodings into `accumulator` (size = global().size(), or the DDG's
  // padded dimension under distributed DP; zeroed by the caller), or, when `uploads` is given,
  // leaves each client's encoding in its own vector there (every sampled client, dropped ones
  // included, in ascending user order) and the accumulator untouched. Never fails: a failure is
  // reported in the stats' `status`.
  WorkerRoundStats TrainRound(uint32_t round, const RoundEncoding& encoding,
                              std::span<uint64_t> accumulator,
                              std::vector<ClientUpload>* uploads = nullptr);

  // Evaluates global() (with the current or the best local parameters) on
  // this worker's users.
  absl::StatusOr<EvalResult> Evaluate(EvalOptions options, bool best_local);

  // Keeps a copy of the local parameters as the best so far.
  void SnapshotBestLocal();

  // Users whose local rows this worker owns (ascending).
  const std::vector<uint32_t>& local_users() const {
    return options_.local_users.empty() ? users_ : options_.local_users;
  }
  // The current (or best-so-far; the current when no best was kept) local
  // parameters: full-size tables in which only local_users()' rows are this
  // worker's. nullptr for models without local parameters.
  const ParameterStore* local_store(bool best) const;
  // Replaces the current (and, when given, the best) local parameters, as
  // read back from this worker's shards.
  void RestoreLocal(ParameterStore current, std::optional<ParameterStore> best);

 private:
  Worker() = default;
  // TrainRound's device path for the clients `active`.
  // `slot[i]`: active[i]'s place in *uploads (when given).
  void TrainOnDevice(uint32_t round, const RoundEncoding& encoding,
                     const std::vector<uint32_t>& active, const std::vector<size_t>& slot,
                     std::span<uint64_t> accumulator, std::vector<ClientUpload>* uploads,
                     WorkerRoundStats* stats);

  const LeaveOneOutSplit* split_ = nullptr;
  std::vector<uint32_t> users_;
  std::span<const uint32_t> population_;
  WorkerOptions options_;
  ParameterStore global_;
  std::optional<ParameterStore> local_, best_local_;
  std::vector<std::unique_ptr<ClientTrainer>> trainers_;
  std::vector<std::vector<uint64_t>> thread_acc_;
  std::unique_ptr<kernels::SasRecClientBatch> client_batch_;
  // Distributed DP's noise for the device-batched clients (an AES-CTR
  // stream keyed from the OS CSPRNG, as each ClientTrainer's).
  std::optional<privacy::AesCtrUrbg> noise_urbg_;
};

}  // namespace fedrec
