// Federated training: `fedrec train` with federation.mode = "federated"
// (docs/ARCHITECTURE.md, "Federated runtime").
//
// Ranks: rank 0 is the coordinator (coordinator/round_coordinator.h), ranks
// 1..W are workers (worker/worker_loop.h). comm/launch.h starts them: as
// threads of this process (federation.workers + 1 ranks), or one per process
// under mpirun (W = world size - 1). Both run the same code and speak the
// round protocol of worker/round_channel.h. Everything random is keyed by
// (seed, purpose, round, client, step), every sum is an integer sum: the
// final model is bitwise the same for any W and backend (pinned by tests).
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "comm/collective.h"
#include "coordinator/central_trainer.h"
#include "coordinator/federation_setup.h"
#include "core/config.h"
#include "core/status.h"
#include "worker/worker.h"

namespace fedrec {

// Trains, writes the run directory (on rank 0), and returns summary.json's
// content on rank 0 (null on other ranks of an MPI job).
absl::StatusOr<nlohmann::json> RunFederatedTraining(const Config& config,
                                                    const TrainRunOptions& options);

// One rank of a federated run over `comm` (rank 0: the coordinator; rank r:
// worker r - 1 of `hosted`, indexed by worker). RunFederatedTraining calls it
// on every rank; tests call it to run a job over a Collective of their own.
// Returns summary.json's content on rank 0, null elsewhere.
absl::StatusOr<nlohmann::json> RunFederatedRank(Collective& comm, const FederationSetup& setup,
                                                const std::vector<Worker*>& hosted,
                                                const TrainRunOptions& run);

}  // namespace fedrec
