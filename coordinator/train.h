// `fedrec train` as a library call, shared by the command line and the Python
// package: the run's configuration resolved (fresh, or the stored one on
// resume) and the run started in the mode it names.
//
// Thread-compatible: one call runs one training; under mpirun, one call per
// process (the federated run finalises MPI).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "coordinator/central_trainer.h"
#include "core/config.h"
#include "core/status.h"

namespace fedrec {

struct TrainRequest {
  std::string config_path;             // TOML file; empty: the defaults
  std::vector<std::string> overrides;  // "section.key=value", applied after the file
  TrainRunOptions run;                 // out_dir, resume, quiet
};

// A fresh run: config_path with the overrides. A resumed run: the
// configuration stored in run.out_dir (NotFound when there is none), with
// the overrides applied (or config_path's with them); it may differ from
// the stored one only in keys a resume may change (coordinator/resume.h),
// else InvalidArgument naming the key.
absl::StatusOr<Config> ResolveTrainConfig(const TrainRequest& request);

// Resolves the configuration and trains: federation.mode = "federated" runs
// the coordinator and workers (threads, or this process's rank under
// mpirun), "central" one process (refused under an MPI job of several).
// summary.json's content; null on a worker rank of an MPI job.
absl::StatusOr<nlohmann::json> RunTraining(const TrainRequest& request);

}  // namespace fedrec
