#include "worker/worker_loop.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/sha256.h"
#include "core/timing.h"
#include "proto/local_shards.h"
#include "worker/round_channel.h"
#include "worker/round_sum.h"

namespace fedrec {
namespace {

// Test seam for federation.round_timeout_s (tests/apps/cli_stall_test.cc):
// with FEDREC_TEST_STALL=<rank>:<round>:<seconds> in the environment, that
// worker rank sleeps before it trains that round, as a stalled rank would.
// Read once; otherwise a call is one comparison.
void StallIfAskedByATest(int rank, uint64_t round) {
  struct Stall {
    int rank = -1;
    unsigned long long round = 0;
    double seconds = 0;
  };
  static const Stall stall = [] {
    Stall s;
    const char* spec = std::getenv("FEDREC_TEST_STALL");
    if (spec == nullptr || std::sscanf(spec, "%d:%llu:%lf", &s.rank, &s.round, &s.seconds) != 3) {
      s.rank = -1;
    }
    return s;
  }();
  if (stall.rank == rank && stall.round == round && stall.seconds > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(stall.seconds));
  }
}

absl::Status ApplyGlobalParams(const proto::RoundCommand& command, Worker& worker) {
  if (!command.has_global_params()) return absl::OkStatus();
  std::span<float> dst = worker.global().Flat();
  if (command.global_params().size() != dst.size_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("round protocol: global parameters of ",
                                                   command.global_params().size(),
                                                   " bytes, the model has ", dst.size_bytes()));
  }
  std::memcpy(dst.data(), command.global_params().data(), dst.size_bytes());
  return absl::OkStatus();
}

proto::TrainReply ToReply(const WorkerRoundStats& s) {
  proto::TrainReply r;
  r.set_sampled(s.sampled);
  r.set_dropped(s.dropped);
  r.set_uploaded(s.uploaded);
  r.set_clipped(s.clipped);
  r.set_loss_fixed(s.loss_fixed);
  r.set_nonfinite_loss(s.nonfinite_loss);
  r.set_norm_fixed(s.norm_fixed);
  r.set_examples(s.examples);
  r.set_capped_examples(s.capped_examples);
  r.set_seconds_train(s.seconds_train);
  r.set_seconds_encode(s.seconds_encode);
  r.set_seconds_allreduce(s.seconds_allreduce);
  return r;
}

// Trains the round's clients and takes part in the round's sum on every
// path (a worker that cannot train joins with nothing to add), so that no
// rank is left waiting; the failure travels in the reply.
absl::Status Train(Collective& comm, Worker& worker, const RoundRules& rules, WorkerSeat seat,
                   const proto::TrainCommand& cmd, absl::Status prepared) {
  const size_t length = rules.EncodedLength();
  if (prepared.ok() &&
      (cmd.encoded_words() != length || cmd.bits() != static_cast<uint32_t>(rules.bits()))) {
    prepared = absl::InternalError(
        absl::StrCat("round protocol: the coordinator encodes ", cmd.encoded_words(),
                     " words mod 2^", cmd.bits(), ", this worker derived ", length, " mod 2^",
                     rules.bits(), " (ranks run different configurations or builds)"));
  }
  absl::StatusOr<FixedPointCodec> codec = rules.CodecForClip(cmd.clip_norm());
  if (prepared.ok()) prepared = codec.status();
  WorkerRoundStats stats;
  std::vector<uint64_t> acc;
  std::vector<Worker::ClientUpload> uploads;
  std::vector<RoundParticipant> parts;
  if (prepared.ok()) {
    const RoundEncoding encoding = rules.EncodingFor(cmd.round(), *codec, cmd.clip_norm());
    acc.assign(length, 0);
    const bool per_client = rules.secure() && rules.secure_scope() == "client";
    stats = worker.TrainRound(cmd.round(), encoding, acc, per_client ? &uploads : nullptr);
    if (per_client) {
      parts.reserve(uploads.size());
      for (const Worker::ClientUpload& u : uploads) {
        parts.push_back({.id = u.user,
                         .words = u.dropped ? nullptr : &u.words,
                         .drops_before_upload = u.dropped});
      }
    } else {
      parts.push_back({.id = seat.index, .words = &acc});
    }
  }
  Stopwatch sw;
  FEDREC_RETURN_IF_ERROR(SumRound(comm, rules, cmd.round(), parts, length).status());
  stats.seconds_allreduce = sw.ElapsedSeconds();
  if (stats.status.ok()) stats.status = prepared;
  proto::WorkerReply reply;
  *reply.mutable_status() = ToStatusMessage(stats.status);
  *reply.mutable_train() = ToReply(stats);
  return SendReply(comm, std::move(reply));
}

proto::WorkerReply Evaluate(Worker& worker, const proto::EvalCommand& cmd) {
  EvalOptions o;
  o.protocol =
      cmd.protocol() == proto::EVAL_PROTOCOL_FULL ? EvalProtocol::kFull : EvalProtocol::kSampled;
  o.part = cmd.part() == proto::SPLIT_PART_TEST ? SplitPart::kTest : SplitPart::kValidation;
  o.k = cmd.k();
  o.negatives = cmd.negatives();
  o.seed = cmd.seed();
  if (cmd.cold_only()) o.target_items = worker.cold_items();
  proto::WorkerReply reply;
  absl::StatusOr<EvalResult> r = worker.Evaluate(o, cmd.best_local());
  *reply.mutable_status() = ToStatusMessage(r.status());
  proto::EvalReply* e = reply.mutable_eval();
  if (r.ok()) {
    e->set_hr(r->sums.hr);
    e->set_ndcg(r->sums.ndcg);
    e->set_mrr(r->sums.mrr);
    e->set_users(r->sums.users);
    e->set_skipped_users(r->skipped_users);
  }
  return reply;
}

proto::WorkerReply WriteShard(const Worker& worker, WorkerSeat seat,
                              const proto::WriteShardCommand& cmd) {
  proto::WorkerReply reply;
  reply.mutable_shard();
  absl::StatusOr<proto::LocalShardRef> ref = absl::FailedPreconditionError(
      "round protocol: write_shard for a model without local parameters");
  if (const ParameterStore* store = worker.local_store(cmd.best())) {
    const std::filesystem::path ckpt(cmd.checkpoint_path());
    const std::string directory =
        ckpt.parent_path().empty() ? std::string(".") : ckpt.parent_path().string();
    // Under mpirun this rank may be on a machine of its own.
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    ref = WriteLocalShard(
        directory,
        LocalShardFileName(ckpt.filename().string(), cmd.round(), seat.index, seat.num_workers),
        cmd.round(), seat.index, seat.num_workers, worker.local_users(), *store);
  }
  *reply.mutable_status() = ToStatusMessage(ref.status());
  if (ref.ok()) *reply.mutable_shard()->mutable_shard() = *std::move(ref);
  return reply;
}

absl::StatusOr<ParameterStore> ReadShards(
    const Worker& worker, WorkerSeat seat, const std::string& path, uint64_t round,
    const google::protobuf::RepeatedPtrField<proto::LocalShardRef>& shards) {
  Checkpoint manifest;
  manifest.set_round(round);
  *manifest.mutable_local_shards() = shards;
  ParameterStore store = *worker.local_store(/*best=*/false);
  FEDREC_RETURN_IF_ERROR(ReadLocalRows(path, manifest, worker.local_users(), seat.index, &store));
  return store;
}

absl::Status Restore(Worker& worker, WorkerSeat seat, const proto::RestoreCommand& cmd) {
  if (worker.local_store(false) == nullptr) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(ParameterStore current, ReadShards(worker, seat, cmd.checkpoint_path(),
                                                             cmd.round(), cmd.shards()));
  std::optional<ParameterStore> best;
  if (!cmd.best_checkpoint_path().empty()) {
    FEDREC_ASSIGN_OR_RETURN(best, ReadShards(worker, seat, cmd.best_checkpoint_path(),
                                             cmd.best_round(), cmd.best_shards()));
  }
  worker.RestoreLocal(std::move(current), std::move(best));
  return absl::OkStatus();
}

proto::WorkerReply LocalDigest(const Worker& worker) {
  proto::WorkerReply reply;
  uint64_t lanes[4] = {0, 0, 0, 0};
  if (const ParameterStore* store = worker.local_store(false)) {
    std::string bytes;
    for (uint32_t u : worker.local_users()) {
      bytes.assign(reinterpret_cast<const char*>(&u), sizeof(u));
      for (size_t k = 0; k < store->num_tensors(); ++k) {
        std::span<const float> row = store->ViewAt(k).Row(u);
        bytes.append(reinterpret_cast<const char*>(row.data()), row.size_bytes());
      }
      const Sha256Digest d = Sha256Of(bytes);
      for (int lane = 0; lane < 4; ++lane) {
        uint64_t v = 0;
        std::memcpy(&v, d.data() + 8 * lane, 8);
        lanes[lane] += v;
      }
    }
  }
  for (uint64_t v : lanes) reply.mutable_local_digest()->add_lanes(v);
  return reply;
}

}  // namespace

absl::Status ServeRounds(Collective& comm, Worker& worker, const RoundRules& rules,
                         WorkerSeat seat) {
  for (;;) {
    FEDREC_ASSIGN_OR_RETURN(proto::RoundCommand cmd, ReceiveCommand(comm));
    const absl::Status params = ApplyGlobalParams(cmd, worker);
    proto::WorkerReply reply;
    switch (cmd.command_case()) {
      case proto::RoundCommand::kStop:
        return ReportedByAnotherRank(FromStatusMessage(cmd.stop().reason()));
      case proto::RoundCommand::kTrain:
        StallIfAskedByATest(comm.rank(), cmd.train().round());
        FEDREC_RETURN_IF_ERROR(Train(comm, worker, rules, seat, cmd.train(), params));
        continue;
      case proto::RoundCommand::kEval:
        reply = Evaluate(worker, cmd.eval());
        break;
      case proto::RoundCommand::kSnapshotBest:
        worker.SnapshotBestLocal();
        break;
      case proto::RoundCommand::kWriteShard:
        reply = WriteShard(worker, seat, cmd.write_shard());
        break;
      case proto::RoundCommand::kRestore:
        *reply.mutable_status() = ToStatusMessage(Restore(worker, seat, cmd.restore()));
        break;
      case proto::RoundCommand::kLocalDigest:
        reply = LocalDigest(worker);
        break;
      case proto::RoundCommand::COMMAND_NOT_SET:
        // DecodeCommand refuses it; a reply keeps the exchange whole anyway.
        *reply.mutable_status() =
            ToStatusMessage(absl::InternalError("round protocol: a command without a command"));
        break;
    }
    if (!params.ok() && reply.status().code() == 0)
      *reply.mutable_status() = ToStatusMessage(params);
    FEDREC_RETURN_IF_ERROR(SendReply(comm, std::move(reply)));
  }
}

}  // namespace fedrec
