// Evaluating a saved model (or popularity fitted on the fly) on a dataset:
// what `fedrec eval` prints and `fedrec.Model.evaluate` returns, one JSON
// object built in one place.
//
// The data is loaded the way the checkpoint's run loaded it (the cleaning
// options of the config stored in the checkpoint replace the caller's), so
// dense ids agree; a dataset whose items differ from the checkpoint's is
// refused. Stateless; safe to call from several threads at once.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/status.h"
#include "data/item_features.h"
#include "data/loader.h"
#include "models/evaluation.h"
#include "models/scorer.h"
#include "proto/checkpoint.h"

namespace fedrec {

struct OfflineEvalRequest {
  std::string data_path;
  // Format and CSV options (and filters, unless a checkpoint brings its own).
  LoadOptions load;
  // Protocol, split, K, negatives, seed, threads. `progress` is ignored: a
  // progress line is shown when the evaluation takes more than a moment,
  // unless `quiet`.
  EvalOptions options;
  bool quiet = false;
  // Cold-start evaluation (eval.cold_items, data/cold_items.h): the fraction
  // of items withheld. Unset: the checkpoint's config's value (and seed), or
  // 0 for popularity; set: this fraction, drawn with the checkpoint's config
  // seed, or with options.seed when there is no checkpoint config.
  std::optional<double> cold_items;
};

// Evaluates `model`, built from `checkpoint` (read from `checkpoint_path`,
// which is only reported) with the item features LoadCheckpointItemFeatures
// gave, if any (the data is loaded without them). Returns {"model", "checkpoint", "data",
// "protocol", "split", ["negatives"], "k", "users", "skipped_users",
// "HR@K", "NDCG@K", "MRR", ["RMSE", "MAE" for mf_rating], ["cold": {"fraction",
// "items", "cold_target_users", "users", "HR@K", "NDCG@K", "MRR"} over the
// users whose target is cold, when cold items are withheld], "seconds"}.
absl::StatusOr<nlohmann::json> EvaluateCheckpointModel(const Checkpoint& checkpoint,
                                                       const Scorer& model,
                                                       const std::string& checkpoint_path,
                                                       const OfflineEvalRequest& request);

// The item content features a checkpoint's model was trained with, read
// again from the file the checkpoint names, keyed by the checkpoint's item
// ids: nullptr when the run read none. FailedPrecondition when the file's
// SHA-256 is no longer the recorded one (a model is only scored with its
// own features); the loader's errors otherwise, prefixed with the
// checkpoint's path.
absl::StatusOr<std::shared_ptr<const ItemFeatures>> LoadCheckpointItemFeatures(
    const Checkpoint& checkpoint, const std::string& checkpoint_path);

// The popularity baseline fitted on the training part of the data, evaluated
// the same way (the same keys, "model": "pop", no "checkpoint").
absl::StatusOr<nlohmann::json> EvaluatePopularity(const OfflineEvalRequest& request);

}  // namespace fedrec
