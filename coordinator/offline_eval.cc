#include "coordinator/offline_eval.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "data/cold_items.h"
#include "data/item_features.h"
#include "data/split.h"
#include "models/mf.h"
#include "models/pop.h"
#include "spdlog/spdlog.h"

namespace fedrec {
namespace {

struct EvalData {
  Dataset dataset;
  ColdItems cold;
};

// Loads the data with the checkpoint's cleaning options and cold items and
// checks that its items are the checkpoint's, in the same order.
absl::StatusOr<EvalData> LoadDataForCheckpoint(const OfflineEvalRequest& request,
                                               const Checkpoint& ckpt,
                                               const std::string& checkpoint_path) {
  LoadOptions load = request.load;
  double cold_fraction = request.cold_items.value_or(0.0);
  uint64_t cold_seed = request.options.seed;
  if (!ckpt.config_toml().empty()) {
    FEDREC_ASSIGN_OR_RETURN(Config config,
                            ParseConfig(ckpt.config_toml(), checkpoint_path + " (config)"));
    FEDREC_RETURN_IF_ERROR(ApplyDataConfig(config.data, &load));
    // The model holds its item features already, read and checked against
    // the checkpoint by LoadCheckpointItemFeatures: not read a second time.
    load.item_features = {};
    cold_fraction = request.cold_items.value_or(config.eval.cold_items);
    cold_seed = config.seed;
  }
  EvalData out;
  FEDREC_ASSIGN_OR_RETURN(out.dataset, LoadDataset(request.data_path, load));
  Dataset& dataset = out.dataset;
  FEDREC_ASSIGN_OR_RETURN(out.cold, ApplyColdItems(cold_fraction, cold_seed, &dataset));
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
  return out;
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
absl::StatusOr<nlohmann::json> EvaluateOn(const Dataset& dataset, const ColdItems& cold,
                                          const Scorer* scorer, const std::string& model_name,
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
  if (cold.enabled()) {
    EvalOptions cold_options = options;
    cold_options.progress = nullptr;
    cold_options.target_items = cold.is_cold;
    FEDREC_ASSIGN_OR_RETURN(EvalResult c, Evaluate(*scorer, split, cold_options));
    const RankMetrics m = c.Mean();
    nlohmann::json& out = j["cold"];
    out["items"] = cold.items;
    out["cold_target_users"] = cold.cold_target_users;
    out["users"] = c.sums.users;
    out["HR@" + k] = m.hr;
    out["NDCG@" + k] = m.ndcg;
    out["MRR"] = m.mrr;
  }
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
  FEDREC_ASSIGN_OR_RETURN(EvalData data,
                          LoadDataForCheckpoint(request, checkpoint, checkpoint_path));
  return EvaluateOn(data.dataset, data.cold, &model, checkpoint.model().type(), checkpoint_path,
                    request);
}

absl::StatusOr<nlohmann::json> EvaluatePopularity(const OfflineEvalRequest& request) {
  FEDREC_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(request.data_path, request.load));
  FEDREC_ASSIGN_OR_RETURN(const ColdItems cold, ApplyColdItems(request.cold_items.value_or(0.0),
                                                               request.options.seed, &dataset));
  return EvaluateOn(dataset, cold, nullptr, "pop", "", request);
}

absl::StatusOr<std::shared_ptr<const ItemFeatures>> LoadCheckpointItemFeatures(
    const Checkpoint& checkpoint, const std::string& checkpoint_path) {
  const proto::DatasetFingerprint& fp = checkpoint.dataset();
  if (fp.item_features_sha256().empty()) return nullptr;
  ItemFeatureSource source{fp.item_features_path(), "auto"};
  if (!checkpoint.config_toml().empty()) {
    FEDREC_ASSIGN_OR_RETURN(Config config,
                            ParseConfig(checkpoint.config_toml(), checkpoint_path + " (config)"));
    source.ids = config.data.item_features_ids;
  }
  const std::vector<uint64_t> item_ids(checkpoint.item_ids().begin(), checkpoint.item_ids().end());
  absl::StatusOr<std::shared_ptr<const ItemFeatures>> features = LoadItemFeatures(source, item_ids);
  if (!features.ok()) {
    return absl::Status(features.status().code(), checkpoint_path + ": its item features: " +
                                                      std::string(features.status().message()));
  }
  if ((*features)->sha256 != fp.item_features_sha256()) {
    return absl::FailedPreconditionError(
        checkpoint_path + ": was trained with item features " + fp.item_features_path() +
        " (SHA-256 " + fp.item_features_sha256().substr(0, 16) + "...), which now has SHA-256 " +
        (*features)->sha256.substr(0, 16) +
        "...: evaluate with the features the model was trained on");
  }
  return features;
}

}  // namespace fedrec
