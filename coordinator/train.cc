#include "coordinator/train.h"

#include <filesystem>

#include "comm/launch.h"
#include "coordinator/federated_trainer.h"
#include "coordinator/resume.h"
#include "core/output_path.h"

namespace fedrec {

absl::StatusOr<Config> ResolveTrainConfig(const TrainRequest& request) {
  if (!request.run.resume) return LoadConfig(request.config_path, request.overrides);
  const std::string& out = request.run.out_dir;
  const std::string stored = out + "/config.toml";
  if (!std::filesystem::exists(stored)) {
    return absl::NotFoundError(out + ": not a run directory (no config.toml) to resume");
  }
  FEDREC_ASSIGN_OR_RETURN(Config config, LoadConfig(stored));
  if (request.config_path.empty() && request.overrides.empty()) return config;
  // --set alone changes the stored configuration; --config replaces it.
  FEDREC_ASSIGN_OR_RETURN(
      Config given,
      LoadConfig(request.config_path.empty() ? stored : request.config_path, request.overrides));
  // Checked again against the checkpoint once the directory is locked.
  FEDREC_RETURN_IF_ERROR(CheckResumeConfig(config, given, stored).status());
  return given;
}

absl::StatusOr<nlohmann::json> RunTraining(const TrainRequest& request) {
  // Before the configuration and the data: a bad --out fails fast.
  FEDREC_RETURN_IF_ERROR(CheckOutputDirectory(request.run.out_dir, "train: --out"));
  FEDREC_ASSIGN_OR_RETURN(Config config, ResolveTrainConfig(request));
  if (config.federation.mode == "federated") return RunFederatedTraining(config, request.run);
  if (LaunchedAsMpiJob()) {
    return absl::InvalidArgumentError(
        "train: federation.mode = \"central\" runs in one process; start it without mpirun");
  }
  return RunCentralTraining(config, request.run);
}

}  // namespace fedrec
