#include "coordinator/offline_eval.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "data/item_features.h"
#include "data/split.h"
#include "models/mf.h"
#include "models/pop.h"
#include "spdlog/spdlog.h"

namespace fedrec {
namespace {

// Loads the data with the checkpoint's cleaning options and checks that its
// items are the checkpoint's, in the same order.
absl::StatusOr<Dataset> LoadDataForCheckpoint(const OfflineEvalRequest& request,
                                              const Checkpoint& ckpt,
                                              const std::string& checkpoint_path) {
  LoadOptions load = request.load;
  if (!ckpt.config_toml().empty()) {
    FEDREC_ASSIGN_OR_RETURN(Config config,
                            ParseConfig(ckpt.config_toml(), checkpoint_path + " (config)"));
    FEDREC_RETURN_IF_ERROR(ApplyDataConfig(config.data, &load));
  }
  FEDREC_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(request.data_path, load));
  const bool same_items = ckpt.item_ids_size() == 0
                              ? dataset.num_items() == ckpt.model().num_items()
                              : std::equal(dataset.item_ids.begin(), dataset.item_ids.end(),
                                           ckpt.item_ids().begin(), ckpt.item_ids().end());
  if (!same_items) {
    return absl::InvalidArgumentError(
        request.data_path + ": its items do not match the checkpoint's (" +
        std::to_string(dataset.num_items()) + " vs " + std::to_string(ckpt.model().num_items()) +
        " items, or another order): evaluate on the data the model was trained on");
  }
  const std::string& features = ckpt.dataset().item_features_sha256();
  const std::string now = dataset.item_features != nullptr ? dataset.item_features->sha256 : "";
  if (features != now) {
    return absl::FailedPreconditionError(
        checkpoint_path + ": was trained with item features " +
        (features.empty() ? std::string("none")
                          : ckpt.dataset().item_features_path() + " (SHA-256 " +
                                features.substr(0, 16) + "...)") +
        ", but " +
        (now.empty()
             ? std::string("none are read now")
             : dataset.item_features->path + " now has SHA-256 " + now.substr(0, 16) + "...") +
        ": evaluate with the features the model was trained on");
  }
  return dataset;
}

// The sampled protocol draws negatives among the items a user never touched;
// asking more than any user has untouched makes every draw repeat items and
// the metrics meaningless (HR@10 0.017 against 0.23 under full ranking).
absl::Status CheckNegatives(const EvalOptions& options, const Dataset& dataset) {
  if (options.protocol != EvalProtocol::kSampled) return absl::OkStatus();
  const NegativesFit fit = FitOfSampledNegatives(dataset, options.negatives);
  if (options.negatives > fit.most_untouched) {
    return absl::InvalidArgumentError(
        "eval: --negatives " + std::to_string(options.negatives) + " exceeds the " +
        std::to_string(fit.most_untouched) +
        " items even the lightest user never touched, so every draw would repeat items; use "
        "--negatives <= " +
        std::to_string(fit.most_untouched) + " or --protocol full");
  }
  if (fit.users_short > 0) {
    spdlog::warn(
        "eval: {} of {} users have fewer than --negatives {} untouched items; their negatives "
        "repeat items",
        fit.users_short, fit.users, options.negatives);
  }
  return absl::OkStatus();
}

// Evaluates `scorer` (or, when null, popularity fitted on `dataset`) and
// builds the result object.
absl::StatusOr<nlohmann::json> EvaluateOn(const Dataset& dataset, const Scorer* scorer,
                                          const std::string& model_name,
                                          const std::string& checkpoint_path,
                                          const OfflineEvalRequest& request) {
  EvalOptions options = request.options;
  FEDREC_RETURN_IF_ERROR(CheckNegatives(options, dataset));
  const LeaveOneOutSplit split(dataset);
  const auto start = std::chrono::steady_clock::now();
  std::optional<PopularityModel> pop;
  if (scorer == nullptr) scorer = &pop.emplace(PopularityModel::Fit(split));
  const uint64_t scanned = options.users.empty() ? dataset.num_users() : options.users.size();
  ProgressReporter progress(
      "eval", scanned,
      ProgressOptions{.quiet = request.quiet, .delay = std::chrono::milliseconds(2000)});
  options.progress = &progress;
  FEDREC_ASSIGN_OR_RETURN(EvalResult result, Evaluate(*scorer, split, options));
  progress.Finish();

  const RankMetrics mean = result.Mean();
  const std::string k = std::to_string(options.k);
  nlohmann::json j;
  j["model"] = model_name;
  if (!checkpoint_path.empty()) j["checkpoint"] = checkpoint_path;
  j["data"] = request.data_path;
  j["protocol"] = EvalProtocolName(options.protocol);
  j["split"] = SplitPartName(options.part);
  if (options.protocol == EvalProtocol::kSampled) j["negatives"] = options.negatives;
  j["k"] = options.k;
  j["users"] = result.sums.users;
  j["skipped_users"] = result.skipped_users;
  j["HR@" + k] = mean.hr;
  j["NDCG@" + k] = mean.ndcg;
  j["MRR"] = mean.mrr;
  if (const auto* mf = dynamic_cast<const MfRatingModel*>(scorer)) {
    FEDREC_ASSIGN_OR_RETURN(RatingMetrics r,
                            EvaluateRatings(*mf, split, options.part, options.threads));
    j["RMSE"] = r.rmse;
    j["MAE"] = r.mae;
  }
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return j;
}

}  // namespace

absl::StatusOr<nlohmann::json> EvaluateCheckpointModel(const Checkpoint& checkpoint,
                                                       const Scorer& model,
                                                       const std::string& checkpoint_path,
                                                       const OfflineEvalRequest& request) {
  FEDREC_ASSIGN_OR_RETURN(Dataset dataset,
                          LoadDataForCheckpoint(request, checkpoint, checkpoint_path));
  return EvaluateOn(dataset, &model, checkpoint.model().type(), checkpoint_path, request);
}

absl::StatusOr<nlohmann::json> EvaluatePopularity(const OfflineEvalRequest& request) {
  FEDREC_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(request.data_path, request.load));
  return EvaluateOn(dataset, nullptr, "pop", "", request);
}

}  // namespace fedrec
