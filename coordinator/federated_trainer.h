// Federated training: `fedrec train` with federation.mode = "federated"
// (DESIGN.md, "One round"; docs/ARCHITECTURE.md, "Federated runtime").
//
// Ranks: rank 0 is the coordinator, ranks 1..W are workers. A local run
// (no mpirun) creates a LocalCollectiveGroup of federation.workers + 1 ranks
// and drives each rank from its own thread; under mpirun every process is one
// rank of an MPI collective (W = world size - 1). Both run the same code.
//
// The coordinator drives the workers with commands (a broadcast of a small
// header plus, when they changed, the global parameters):
//   train  workers train their sampled clients, sum the encodings, the
//          ranks allreduce the sums, workers gather their stats to rank 0,
//          which decodes, averages and steps the server optimiser;
//   eval   workers evaluate their users; the fixed-point metric sums are
//          allreduced (exact, so results do not depend on W);
//   local  workers gather their users' local parameters (MF user
//          embeddings) to rank 0 for a checkpoint;
//   best   workers keep a copy of their local parameters as the best;
//   restore, stop.
// Everything random is keyed by (seed, purpose, round, client, step), every
// sum is an integer sum: the final model is bitwise the same for any W and
// backend (pinned by tests).
#pragma once

#include <nlohmann/json.hpp>

#include "coordinator/central_trainer.h"
#include "core/config.h"
#include "core/status.h"

namespace fedrec {

// Trains, writes the run directory (on rank 0), and returns summary.json's
// content on rank 0 (null on other ranks of an MPI job).
absl::StatusOr<nlohmann::json> RunFederatedTraining(const Config& config,
                                                    const TrainRunOptions& options);

}  // namespace fedrec
