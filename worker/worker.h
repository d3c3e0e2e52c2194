// A worker: one silo (a rank under mpirun, a thread in a local run) hosting
// many simulated clients, one per user of its partition.
//
// Owns: its copy of the round's global parameters, the local parameters of
// its users (MF user embeddings; never sent anywhere but into this worker's
// part of a checkpoint), and one ClientTrainer per thread.
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
  uint64_t norm_fixed = 0;  // sum of update norms before clipping, units 2^-32
  uint64_t examples = 0;
  uint64_t capped_examples = 0;  // sum of min(examples, cap): the weights' numerator
  double seconds_train = 0;
  double seconds_encode = 0;
  double seconds_allreduce = 0;
  std::string error;  // non-empty: this worker failed; the run must stop

  std::string Serialize() const;
  static absl::StatusOr<WorkerRoundStats> Parse(const std::string& bytes);
  void Add(const WorkerRoundStats& other);  // integers summed, seconds maxed
};

struct WorkerOptions {
  ClientTrainingOptions client;
  CohortPlan cohort;
  uint32_t threads = 1;
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
  // reported in the stats' `error`.
  WorkerRoundStats TrainRound(uint32_t round, const RoundEncoding& encoding,
                              std::span<uint64_t> accumulator,
                              std::vector<ClientUpload>* uploads = nullptr);

  // Evaluates global() (with the current or the best local parameters) on
  // this worker's users.
  absl::StatusOr<EvalResult> Evaluate(EvalOptions options, bool best_local);

  // Keeps a copy of the local parameters as the best so far.
  void SnapshotBestLocal();

  // This worker's rows of the (current or best) local parameters, tensor by
  // tensor, users ascending, as raw float bytes; empty for models without
  // local parameters.
  std::string LocalRows(bool best) const;
  // Sets this worker's rows of the current (and best) local store from a
  // full table (all users' rows, ParameterStore layout).
  void SetLocalFrom(std::span<const float> full, std::span<const float> best_full);

 private:
  Worker() = default;

  const LeaveOneOutSplit* split_ = nullptr;
  std::vector<uint32_t> users_;
  std::span<const uint32_t> population_;
  WorkerOptions options_;
  ParameterStore global_;
  std::optional<ParameterStore> local_, best_local_;
  std::vector<std::unique_ptr<ClientTrainer>> trainers_;
  std::vector<std::vector<uint64_t>> thread_acc_;
};

}  // namespace fedrec
