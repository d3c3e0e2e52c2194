// The worker's side of the round protocol (worker/round_channel.h): serves
// the coordinator's commands until Stop.
//
// Per command: train (the round's clients, then the round's sum and a
// TrainReply), eval (an EvalReply of fixed-point metric sums), snapshot_best,
// write_shard (this worker's local parameters into its own shard beside the
// checkpoint), restore (read them back), local_digest, stop. A failure inside
// a command (a client that could not train, a shard that could not be
// written) is sent to the coordinator in the reply, which ends the run on
// every rank; a failure of the transport itself ends this loop at once.
#pragma once

#include <cstdint>

#include "comm/collective.h"
#include "core/status.h"
#include "worker/round_rules.h"
#include "worker/worker.h"

namespace fedrec {

struct WorkerSeat {
  uint32_t index = 0;        // 0-based worker index (= rank - 1)
  uint32_t num_workers = 1;  // W
};

// Returns OK after a Stop whose reason is OK, the Stop's reason otherwise,
// or the error the ranks agreed on when a command could not be decoded
// (both marked ReportedByAnotherRank: the coordinator reports them).
absl::Status ServeRounds(Collective& comm, Worker& worker, const RoundRules& rules,
                         WorkerSeat seat);

}  // namespace fedrec
