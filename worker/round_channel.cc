#include "worker/round_channel.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fedrec {
namespace {

constexpr char kCommandTag[4] = {'F', 'R', 'C', '1'};
constexpr char kReplyTag[4] = {'F', 'R', 'R', '1'};
constexpr size_t kFrameHeader = 4 + 8;

std::string Frame(const char (&tag)[4], const google::protobuf::MessageLite& message) {
  std::string payload;
  message.SerializeToString(&payload);
  std::string out(kFrameHeader, '\0');
  std::memcpy(out.data(), tag, 4);
  const uint64_t n = payload.size();
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += payload;
  return out;
}

absl::Status Unframe(const char (&tag)[4], std::string_view bytes, const char* what,
                     google::protobuf::MessageLite* message) {
  if (bytes.size() < kFrameHeader || std::memcmp(bytes.data(), tag, 4) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("round protocol: not a ", what, " (", bytes.size(), " bytes)"));
  }
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<uint8_t>(bytes[4 + i])} << (8 * i);
  if (n != bytes.size() - kFrameHeader) {
    return absl::InvalidArgumentError(absl::StrCat("round protocol: ", what, " of ",
                                                   bytes.size() - kFrameHeader,
                                                   " payload bytes announces ", n));
  }
  if (!message->ParseFromArray(bytes.data() + kFrameHeader, static_cast<int>(n))) {
    return absl::InvalidArgumentError(absl::StrCat("round protocol: unparsable ", what));
  }
  return absl::OkStatus();
}

// Step 2: every rank contributes its decode status; all return the first
// failure (lowest rank), or OK.
absl::Status Agree(Collective& comm, const absl::Status& mine) {
  std::string bytes;
  ToStatusMessage(mine).SerializeToString(&bytes);
  FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> all, comm.Allgather(bytes));
  for (size_t r = 0; r < all.size(); ++r) {
    proto::StatusMessage m;
    if (!m.ParseFromString(all[r])) {
      return absl::InternalError(absl::StrCat("round protocol: rank ", r, ": unreadable status"));
    }
    absl::Status st = FromStatusMessage(m);
    if (!st.ok()) return WithContext(st, absl::StrCat("round protocol: rank ", r));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeCommand(const proto::RoundCommand& command) {
  return Frame(kCommandTag, command);
}

std::string EncodeReply(const proto::WorkerReply& reply) { return Frame(kReplyTag, reply); }

absl::StatusOr<proto::RoundCommand> DecodeCommand(std::string_view bytes) {
  proto::RoundCommand c;
  FEDREC_RETURN_IF_ERROR(Unframe(kCommandTag, bytes, "round command", &c));
  if (c.command_case() == proto::RoundCommand::COMMAND_NOT_SET) {
    return absl::InvalidArgumentError("round protocol: a round command without a command");
  }
  return c;
}

absl::StatusOr<proto::WorkerReply> DecodeReply(std::string_view bytes) {
  proto::WorkerReply r;
  FEDREC_RETURN_IF_ERROR(Unframe(kReplyTag, bytes, "worker reply", &r));
  return r;
}

proto::StatusMessage ToStatusMessage(const absl::Status& status) {
  proto::StatusMessage m;
  m.set_code(static_cast<int32_t>(status.code()));
  m.set_message(std::string(status.message()));
  return m;
}

absl::Status FromStatusMessage(const proto::StatusMessage& message) {
  const int code = message.code();
  if (code == 0) return absl::OkStatus();
  if (code < 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::UnknownError(message.message());
  }
  return absl::Status(static_cast<absl::StatusCode>(code), message.message());
}

absl::Status SendCommand(Collective& comm, const proto::RoundCommand& command) {
  return SendCommandBytes(comm, EncodeCommand(command));
}

absl::Status SendCommandBytes(Collective& comm, std::string bytes) {
  FEDREC_RETURN_IF_ERROR(comm.Broadcast(&bytes, 0));
  return Agree(comm, absl::OkStatus());
}

absl::StatusOr<proto::RoundCommand> ReceiveCommand(Collective& comm) {
  std::string bytes;
  FEDREC_RETURN_IF_ERROR(comm.Broadcast(&bytes, 0));
  absl::StatusOr<proto::RoundCommand> command = DecodeCommand(bytes);
  // Rank 0 ends with the same error and reports it.
  absl::Status agreed = Agree(comm, command.status());
  if (!agreed.ok()) return ReportedByAnotherRank(std::move(agreed));
  return command;
}

absl::Status SendReply(Collective& comm, proto::WorkerReply reply) {
  reply.set_rank(static_cast<uint32_t>(comm.rank()));
  return comm.Gather(EncodeReply(reply), 0).status();
}

absl::StatusOr<std::vector<proto::WorkerReply>> GatherReplies(
    Collective& comm, proto::WorkerReply::ReplyCase expected) {
  FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> all, comm.Gather(std::string(), 0));
  std::vector<proto::WorkerReply> replies;
  replies.reserve(all.size() > 0 ? all.size() - 1 : 0);
  absl::Status first_error;
  for (size_t r = 1; r < all.size(); ++r) {
    absl::StatusOr<proto::WorkerReply> reply = DecodeReply(all[r]);
    absl::Status st = reply.status();
    if (st.ok()) st = FromStatusMessage(reply->status());
    if (st.ok() && reply->rank() != r) {
      st = absl::InternalError(absl::StrCat("round protocol: reply claims rank ", reply->rank()));
    }
    if (st.ok() && reply->reply_case() != expected) {
      st = absl::InternalError("round protocol: a reply to another command");
    }
    if (!st.ok()) {
      if (first_error.ok()) first_error = WithContext(st, absl::StrCat("worker rank ", r));
      continue;
    }
    replies.push_back(*std::move(reply));
  }
  if (!first_error.ok()) return first_error;
  return replies;
}

}  // namespace fedrec
