// Pieces shared by the central and the federated trainer.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "data/dataset.h"
#include "models/metrics.h"
#include "models/model.h"
#include "proto/checkpoint.h"

namespace fedrec {

// Refuses (InvalidArgument, naming the key) a model the data cannot train:
// mf_rating on data whose ratings are all the same (implicit data reads as
// rating 1), where it would learn the constant and nothing else.
absl::Status CheckModelSuitsData(const Config& config, const Dataset& data);

// Number of NaN or infinite values in `values` (only reads them).
size_t CountNonFinite(std::span<const float> values);

// What a run stops with when its model diverged at `step` ("round 3",
// "epoch 2"): Aborted (exit code 1), naming the step, what is wrong, the
// likely cause (the key to change) and the last checkpoint, which the run
// leaves as it is: nothing of the diverged step is written.
absl::Status DivergedModelError(const std::string& step, const std::string& what,
                                const std::string& likely_cause,
                                const std::optional<std::string>& last_checkpoint);

// SHA-256 (hex) of the global parameters followed by the local ones: the
// `model_sha256` of summary.json.
std::string ParamsDigest(const Model& model);
// The same for a federated model whose local parameters stay with the
// workers: SHA-256 of the global parameters followed by `local_lanes` (the
// workers' summed per-user row digests, worker/worker_loop.h), little-endian.
std::string ParamsDigest(const ParameterStore& global, std::span<const uint64_t> local_lanes);

// The best-on-validation record of a run (central or federated): when, its
// validation metrics and score (NDCG@K), and its parameters.
struct BestSoFar {
  uint64_t round = 0;  // round (or epoch); 0: none yet
  double score = -1e300;
  std::map<std::string, double> valid;
  std::optional<ParameterStore> global, local;

  // True (and the record is replaced by this round's) when `score` (NDCG@K,
  // or a model's own selection score) beats the best so far or there is none
  // yet; the caller then keeps the parameters.
  bool Beats(uint64_t round, const RankMetrics& metrics, double score);
  // best_round and best_valid_metrics of a checkpoint.
  void SaveTo(Checkpoint* checkpoint) const;
};

// Early stopping (train.patience): true when `patience` > 0 and at least
// `patience` evaluations happened after the best one, up to and including
// `step` (an epoch or round). Evaluations are the steps the trainers
// evaluate at: multiples of `every` (0: none) and the last step `total`.
// A pure function of the best round and the step, both in every checkpoint,
// so a resumed run stops exactly where the uninterrupted one did.
bool PatienceExhausted(uint64_t patience, uint64_t every, uint64_t total, uint64_t best_step,
                       uint64_t step);

// Restores what a run checkpoint holds into `model` and `best`: the global
// parameters, the local ones when `local_in_checkpoint` (central training;
// a federated run's local parameters are in the workers' shards), the
// best-so-far record and, when there is one, best.ckpt's parameters read
// from `best_path` (global, and local when `local_in_checkpoint`).
absl::Status RestoreRunCheckpoint(const Checkpoint& checkpoint, const std::string& best_path,
                                  bool local_in_checkpoint, Model* model, BestSoFar* best);

// {"HR@K": .., "NDCG@K": .., "MRR": .., "users": ..}
nlohmann::json MetricsJson(const RankMetrics& m, uint32_t k, uint64_t users);

// {"path", "sha256", "dim"} of the data's item features; null when none.
nlohmann::json ItemFeaturesJson(const Dataset& data);

// Fills the parts of a checkpoint that describe the run rather than the
// model: round, config and its training digest, dataset fingerprint (with
// the source's SHA-256), id tables; then stamps it. The run id is stamped
// by RunDirectory when it writes the checkpoint.
void FinishRunCheckpoint(const Config& config, const Dataset& data, uint64_t round,
                         Checkpoint* ckpt);

}  // namespace fedrec
