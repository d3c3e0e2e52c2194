// Pieces shared by the central and the federated trainer.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/config.h"
#include "data/dataset.h"
#include "models/metrics.h"
#include "models/model.h"
#include "proto/checkpoint.h"

namespace fedrec {

// SHA-256 (hex) of the global parameters followed by the local ones: the
// `model_sha256` of summary.json.
std::string ParamsDigest(const Model& model);

// {"HR@K": .., "NDCG@K": .., "MRR": .., "users": ..}
nlohmann::json MetricsJson(const RankMetrics& m, uint32_t k, uint64_t users);

// Fills the parts of a checkpoint that describe the run rather than the
// model: round, config, dataset fingerprint, id tables; then stamps it.
// The best-on-validation model of a resumed run, read from `best_path`
// (checkpoints/best.ckpt): its global parameters, and its local ones when
// `model` has local parameters, in stores shaped like the model's.
absl::Status LoadBestModel(const std::string& best_path, const Model& model,
                           std::optional<ParameterStore>* best_global,
                           std::optional<ParameterStore>* best_local);

void FinishRunCheckpoint(const Config& config, const Dataset& data, uint64_t round,
                         Checkpoint* ckpt);

}  // namespace fedrec
