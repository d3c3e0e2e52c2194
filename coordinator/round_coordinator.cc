#include "coordinator/round_coordinator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aggregation/server_optimizer.h"
#include "coordinator/ledger_journal.h"
#include "coordinator/resume.h"
#include "coordinator/round_deadline.h"
#include "coordinator/round_health.h"
#include "coordinator/run_common.h"
#include "coordinator/run_dir.h"
#include "coordinator/run_summary.h"
#include "core/atomic_file.h"
#include "core/crash_point.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "core/timing.h"
#include "models/cuda/compute_backend.h"
#include "models/evaluation.h"
#include "models/factory.h"
#include "privacy/adaptive_clip.h"
#include "privacy/gaussian.h"
#include "privacy/ledger.h"
#include "spdlog/spdlog.h"
#include "worker/round_channel.h"
#include "worker/round_sum.h"

namespace fedrec {
namespace {

WorkerRoundStats FromReply(const proto::TrainReply& r) {
  WorkerRoundStats s;
  s.sampled = r.sampled();
  s.dropped = r.dropped();
  s.uploaded = r.uploaded();
  s.clipped = r.clipped();
  s.loss_fixed = r.loss_fixed();
  s.nonfinite_loss = r.nonfinite_loss();
  s.norm_fixed = r.norm_fixed();
  s.examples = r.examples();
  s.capped_examples = r.capped_examples();
  s.seconds_train = r.seconds_train();
  s.seconds_encode = r.seconds_encode();
  s.seconds_allreduce = r.seconds_allreduce();
  return s;
}

class Coordinator {
 public:
  Coordinator(Collective& comm, const FederationSetup& s, RunDirectory dir,
              const TrainRunOptions& run)
      : comm_(comm), s_(s), c_(s.config), dir_(std::move(dir)), run_(run) {}

  absl::Status Setup() {
    FEDREC_ASSIGN_OR_RETURN(model_,
                            CreateModelOnBackend(s_.spec, s_.Compute(), s_.data.item_features));
    // The coordinator holds the global parameters only; local ones live with
    // the workers.
    model_->global_params() = s_.initial->global_params();
    const FederationConfig& f = c_.federation;
    FEDREC_ASSIGN_OR_RETURN(optimizer_, ServerOptimizer::Create({.kind = f.server_optimizer,
                                                                 .lr = f.server_lr,
                                                                 .momentum = f.server_momentum,
                                                                 .beta1 = f.server_beta1,
                                                                 .beta2 = f.server_beta2,
                                                                 .tau = f.server_tau},
                                                                model_->global_params().size()));
    if (s_.privacy.dp) {
      FEDREC_ASSIGN_OR_RETURN(ledger_, privacy::PrivacyLedger::Create(*s_.privacy.dp));
      FEDREC_ASSIGN_OR_RETURN(noise_, privacy::GaussianNoise::Create(c_.privacy.noise_seed));
      FEDREC_ASSIGN_OR_RETURN(journal_, LedgerJournal::Open(dir_.path() + "/privacy.journal"));
    }
    if (s_.privacy.adaptive_clip) {
      FEDREC_ASSIGN_OR_RETURN(clip_rule_, privacy::AdaptiveClip::Create(*s_.privacy.adaptive_clip));
    }
    return absl::OkStatus();
  }

  absl::Status Resume(const std::string& path, const Checkpoint& ckpt) {
    FEDREC_RETURN_IF_ERROR(RestoreRunCheckpoint(ckpt, dir_.BestCheckpointPath(),
                                                /*local_in_checkpoint=*/false, model_.get(),
                                                &best_));
    FEDREC_RETURN_IF_ERROR(
        WithContext(optimizer_->LoadState(ckpt.server_optimizer()), "checkpoint"));
    if (ledger_) {
      FEDREC_ASSIGN_OR_RETURN(ledger_,
                              privacy::PrivacyLedger::FromProto(*s_.privacy.dp, ckpt.ledger()));
      FEDREC_RETURN_IF_ERROR(
          AccountUncheckpointedReleases(*journal_, *ledger_, noise_->pinned(), ckpt.round()));
    }
    if (clip_rule_ && !ckpt.adaptive_clip_json().empty()) {
      const auto state = nlohmann::json::parse(ckpt.adaptive_clip_json(), nullptr, false);
      if (state.is_discarded()) {
        return absl::InvalidArgumentError("checkpoint: adaptive_clip_json: not JSON");
      }
      FEDREC_ASSIGN_OR_RETURN(clip_rule_, privacy::AdaptiveClip::FromJson(state));
    }
    start_round_ = static_cast<uint32_t>(ckpt.round());
    FEDREC_ASSIGN_OR_RETURN(
        const proto::RoundCommand cmd,
        WorkersRestoreCommand(path, ckpt, dir_.BestCheckpointPath(), best_.round,
                              model_->global_params(), model_->local_params() != nullptr));
    FEDREC_RETURN_IF_ERROR(Exchange(cmd, proto::WorkerReply::REPLY_NOT_SET).status());
    return dir_.TruncateMetricsAfter(start_round_);
  }

  // A resume without a usable checkpoint starts from round 0; releases made
  // before the kill are still paid for.
  absl::Status StartOver() {
    if (ledger_) {
      FEDREC_RETURN_IF_ERROR(
          AccountUncheckpointedReleases(*journal_, *ledger_, noise_->pinned(), 0));
    }
    return dir_.TruncateMetricsAfter(0);
  }

  absl::StatusOr<nlohmann::json> Run() {
    Stopwatch wall;
    const uint32_t rounds = static_cast<uint32_t>(c_.federation.rounds);
    LogRunStart(s_);
    ProgressReporter progress("rounds", rounds - std::min(rounds, start_round_),
                              ProgressOptions{.quiet = run_.quiet});
    uint64_t max_released = std::numeric_limits<uint64_t>::max();
    if (ledger_) {
      FEDREC_ASSIGN_OR_RETURN(max_released, ledger_->MaxRounds(rounds));
    }
    last_round_ = start_round_;
    last_checkpoint_round_ = start_round_;
    const uint32_t every = static_cast<uint32_t>(c_.eval.every);
    const uint64_t patience = static_cast<uint64_t>(c_.train.patience);
    for (uint32_t round = start_round_ + 1; round <= rounds; ++round) {
      round_in_progress_ = round;
      // Checked before the round from what the checkpoints hold, so that a
      // run resumed from the round that exhausted the patience stops too.
      if (PatienceExhausted(patience, every, rounds, best_.round, last_round_)) {
        early_stop_round_ = last_round_;
        stop_reason_ = fmt::format(
            "early stop after round {}: {} evaluations without a better validation score than "
            "round {} (train.patience)",
            last_round_, patience, best_.round);
        spdlog::info("{}", stop_reason_);
        break;
      }
      if (StopRequested()) {
        FEDREC_RETURN_IF_ERROR(CheckpointLastRound());
        interrupted_ = true;
        stop_reason_ = fmt::format(
            "interrupted after round {} of {} (signal); --resume continues the run exactly",
            last_round_, rounds);
        spdlog::warn("{}", stop_reason_);
        break;
      }
      if (ledger_ && ledger_->steps() >= max_released) {
        // The budget check: the next release would exceed the target.
        FEDREC_ASSIGN_OR_RETURN(double next, ledger_->EpsilonAfter(ledger_->steps() + 1));
        stop_reason_ = fmt::format(
            "privacy budget: round {} would spend epsilon {:.4f} > privacy.target_epsilon {} "
            "(delta {}, {} accountant)",
            round, next, *c_.privacy.target_epsilon, c_.privacy.delta, c_.privacy.accountant);
        spdlog::warn("stopping before round {}: {}", round, stop_reason_);
        break;
      }
      FEDREC_ASSIGN_OR_RETURN(nlohmann::json line, RunRound(round));
      last_round_ = round;
      // The last round: the configured one, or the last the budget allows.
      const bool last = round == rounds || (ledger_ && ledger_->steps() >= max_released);
      if ((every != 0 && round % every == 0) || last) {
        FEDREC_RETURN_IF_ERROR(EvalRound(round, &line));
        progress.SetNote(
            fmt::format("best valid NDCG@{} {:.4f} (round {})", K(), best_.score, best_.round));
      }
      // The previous round's checkpoint is written between the two lines.
      if (checkpoint_seconds_ > 0) line["seconds"]["checkpoint"] = checkpoint_seconds_;
      checkpoint_seconds_ = 0;
      // The line goes first, so that a checkpoint never holds a round whose
      // line could be lost; a resume drops lines past its checkpoint.
      FEDREC_RETURN_IF_ERROR(dir_.AppendMetrics(line));
      CrashPoint("metrics", round);
      const uint32_t ckpt_every = static_cast<uint32_t>(c_.checkpoint.every);
      // The round that exhausts the patience is the run's last: checkpointed.
      if ((ckpt_every != 0 && round % ckpt_every == 0) || last ||
          PatienceExhausted(patience, every, rounds, best_.round, round)) {
        Stopwatch sw;
        FEDREC_RETURN_IF_ERROR(WriteRoundCheckpoint(round));
        CrashPoint("checkpoint", round);
        checkpoint_seconds_ = sw.ElapsedSeconds();
        totals_.checkpoint += checkpoint_seconds_;
      }
      progress.Advance();
    }
    progress.Finish();
    return Finish(wall.ElapsedSeconds());
  }

 private:
  uint32_t K() const { return static_cast<uint32_t>(c_.eval.k); }

  EvalProtocol Protocol() const {
    return c_.eval.protocol == "full" ? EvalProtocol::kFull : EvalProtocol::kSampled;
  }

  double CurrentClip() const { return clip_rule_ ? clip_rule_->clip() : c_.aggregation.clip_norm; }

  // Attaches the global parameters when the workers do not hold them yet.
  void AttachParamsIfStale(proto::RoundCommand* cmd, const ParameterStore& params) {
    if (!workers_current_) SetGlobalParams(cmd, params);
    workers_current_ = true;
  }

  static void SetGlobalParams(proto::RoundCommand* cmd, const ParameterStore& params) {
    cmd->set_has_global_params(true);
    cmd->set_global_params(reinterpret_cast<const char*>(params.Flat().data()),
                           params.Flat().size_bytes());
  }

  // A command that needs no collective of its own: send, then gather replies.
  absl::StatusOr<std::vector<proto::WorkerReply>> Exchange(const proto::RoundCommand& cmd,
                                                           proto::WorkerReply::ReplyCase expected) {
    FEDREC_RETURN_IF_ERROR(protocol_.Guard(SendCommand(comm_, cmd)));
    return GatherReplies(comm_, expected);
  }

  // ---- one round, step by step ----

  absl::StatusOr<nlohmann::json> RunRound(uint32_t round) {
    PhaseSeconds t;
    Stopwatch round_sw, sw;
    const double clip = CurrentClip();
    FEDREC_ASSIGN_OR_RETURN(const FixedPointCodec codec, s_.rules->CodecForClip(clip));
    FEDREC_RETURN_IF_ERROR(BroadcastTrain(round, clip));
    t.broadcast = sw.ElapsedSeconds();
    sw.Reset();
    RoundOutcome out;
    FEDREC_RETURN_IF_ERROR(Aggregate(round, &out));
    if (out.sum.secure) t.secagg = sw.ElapsedSeconds();
    const WorkerRoundStats& stats = out.stats;
    t.local_train = stats.seconds_train;
    t.encode = stats.seconds_encode;
    t.allreduce = out.fastest_allreduce;
    t.straggler_wait = stats.seconds_allreduce - out.fastest_allreduce;

    FEDREC_RETURN_IF_ERROR(CheckClientsFinite(round, stats, c_, dir_.LatestCheckpoint()));

    sw.Reset();
    out.withheld = ReleaseDecision(round, out);
    if (!out.withheld.empty()) ++(out.sum.aborted ? aborted_rounds_ : withheld_rounds_);
    if (out.withheld.empty() && (ledger_ || (stats.uploaded > 0 && Denominator(stats) > 0))) {
      FEDREC_ASSIGN_OR_RETURN(std::vector<double> update, Release(round, codec, clip, out));
      optimizer_->Step(update, model_->global_params().Flat());
      // Central noise of this std per coordinate was added to the update.
      const double noise_std = ledger_ && !s_.privacy.ddg
                                   ? s_.privacy.update_noise_multiplier * clip / Denominator(stats)
                                   : 0.0;
      FEDREC_RETURN_IF_ERROR(CheckModelFinite(
          round, model_->global_params().Flat(), update,
          {.noise_std = noise_std, .noise_multiplier = s_.privacy.update_noise_multiplier}, c_,
          dir_.LatestCheckpoint()));
      workers_current_ = false;
      FEDREC_RETURN_IF_ERROR(RecordSpend(round, clip, stats, &out));
    }
    t.decode_update = sw.ElapsedSeconds();
    totals_.Add(t);
    uploaded_total_ += stats.uploaded;
    sampled_total_ += stats.sampled;
    return RoundMetricsLine(round, clip, out, t, round_sw.ElapsedSeconds(),
                            clip_rule_ ? &*clip_rule_ : nullptr);
  }

  // Step 1: every worker learns the round, its clip and (if stale) the model.
  absl::Status BroadcastTrain(uint32_t round, double clip) {
    proto::RoundCommand cmd;
    proto::TrainCommand* train = cmd.mutable_train();
    train->set_round(round);
    train->set_clip_norm(clip);
    train->set_encoded_words(s_.rules->EncodedLength());
    train->set_bits(static_cast<uint32_t>(s_.rules->bits()));
    AttachParamsIfStale(&cmd, model_->global_params());
    return protocol_.Guard(SendCommand(comm_, cmd));
  }

  // Step 2: the round's sum (rank 0 hosts no participant) and the workers'
  // replies; a worker's failure ends the run.
  absl::Status Aggregate(uint32_t round, RoundOutcome* out) {
    FEDREC_ASSIGN_OR_RETURN(out->sum,
                            SumRound(comm_, *s_.rules, round, {}, s_.rules->EncodedLength()));
    FEDREC_ASSIGN_OR_RETURN(std::vector<proto::WorkerReply> replies,
                            GatherReplies(comm_, proto::WorkerReply::kTrain));
    out->fastest_allreduce = replies.empty() ? 0 : 1e300;
    for (const proto::WorkerReply& r : replies) {
      const WorkerRoundStats w = FromReply(r.train());
      out->stats.Add(w);
      out->fastest_allreduce = std::min(out->fastest_allreduce, w.seconds_allreduce);
    }
    return absl::OkStatus();
  }

  // Step 3: why the round must release nothing, or empty.
  std::string ReleaseDecision(uint32_t round, const RoundOutcome& out) const {
    std::string withheld;
    if (out.sum.aborted) {
      // Too few survivors: nothing is decoded, nothing released, nothing
      // spent (privacy/ledger.h); the model stays as it was.
      withheld = "secure aggregation aborted: " + out.sum.abort_reason;
      spdlog::warn("round {}: {}", round, withheld);
    } else if (s_.privacy.ddg &&
               out.stats.uploaded < static_cast<uint64_t>(s_.privacy.min_noise_shares)) {
      // Distributed DP: the sum holds fewer noise shares than the accounting
      // assumes, so it is never decoded (probability <= shortfall_probability
      // per round); like an abort it releases and spends nothing.
      withheld = fmt::format("{} uploads < {} noise shares the release needs", out.stats.uploaded,
                             s_.privacy.min_noise_shares);
      spdlog::warn("round {}: not released: {}", round, withheld);
    }
    return withheld;
  }

  // The cohort denominator: uploaded clients, or their summed weights; under
  // DP the expected cohort (a realised count would leak).
  double Denominator(const WorkerRoundStats& stats) const {
    if (ledger_) return s_.privacy.expected_cohort;
    if (c_.aggregation.weighting == "examples") {
      return static_cast<double>(stats.capped_examples) / static_cast<double>(c_.data.max_len);
    }
    return static_cast<double>(stats.uploaded);
  }

  // Step 4: decode the sum (un-rotate under distributed DP), add central DP
  // noise, divide by the denominator. Under DP a round releases even when
  // every client dropped: noise only, and it spends budget.
  absl::StatusOr<std::vector<double>> Release(uint32_t round, const FixedPointCodec& codec,
                                              double clip, const RoundOutcome& out) {
    const std::vector<uint64_t>& sum = out.sum.sum;
    std::vector<double> update;
    if (s_.privacy.ddg) {
      FEDREC_ASSIGN_OR_RETURN(update, s_.privacy.ddg->Decode(sum, DdgRotationSeed(c_.seed, round)));
    } else {
      update.resize(sum.size());
      for (size_t i = 0; i < sum.size(); ++i) update[i] = codec.Decode(sum[i]);
    }
    if (ledger_ && !s_.privacy.ddg) {
      FEDREC_RETURN_IF_ERROR(noise_->Add(update, s_.privacy.update_noise_multiplier * clip, round));
    }
    const double denominator = Denominator(out.stats);
    for (double& v : update) v /= denominator;
    return update;
  }

  // Step 5: the ledger records the release; adaptive clipping moves.
  absl::Status RecordSpend(uint32_t round, double clip, const WorkerRoundStats& stats,
                           RoundOutcome* out) {
    if (ledger_) {
      FEDREC_RETURN_IF_ERROR(ledger_->Record(round, clip, stats.sampled));
      // Durable before anything computed from the release leaves (the
      // broadcast, evaluation, metrics, checkpoint): ledger_journal.h.
      FEDREC_RETURN_IF_ERROR(journal_->Append(
          {.step = ledger_->steps(), .round = round, .clip_norm = clip, .cohort = stats.sampled}));
      CrashPoint("released", round);
      out->epsilon = ledger_->RdpEpsilonNow();
    }
    if (clip_rule_) {
      // The next round's clip, from this round's (noisy) unclipped count.
      const auto unclipped = static_cast<int64_t>(stats.uploaded - stats.clipped);
      const auto participants = static_cast<int64_t>(stats.uploaded);
      FEDREC_RETURN_IF_ERROR(ledger_ ? clip_rule_->Update(unclipped, participants, *noise_, round)
                                     : clip_rule_->UpdateWithNoise(unclipped, participants, 0.0));
    }
    return absl::OkStatus();
  }

  // ---- evaluation, checkpoints ----

  absl::StatusOr<EvalResult> EvalCommand(SplitPart part, EvalProtocol protocol, bool best_local,
                                         const ParameterStore& params, bool params_changed,
                                         bool cold_only = false) {
    proto::RoundCommand cmd;
    proto::EvalCommand* e = cmd.mutable_eval();
    e->set_part(part == SplitPart::kTest ? proto::SPLIT_PART_TEST : proto::SPLIT_PART_VALIDATION);
    e->set_protocol(protocol == EvalProtocol::kFull ? proto::EVAL_PROTOCOL_FULL
                                                    : proto::EVAL_PROTOCOL_SAMPLED);
    e->set_best_local(best_local);
    e->set_k(K());
    e->set_negatives(static_cast<uint32_t>(c_.eval.negatives));
    e->set_seed(c_.seed);
    e->set_cold_only(cold_only);
    if (params_changed) SetGlobalParams(&cmd, params);
    FEDREC_ASSIGN_OR_RETURN(std::vector<proto::WorkerReply> replies,
                            Exchange(cmd, proto::WorkerReply::kEval));
    EvalResult r;
    for (const proto::WorkerReply& w : replies) {
      r.sums.hr += w.eval().hr();
      r.sums.ndcg += w.eval().ndcg();
      r.sums.mrr += w.eval().mrr();
      r.sums.users += w.eval().users();
      r.skipped_users += w.eval().skipped_users();
    }
    return r;
  }

  absl::Status EvalRound(uint32_t round, nlohmann::json* line) {
    Stopwatch sw;
    FEDREC_ASSIGN_OR_RETURN(EvalResult valid,
                            EvalCommand(SplitPart::kValidation, Protocol(), false,
                                        model_->global_params(), !workers_current_));
    workers_current_ = true;
    (*line)["valid"] = MetricsJson(valid.Mean(), K(), valid.sums.users);
    const double score = valid.Mean().ndcg;
    if (best_.Beats(round, valid.Mean(), score)) {
      best_.global = model_->global_params();
      proto::RoundCommand snapshot;
      snapshot.mutable_snapshot_best();
      FEDREC_RETURN_IF_ERROR(Exchange(snapshot, proto::WorkerReply::REPLY_NOT_SET).status());
      FEDREC_ASSIGN_OR_RETURN(Checkpoint best,
                              MakeCheckpoint(round, dir_.BestCheckpointPath(), /*best=*/true));
      FEDREC_RETURN_IF_ERROR(dir_.WriteBestCheckpoint(best));
    }
    (*line)["seconds"]["eval"] = sw.ElapsedSeconds();
    totals_.eval += sw.ElapsedSeconds();
    spdlog::info("round {}/{}: loss {:.4f}, valid NDCG@{} {:.4f} (best {:.4f} at round {})", round,
                 c_.federation.rounds, (*line)["loss"].get<double>(), K(), score, best_.score,
                 best_.round);
    return absl::OkStatus();
  }

  // The workers write their shards of the local parameters beside `path`;
  // the checkpoint lists them.
  absl::Status WriteShards(uint64_t round, const std::string& path, bool best, Checkpoint* ckpt) {
    proto::RoundCommand cmd;
    proto::WriteShardCommand* w = cmd.mutable_write_shard();
    w->set_checkpoint_path(path);
    w->set_best(best);
    w->set_round(round);
    FEDREC_ASSIGN_OR_RETURN(std::vector<proto::WorkerReply> replies,
                            Exchange(cmd, proto::WorkerReply::kShard));
    for (const proto::WorkerReply& r : replies) *ckpt->add_local_shards() = r.shard().shard();
    return absl::OkStatus();
  }

  absl::StatusOr<Checkpoint> MakeCheckpoint(uint32_t round, const std::string& path, bool best) {
    Checkpoint ckpt;
    SaveModel(s_.spec, *model_, &ckpt);
    ckpt.clear_local_tensors();
    if (model_->local_params() != nullptr) {
      FEDREC_RETURN_IF_ERROR(WriteShards(round, path, best, &ckpt));
    }
    optimizer_->SaveState(ckpt.mutable_server_optimizer());
    if (ledger_) {
      FEDREC_ASSIGN_OR_RETURN(double spent, ledger_->EpsilonNow());
      ledger_->ToProto(ckpt.mutable_ledger(), spent);
      // privacy.json follows the round checkpoints (and the end of the run).
      if (!best) {
        FEDREC_RETURN_IF_ERROR(
            WriteFileAtomic(dir_.path() + "/privacy.json", ledger_->ToJson(spent).dump(2) + "\n"));
      }
    }
    if (clip_rule_) ckpt.set_adaptive_clip_json(clip_rule_->ToJson().dump());
    best_.SaveTo(&ckpt);
    ckpt.set_compute_backend(s_.compute_backend);
    ckpt.set_comm_backend(s_.comm_backend);
    FinishRunCheckpoint(c_, s_.data, round, &ckpt);
    return ckpt;
  }

  // The model digest; local parameters are digested by their workers.
  absl::StatusOr<std::string> ModelDigest() {
    if (model_->local_params() == nullptr) return ParamsDigest(*model_);
    proto::RoundCommand cmd;
    cmd.mutable_local_digest();
    FEDREC_ASSIGN_OR_RETURN(std::vector<proto::WorkerReply> replies,
                            Exchange(cmd, proto::WorkerReply::kLocalDigest));
    std::vector<uint64_t> lanes(4, 0);
    for (const proto::WorkerReply& r : replies) {
      if (r.local_digest().lanes_size() != 4) {
        return absl::InternalError("round protocol: a local digest without four lanes");
      }
      for (int i = 0; i < 4; ++i) lanes[i] += r.local_digest().lanes(i);
    }
    return ParamsDigest(model_->global_params(), lanes);
  }

  absl::Status WriteRoundCheckpoint(uint32_t round) {
    const std::string path = dir_.RoundCheckpointPath(round);
    FEDREC_ASSIGN_OR_RETURN(Checkpoint ckpt, MakeCheckpoint(round, path, /*best=*/false));
    FEDREC_RETURN_IF_ERROR(
        dir_.WriteRoundCheckpoint(round, ckpt, static_cast<uint32_t>(c_.checkpoint.keep)));
    last_checkpoint_round_ = round;
    return absl::OkStatus();
  }

  // An interrupted run keeps every finished round: the last one is
  // checkpointed unless its checkpoint is already there.
  absl::Status CheckpointLastRound() {
    if (last_round_ == last_checkpoint_round_) return absl::OkStatus();
    return WriteRoundCheckpoint(last_round_);
  }

  absl::StatusOr<nlohmann::json> Finish(double wall_seconds) {
    FEDREC_ASSIGN_OR_RETURN(const std::string final_digest, ModelDigest());
    const ParameterStore& best = best_.global ? *best_.global : model_->global_params();
    nlohmann::json test = nlohmann::json::object();
    bool first = true;
    FEDREC_ASSIGN_OR_RETURN(const std::vector<EvalProtocol> protocols,
                            ParseEvalProtocols(c_.eval.final_protocols));
    std::map<std::string, MetricSums> cold_test;
    for (EvalProtocol p : protocols) {
      FEDREC_ASSIGN_OR_RETURN(EvalResult r, EvalCommand(SplitPart::kTest, p, true, best, first));
      first = false;
      test[EvalProtocolName(p)] = MetricsJson(r.Mean(), K(), r.sums.users);
      if (!s_.cold.enabled()) continue;
      FEDREC_ASSIGN_OR_RETURN(EvalResult c, EvalCommand(SplitPart::kTest, p, true, best, false,
                                                        /*cold_only=*/true));
      cold_test[EvalProtocolName(p)] = c.sums;
    }
    FEDREC_ASSIGN_OR_RETURN(EvalResult valid,
                            EvalCommand(SplitPart::kValidation, Protocol(), true, best, false));
    workers_current_ = false;
    RunTotals totals{.rounds_this_session = last_round_ - start_round_,
                     .last_round = last_round_,
                     .best_round = best_.round,
                     .seconds = totals_,
                     .uploaded = uploaded_total_,
                     .sampled = sampled_total_,
                     .wall_seconds = wall_seconds,
                     .model_sha256 = final_digest,
                     .stop_reason = stop_reason_,
                     .interrupted = interrupted_,
                     .aborted_rounds = aborted_rounds_,
                     .withheld_rounds = withheld_rounds_};
    FEDREC_ASSIGN_OR_RETURN(
        nlohmann::json summary,
        FederatedSummary(s_, totals, MetricsJson(valid.Mean(), K(), valid.sums.users), test,
                         ledger_ ? &*ledger_ : nullptr, noise_ ? &*noise_ : nullptr,
                         clip_rule_ ? &*clip_rule_ : nullptr));
    if (s_.cold.enabled()) summary["cold_start"] = ColdStartJson(c_, s_.cold, cold_test);
    if (c_.train.patience > 0) summary["stopped_early"] = early_stop_round_ != 0;
    if (early_stop_round_ != 0) summary["stopped_at_round"] = early_stop_round_;
    if (ledger_) {
      // Also when no round ran this session (e.g. a budget too small for one).
      FEDREC_ASSIGN_OR_RETURN(double spent, ledger_->EpsilonNow());
      FEDREC_RETURN_IF_ERROR(
          WriteFileAtomic(dir_.path() + "/privacy.json", ledger_->ToJson(spent).dump(2) + "\n"));
    }
    FEDREC_RETURN_IF_ERROR(dir_.WriteSummary(summary));
    return summary;
  }

 public:
  // Whether the workers still serve commands: false once the protocol
  // itself failed (every rank then returned from its loop already).
  struct ProtocolState {
    bool broken = false;
    absl::Status Guard(absl::Status st) {
      if (!st.ok()) broken = true;
      return st;
    }
  };
  const ProtocolState& protocol() const { return protocol_; }
  uint32_t round_in_progress() const { return round_in_progress_; }

 private:
  Collective& comm_;
  const FederationSetup& s_;
  const Config& c_;
  RunDirectory dir_;
  TrainRunOptions run_;
  ProtocolState protocol_;
  std::unique_ptr<Model> model_;
  std::optional<ServerOptimizer> optimizer_;
  bool workers_current_ = false;  // do the workers hold model_'s global parameters?
  uint32_t start_round_ = 0;
  BestSoFar best_;
  PhaseSeconds totals_;
  std::optional<privacy::PrivacyLedger> ledger_;
  std::optional<privacy::GaussianNoise> noise_;
  std::optional<privacy::AdaptiveClip> clip_rule_;
  std::optional<LedgerJournal> journal_;  // with ledger_
  std::string stop_reason_;
  uint32_t early_stop_round_ = 0;  // the last round when train.patience stopped the run
  double checkpoint_seconds_ = 0;  // the last round checkpoint, for the next line
  uint64_t aborted_rounds_ = 0, withheld_rounds_ = 0;  // this session
  uint32_t last_round_ = 0;
  uint32_t last_checkpoint_round_ = 0;
  uint32_t round_in_progress_ = 0;  // for a stalled rank's message
  bool interrupted_ = false;
  uint64_t uploaded_total_ = 0, sampled_total_ = 0;
};

}  // namespace

absl::StatusOr<nlohmann::json> CoordinatorMain(Collective& comm, const FederationSetup& s,
                                               const TrainRunOptions& run) {
  absl::StatusOr<RunDirectory> dir = run.resume
                                         ? RunDirectory::Reopen(run.out_dir)
                                         : RunDirectory::Create(run.out_dir, ToToml(s.config));
  absl::StatusOr<nlohmann::json> result = nlohmann::json();
  bool protocol_broken = false;
  if (!dir.ok()) {
    result = dir.status();
  } else {
    absl::StatusOr<std::optional<ResumePoint>> point = std::nullopt;
    if (run.resume) point = PrepareResume(*dir, s.config, s.data);
    Coordinator coord(comm, s, std::move(*dir), run);
    absl::Status st = point.ok() ? coord.Setup() : point.status();
    if (st.ok() && *point) {
      st = coord.Resume((*point)->path, (*point)->checkpoint);
    } else if (st.ok() && run.resume) {
      st = coord.StartOver();  // killed before its first checkpoint
    }
    result = st.ok() ? coord.Run() : absl::StatusOr<nlohmann::json>(st);
    if (!result.ok()) result = InRound(result.status(), coord.round_in_progress());
    protocol_broken = coord.protocol().broken;
  }
  if (protocol_broken) return result;
  // Release the workers, telling them why the run ends.
  proto::RoundCommand stop;
  *stop.mutable_stop()->mutable_reason() = ToStatusMessage(result.status());
  absl::Status sent = SendCommand(comm, stop);
  if (result.ok() && !sent.ok()) return sent;
  return result;
}

}  // namespace fedrec
