// The coordinator of a federated run: rank 0's side of the round protocol
// (worker/round_channel.h), from the run directory to summary.json.
//
// Owns the global model, the server optimiser, the privacy ledger and noise,
// adaptive clipping's state and the best-so-far record; never holds a local
// (per-user) parameter: those stay with the workers and their shards. One
// round is a sequence of named steps (RunRound): broadcast the train command,
// aggregate (the round's sum and the workers' replies), decide the release
// (withheld when secure aggregation aborted or distributed DP lacks noise
// shares), release (decode, central noise, denominator), server step, ledger
// and clip update, then the metrics line. Not thread-safe: rank 0's thread.
#pragma once

#include <nlohmann/json.hpp>

#include "comm/collective.h"
#include "coordinator/central_trainer.h"
#include "coordinator/federation_setup.h"
#include "core/status.h"

namespace fedrec {

// Rank 0's whole life: run directory, resume, rounds, final evaluation and
// summary; always releases the workers (a Stop command carrying the run's
// error, if any) unless the protocol itself failed, in which case every rank
// has already stopped. Returns summary.json's content.
absl::StatusOr<nlohmann::json> CoordinatorMain(Collective& comm, const FederationSetup& setup,
                                               const TrainRunOptions& run);

}  // namespace fedrec
