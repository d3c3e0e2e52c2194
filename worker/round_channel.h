// The round protocol's transport: typed messages (proto/round.proto) between
// the coordinator (rank 0) and the workers (ranks 1..W) over a Collective.
//
// One exchange:
//   1. rank 0 broadcasts a framed RoundCommand (SendCommand);
//   2. every rank decodes it and all ranks agree on the outcome through one
//      Allgather of their decode status: a malformed, truncated or
//      unexpected command ends the exchange with the same error on every
//      rank ("rank r: ..."), never a throw and never a hang;
//   3. the command's own collectives run (the round's sum for `train`);
//   4. every worker sends one WorkerReply, gathered on rank 0
//      (GatherReplies), which refuses a reply that does not decode, comes
//      from the wrong rank, answers another command, or carries an error.
// A Stop command ends the exchange after step 2 and gets no reply.
//
// Framing: [4-byte kind tag][uint64 payload length, little-endian][payload],
// so any truncation or extension of a message is refused by its length
// before protobuf parses it (a protobuf prefix can itself parse).
//
// Stateless functions; thread-safe across distinct Collectives.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "comm/collective.h"
#include "core/status.h"
#include "proto/round.pb.h"

namespace fedrec {

// Codec (exposed for tests).
std::string EncodeCommand(const proto::RoundCommand& command);
std::string EncodeReply(const proto::WorkerReply& reply);
// InvalidArgument for a frame of another kind, a wrong length, an
// unparsable payload or a command with no command set.
absl::StatusOr<proto::RoundCommand> DecodeCommand(std::string_view bytes);
absl::StatusOr<proto::WorkerReply> DecodeReply(std::string_view bytes);

proto::StatusMessage ToStatusMessage(const absl::Status& status);
absl::Status FromStatusMessage(const proto::StatusMessage& message);

// Rank 0: steps 1-2 with an encoded command. Tests pass raw bytes to
// SendCommandBytes to inject a malformed command.
absl::Status SendCommand(Collective& comm, const proto::RoundCommand& command);
absl::Status SendCommandBytes(Collective& comm, std::string bytes);

// Ranks 1..W: steps 1-2; the command, or the error every rank agreed on
// (marked ReportedByAnotherRank: rank 0 reports it).
absl::StatusOr<proto::RoundCommand> ReceiveCommand(Collective& comm);

// Ranks 1..W: step 4 (the reply's rank is set here).
absl::Status SendReply(Collective& comm, proto::WorkerReply reply);

// Rank 0: step 4. The workers' replies in rank order (index 0 is rank 1),
// each checked to answer with `expected` (WorkerReply::kTrain, ...; or
// REPLY_NOT_SET for commands that only acknowledge). The first worker error
// is returned as that worker's Status, prefixed "worker rank r: ".
absl::StatusOr<std::vector<proto::WorkerReply>> GatherReplies(
    Collective& comm, proto::WorkerReply::ReplyCase expected);

}  // namespace fedrec
