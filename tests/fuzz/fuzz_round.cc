// Fuzz target: the round protocol's messages (proto/round.proto) through
// their codec (worker/round_channel.h): DecodeCommand / DecodeReply of
// framed bytes, a worker receiving a command (ReceiveCommand) and rank 0
// gathering a reply (GatherReplies), over a scripted two-rank Collective.
//
// Input: byte 0 = mode: bit 0 reply (else command); bit 1: the target frames
// the rest itself (tag + correct length) so the fuzzer reaches protobuf and
// the checks behind it; bits 2-4: the reply kind rank 0 expects.
//
// Promises checked: an accepted command has a command set; encode(decode(b))
// decodes to the same message and any truncation or extension of a frame is
// refused; ReceiveCommand accepts exactly what DecodeCommand accepts;
// GatherReplies returns one reply from rank 1 of the expected kind with an
// OK status, or an error naming the worker.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_common.h"
#include "worker/round_channel.h"

namespace fedrec {
namespace {

// Rank `rank` of a two-rank job whose peer's bytes are scripted: Broadcast
// from rank 0 delivers `peer_bytes` (to rank 1), Gather on rank 0 returns
// them as rank 1's message, Allgather says the peer agrees.
class ScriptedCollective final : public Collective {
 public:
  ScriptedCollective(int rank, std::string peer_bytes)
      : rank_(rank), peer_bytes_(std::move(peer_bytes)) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  absl::Status AllreduceSum(std::span<uint32_t>) override { return absl::OkStatus(); }
  absl::Status AllreduceSum(std::span<uint64_t>) override { return absl::OkStatus(); }
  absl::Status Broadcast(std::string* bytes, int root) override {
    if (rank_ != root) *bytes = peer_bytes_;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> Gather(const std::string& bytes, int root) override {
    if (rank_ != root) return std::vector<std::string>{};
    return std::vector<std::string>{bytes, peer_bytes_};
  }
  absl::StatusOr<std::vector<std::string>> Allgather(const std::string& bytes) override {
    std::string ok;
    ToStatusMessage(absl::OkStatus()).SerializeToString(&ok);
    return rank_ == 0 ? std::vector<std::string>{bytes, ok} : std::vector<std::string>{ok, bytes};
  }
  absl::Status Barrier() override { return absl::OkStatus(); }
  std::string backend_name() const override { return "scripted"; }

 private:
  int rank_;
  std::string peer_bytes_;
};

std::string Frame(const char* tag, std::string_view payload) {
  std::string out(tag, 4);
  const uint64_t n = payload.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  out.append(payload);
  return out;
}

template <typename Message>
std::string Deterministic(const Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

template <typename Message, typename Decode>
void CheckRoundTrip(const Message& m, const std::string& encoded, Decode decode) {
  absl::StatusOr<Message> back = decode(encoded);
  FUZZ_CHECK(back.ok(), "an encoded message decodes");
  FUZZ_CHECK(Deterministic(*back) == Deterministic(m), "decode(encode(m)) == m");
  FUZZ_CHECK(!decode(encoded.substr(0, encoded.size() - 1)).ok(), "a truncated frame is refused");
  FUZZ_CHECK(!decode(encoded + '\0').ok(), "an extended frame is refused");
}

void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  proto::RoundCommand train;
  train.mutable_train()->set_round(3);
  train.mutable_train()->set_clip_norm(1.5);
  train.mutable_train()->set_encoded_words(1000);
  train.mutable_train()->set_bits(32);
  train.set_has_global_params(true);
  train.set_global_params(std::string(16, '\x3f'));
  emit("train", std::string(1, '\x00') + EncodeCommand(train));
  proto::RoundCommand restore;
  restore.mutable_restore()->set_checkpoint_path("run/checkpoints/ckpt-10.ckpt");
  restore.mutable_restore()->set_round(10);
  restore.mutable_restore()->add_shards()->set_file_name("ckpt-10.r10.w1-of-2.local");
  emit("restore", std::string(1, '\x00') + EncodeCommand(restore));
  proto::RoundCommand stop;
  stop.mutable_stop()->mutable_reason()->set_code(3);
  stop.mutable_stop()->mutable_reason()->set_message("bye");
  emit("stop_payload", std::string(1, '\x02') + stop.SerializeAsString());
  proto::WorkerReply reply;
  reply.set_rank(1);
  reply.mutable_train()->set_sampled(5);
  reply.mutable_train()->set_uploaded(4);
  reply.mutable_train()->set_seconds_train(0.5);
  emit("reply_train", std::string(1, '\x05') + EncodeReply(reply));
  proto::WorkerReply eval;
  eval.set_rank(1);
  eval.mutable_eval()->set_hr(1 << 20);
  eval.mutable_eval()->set_users(9);
  emit("reply_eval", std::string(1, '\x09') + EncodeReply(eval));
  proto::WorkerReply failed;
  failed.set_rank(1);
  failed.mutable_status()->set_code(9);
  failed.mutable_status()->set_message("disk full");
  emit("reply_error_payload", std::string(1, '\x07') + failed.SerializeAsString());
}

}  // namespace
}  // namespace fedrec

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Protobuf logs every string field with invalid UTF-8 it parses: noise
  // that slows the fuzzer down, not a finding.
  google::protobuf::SetLogHandler(nullptr);
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const bool is_reply = (mode & 1) != 0;
  const std::string_view rest = fuzz::AsView(data + 1, size - 1);
  const std::string bytes =
      (mode & 2) ? Frame(is_reply ? "FRR1" : "FRC1", rest) : std::string(rest);
  if (!is_reply) {
    absl::StatusOr<proto::RoundCommand> command = DecodeCommand(bytes);
    ScriptedCollective worker(1, bytes);
    absl::StatusOr<proto::RoundCommand> received = ReceiveCommand(worker);
    FUZZ_CHECK(received.ok() == command.ok(), "a worker accepts what decodes");
    if (!command.ok()) return 0;
    FUZZ_CHECK(command->command_case() != proto::RoundCommand::COMMAND_NOT_SET,
               "an accepted command says what to do");
    CheckRoundTrip(*command, EncodeCommand(*command),
                   [](const std::string& b) { return DecodeCommand(b); });
    return 0;
  }
  absl::StatusOr<proto::WorkerReply> reply = DecodeReply(bytes);
  if (reply.ok()) {
    CheckRoundTrip(*reply, EncodeReply(*reply),
                   [](const std::string& b) { return DecodeReply(b); });
    (void)FromStatusMessage(reply->status());
  }
  constexpr proto::WorkerReply::ReplyCase kCases[5] = {
      proto::WorkerReply::REPLY_NOT_SET, proto::WorkerReply::kTrain, proto::WorkerReply::kEval,
      proto::WorkerReply::kShard, proto::WorkerReply::kLocalDigest};
  const proto::WorkerReply::ReplyCase expected = kCases[((mode >> 2) & 7) % 5];
  ScriptedCollective coordinator(0, bytes);
  absl::StatusOr<std::vector<proto::WorkerReply>> gathered = GatherReplies(coordinator, expected);
  if (gathered.ok()) {
    FUZZ_CHECK(reply.ok(), "rank 0 accepts only a reply that decodes");
    FUZZ_CHECK(gathered->size() == 1, "one reply per worker");
    const proto::WorkerReply& r = gathered->front();
    FUZZ_CHECK(r.rank() == 1 && r.reply_case() == expected, "the reply is rank 1's, of its kind");
    FUZZ_CHECK(FromStatusMessage(r.status()).ok(), "an accepted reply reports success");
  } else {
    FUZZ_CHECK(gathered.status().message().find("worker rank 1") != std::string_view::npos,
               "a refused reply names the worker");
  }
  return 0;
}
