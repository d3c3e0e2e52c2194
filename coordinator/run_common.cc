#include "coordinator/run_common.h"

#include "core/sha256.h"

namespace fedrec {

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

absl::Status LoadBestModel(const std::string& best_path, const Model& model,
                           std::optional<ParameterStore>* best_global,
                           std::optional<ParameterStore>* best_local) {
  FEDREC_ASSIGN_OR_RETURN(Checkpoint best, ReadCheckpoint(best_path));
  *best_global = model.global_params();
  FEDREC_RETURN_IF_ERROR(StoreFromTensors(best.tensors(), &**best_global));
  if (const ParameterStore* local = model.local_params()) {
    *best_local = *local;
    FEDREC_RETURN_IF_ERROR(StoreFromTensors(best.local_tensors(), &**best_local));
  }
  return absl::OkStatus();
}

void FinishRunCheckpoint(const Config& config, const Dataset& data, uint64_t round,
                         Checkpoint* ckpt) {
  ckpt->set_round(round);
  ckpt->set_config_toml(ToToml(config));
  proto::DatasetFingerprint* fp = ckpt->mutable_dataset();
  fp->set_source_path(config.data.path);
  fp->set_num_users(data.num_users());
  fp->set_num_items(data.num_items());
  fp->set_num_interactions(data.num_interactions());
  fp->set_options("format=" + config.data.format +
                  " min_count=" + std::to_string(config.data.min_count) +
                  " kcore=" + std::to_string(config.data.kcore) +
                  " dedupe_consecutive=" + (config.data.dedupe_consecutive ? "true" : "false"));
  ckpt->mutable_item_ids()->Add(data.item_ids.begin(), data.item_ids.end());
  ckpt->mutable_user_ids()->Add(data.user_ids.begin(), data.user_ids.end());
  StampCheckpoint(ckpt);
}

}  // namespace fedrec
