#include "coordinator/run_common.h"

#include <cmath>

#include "coordinator/resume.h"
#include "core/sha256.h"
#include "data/item_features.h"
#include "fmt/format.h"
#include "models/evaluation.h"
#include "spdlog/spdlog.h"

namespace fedrec {

absl::Status CheckModelSuitsData(const Config& config, const Dataset& data) {
  // The final test evaluation always includes the sampled protocol. Small
  // catalogues (tests, toy data) meet the default of 100 this way, so it is
  // said, not refused.
  const auto negatives = static_cast<uint32_t>(config.eval.negatives);
  const NegativesFit fit = FitOfSampledNegatives(data, negatives);
  if (fit.users_short > 0) {
    spdlog::warn(
        "eval.negatives: {} of {} users have fewer than {} untouched items (at most {}), so "
        "their sampled negatives repeat items and sampled metrics are skewed; lower "
        "eval.negatives or compare with the full protocol",
        fit.users_short, fit.users, negatives, fit.most_untouched);
  }
  if (config.model.type != "mf_rating" || data.ratings.empty()) return absl::OkStatus();
  const float first = data.ratings.front();
  for (const float r : data.ratings) {
    if (r != first) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(fmt::format(
      "model.type: 'mf_rating' needs explicit ratings, but every rating in {} is {:g} (data "
      "without ratings); use model.type = \"mf_bpr\" for implicit feedback",
      config.data.path, first));
}

size_t CountNonFinite(std::span<const float> values) {
  size_t bad = 0;
  for (const float v : values) bad += std::isfinite(v) ? 0 : 1;
  return bad;
}

absl::Status DivergedModelError(const std::string& step, const std::string& what,
                                const std::string& likely_cause,
                                const std::optional<std::string>& last_checkpoint) {
  return absl::AbortedError(
      fmt::format("{}: {}; likely cause: {}; the run stops and writes nothing of {} ({})", step,
                  what, likely_cause, step,
                  last_checkpoint ? "its last checkpoint " + *last_checkpoint + " is kept"
                                  : std::string("no checkpoint was written yet")));
}

std::string ParamsDigest(const Model& model) {
  Sha256 h;
  const auto flat = model.global_params().Flat();
  h.Update(flat.data(), flat.size_bytes());
  if (const ParameterStore* local = model.local_params()) {
    h.Update(local->Flat().data(), local->Flat().size_bytes());
  }
  return ToHex(h.Finish());
}

nlohmann::json MetricsJson(const RankMetrics& m, uint32_t k, uint64_t users) {
  const std::string ks = std::to_string(k);
  return {{"HR@" + ks, m.hr}, {"NDCG@" + ks, m.ndcg}, {"MRR", m.mrr}, {"users", users}};
}

std::string ParamsDigest(const ParameterStore& global, std::span<const uint64_t> local_lanes) {
  Sha256 h;
  h.Update(global.Flat().data(), global.Flat().size_bytes());
  for (uint64_t lane : local_lanes) {
    uint8_t le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(lane >> (8 * i));
    h.Update(le, 8);
  }
  return ToHex(h.Finish());
}

bool BestSoFar::Beats(uint64_t at, const RankMetrics& metrics, double new_score) {
  if (!(new_score > score || round == 0)) return false;
  round = at;
  score = new_score;
  valid = {{"HR", metrics.hr}, {"NDCG", metrics.ndcg}, {"MRR", metrics.mrr}, {"score", score}};
  return true;
}

void BestSoFar::SaveTo(Checkpoint* checkpoint) const {
  checkpoint->set_best_round(round);
  for (const auto& [name, value] : valid) (*checkpoint->mutable_best_valid_metrics())[name] = value;
}

absl::Status RestoreRunCheckpoint(const Checkpoint& ckpt, const std::string& best_path,
                                  bool local_in_checkpoint, Model* model, BestSoFar* best) {
  FEDREC_RETURN_IF_ERROR(
      WithContext(StoreFromTensors(ckpt.tensors(), &model->global_params()), "checkpoint"));
  ParameterStore* local = local_in_checkpoint ? model->local_params() : nullptr;
  if (local != nullptr) {
    FEDREC_RETURN_IF_ERROR(
        WithContext(StoreFromTensors(ckpt.local_tensors(), local), "checkpoint"));
  }
  best->round = ckpt.best_round();
  best->valid.clear();
  for (const auto& [name, value] : ckpt.best_valid_metrics()) best->valid[name] = value;
  if (best->valid.contains("score")) best->score = best->valid["score"];
  best->global.reset();
  best->local.reset();
  if (best->round == 0) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(Checkpoint b, ReadCheckpoint(best_path));
  best->global = model->global_params();
  FEDREC_RETURN_IF_ERROR(WithContext(StoreFromTensors(b.tensors(), &*best->global), best_path));
  if (local != nullptr) {
    best->local = *local;
    FEDREC_RETURN_IF_ERROR(
        WithContext(StoreFromTensors(b.local_tensors(), &*best->local), best_path));
  }
  return absl::OkStatus();
}

nlohmann::json ItemFeaturesJson(const Dataset& data) {
  if (data.item_features == nullptr) return nullptr;
  return {{"path", data.item_features->path},
          {"sha256", data.item_features->sha256},
          {"dim", data.item_features->dim}};
}

void FinishRunCheckpoint(const Config& config, const Dataset& data, uint64_t round,
                         Checkpoint* ckpt) {
  ckpt->set_round(round);
  ckpt->set_config_toml(ToToml(config));
  ckpt->set_config_sha256(TrainingConfigDigest(config));
  proto::DatasetFingerprint* fp = ckpt->mutable_dataset();
  fp->set_source_path(config.data.path);
  fp->set_sha256_hex(data.source_sha256);
  fp->set_num_users(data.num_users());
  fp->set_num_items(data.num_items());
  fp->set_num_interactions(data.num_interactions());
  fp->set_options("format=" + config.data.format +
                  " min_count=" + std::to_string(config.data.min_count) +
                  " kcore=" + std::to_string(config.data.kcore) +
                  " dedupe_consecutive=" + (config.data.dedupe_consecutive ? "true" : "false"));
  if (data.item_features != nullptr) {
    fp->set_item_features_path(data.item_features->path);
    fp->set_item_features_sha256(data.item_features->sha256);
    fp->set_item_features_dim(data.item_features->dim);
  }
  ckpt->mutable_item_ids()->Add(data.item_ids.begin(), data.item_ids.end());
  ckpt->mutable_user_ids()->Add(data.user_ids.begin(), data.user_ids.end());
  StampCheckpoint(ckpt);
}

bool PatienceExhausted(uint64_t patience, uint64_t every, uint64_t total, uint64_t best_step,
                       uint64_t step) {
  if (patience == 0 || best_step == 0 || step <= best_step) return false;
  // Evaluation steps in (best_step, step]: multiples of every, plus total.
  uint64_t evals = every == 0 ? 0 : step / every - best_step / every;
  if (step >= total && total > best_step && (every == 0 || total % every != 0)) ++evals;
  return evals >= patience;
}

}  // namespace fedrec
