#include "coordinator/central_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <vector>

#include "coordinator/resume.h"
#include "coordinator/run_common.h"
#include "coordinator/run_dir.h"
#include "core/interrupt.h"
#include "core/logging.h"
#include "core/progress.h"
#include "core/random.h"
#include "core/sha256.h"
#include "core/thread_pool.h"
#include "core/timing.h"
#include "data/loader.h"
#include "data/split.h"
#include "fmt/format.h"
#include "models/cuda/compute_backend.h"
#include "models/evaluation.h"
#include "models/factory.h"
#include "models/memory_estimate.h"
#include "models/mf.h"
#include "models/optimizer.h"
#include "proto/checkpoint.h"
#include "spdlog/spdlog.h"

namespace fedrec {
namespace {

// A training step's per-chunk state, reused across batches.
struct Chunk {
  Gradients global;
  Gradients local;
  LossSum loss;
};

class CentralTrainer {
 public:
  CentralTrainer(const Config& config, const Dataset& data, const ColdItems& cold,
                 std::unique_ptr<Model> model, proto::ModelSpec spec, RunDirectory dir,
                 const TrainRunOptions& run)
      : config_(config),
        data_(data),
        cold_(cold),
        split_(data),
        model_(std::move(model)),
        spec_(std::move(spec)),
        dir_(std::move(dir)),
        run_(run) {}

  absl::Status Setup() {
    OptimizerOptions opt{.kind = config_.train.optimizer, .lr = config_.train.lr};
    FEDREC_ASSIGN_OR_RETURN(optimizer_, Optimizer::Create(opt, model_->global_params()));
    if (ParameterStore* local = model_->local_params()) {
      // Local rows of a user are touched only by that user: lazy Adam keeps
      // untouched users' rows (and their cost) out of every step.
      opt.lazy_sparse = true;
      FEDREC_ASSIGN_OR_RETURN(local_optimizer_, Optimizer::Create(opt, *local));
    }
    for (uint32_t u = 0; u < data_.num_users(); ++u) {
      if (split_.Train(u).size() >= 2) trainable_users_.push_back(u);
    }
    if (trainable_users_.empty()) {
      return absl::InvalidArgumentError(config_.data.path +
                                        ": no user has two training interactions");
    }
    return absl::OkStatus();
  }

  absl::Status Resume(const Checkpoint& ckpt) {
    FEDREC_RETURN_IF_ERROR(RestoreRunCheckpoint(ckpt, dir_.BestCheckpointPath(),
                                                /*local_in_checkpoint=*/true, model_.get(),
                                                &best_));
    if (model_->local_params() != nullptr) {
      FEDREC_RETURN_IF_ERROR(local_optimizer_->LoadState(ckpt.local_optimizer()));
    }
    FEDREC_RETURN_IF_ERROR(optimizer_->LoadState(ckpt.optimizer()));
    start_epoch_ = static_cast<uint32_t>(ckpt.round());
    return dir_.TruncateMetricsAfter(start_epoch_);
  }

  absl::Status ForgetMetrics() { return dir_.TruncateMetricsAfter(0); }

  absl::StatusOr<nlohmann::json> Run() {
    Stopwatch wall;
    const uint32_t epochs = static_cast<uint32_t>(config_.train.epochs);
    const uint32_t every = static_cast<uint32_t>(config_.eval.every);
    std::vector<double> throughput;
    double train_seconds = 0;
    const size_t batch = static_cast<size_t>(config_.train.batch_size);
    const uint64_t batches_per_epoch = (trainable_users_.size() + batch - 1) / batch;
    progress_ = std::make_unique<ProgressReporter>(
        "train", batches_per_epoch * (epochs - std::min(epochs, start_epoch_)),
        ProgressOptions{.quiet = run_.quiet});
    uint32_t last_epoch = start_epoch_, last_checkpoint_epoch = start_epoch_;
    const uint64_t patience = static_cast<uint64_t>(config_.train.patience);
    for (uint32_t epoch = start_epoch_ + 1; epoch <= epochs; ++epoch) {
      // Checked before the epoch from what the checkpoints hold, so that a
      // run resumed from the epoch that exhausted the patience stops too.
      if (PatienceExhausted(patience, every, epochs, best_.round, last_epoch)) {
        early_stop_epoch_ = last_epoch;
        spdlog::info(
            "early stop after epoch {}: {} evaluations without a better validation "
            "score than epoch {}",
            last_epoch, patience, best_.round);
        break;
      }
      if (StopRequested()) {
        // Every finished epoch is kept: the last one is checkpointed.
        if (last_epoch != last_checkpoint_epoch) {
          FEDREC_RETURN_IF_ERROR(
              dir_.WriteRoundCheckpoint(last_epoch, MakeCheckpoint(last_epoch),
                                        static_cast<uint32_t>(config_.checkpoint.keep)));
        }
        stop_reason_ = "interrupted after epoch " + std::to_string(last_epoch) + " of " +
                       std::to_string(epochs) + " (signal); --resume continues the run exactly";
        spdlog::warn("{}", stop_reason_);
        break;
      }
      Stopwatch sw;
      FEDREC_ASSIGN_OR_RETURN(LossSum loss, TrainEpoch(epoch));
      FEDREC_RETURN_IF_ERROR(CheckModelFinite(epoch));
      const double seconds = sw.ElapsedSeconds();
      train_seconds += seconds;
      throughput.push_back(static_cast<double>(trainable_users_.size()) / seconds);
      nlohmann::json line = {{"epoch", epoch},
                             {"loss", loss.examples ? loss.loss / loss.examples : 0.0},
                             {"train_seconds", seconds},
                             {"sequences_per_second", throughput.back()}};
      if ((every != 0 && epoch % every == 0) || epoch == epochs) {
        Stopwatch esw;
        FEDREC_ASSIGN_OR_RETURN(EvalResult valid, Eval(SplitPart::kValidation, Protocol()));
        line["valid"] = MetricsJson(valid.Mean(), K(), valid.sums.users);
        // Selection score: validation NDCG@K, or -RMSE for explicit ratings.
        double score = valid.Mean().ndcg;
        if (const auto* mf = dynamic_cast<const MfRatingModel*>(model_.get())) {
          FEDREC_ASSIGN_OR_RETURN(RatingMetrics r,
                                  EvaluateRatings(*mf, split_, SplitPart::kValidation, Threads()));
          line["valid"]["RMSE"] = r.rmse;
          line["valid"]["MAE"] = r.mae;
          score = -r.rmse;
        }
        line["eval_seconds"] = esw.ElapsedSeconds();
        if (best_.Beats(epoch, valid.Mean(), score)) {
          best_.global = model_->global_params();
          if (const ParameterStore* local = model_->local_params()) best_.local = *local;
          FEDREC_RETURN_IF_ERROR(dir_.WriteBestCheckpoint(MakeCheckpoint(epoch)));
        }
        spdlog::info(
            "epoch {}/{}: loss {:.4f}, valid NDCG@{} {:.4f}, selection score {:.4f} "
            "(best {:.4f} at epoch {})",
            epoch, epochs, line["loss"].get<double>(), K(), valid.Mean().ndcg, score, best_.score,
            best_.round);
        progress_->SetNote(
            fmt::format("best valid score {:.4f} (epoch {})", best_.score, best_.round));
      }
      FEDREC_RETURN_IF_ERROR(dir_.AppendMetrics(line));
      const uint32_t ckpt_every = static_cast<uint32_t>(config_.checkpoint.every);
      // The epoch that exhausts the patience is the run's last: checkpointed.
      if ((ckpt_every != 0 && epoch % ckpt_every == 0) || epoch == epochs ||
          PatienceExhausted(patience, every, epochs, best_.round, epoch)) {
        FEDREC_RETURN_IF_ERROR(dir_.WriteRoundCheckpoint(
            epoch, MakeCheckpoint(epoch), static_cast<uint32_t>(config_.checkpoint.keep)));
        last_checkpoint_epoch = epoch;
      }
      last_epoch = epoch;
    }
    progress_->Finish();
    return Finish(wall.ElapsedSeconds(), train_seconds, throughput);
  }

 private:
  EvalProtocol Protocol() const {
    return config_.eval.protocol == "full" ? EvalProtocol::kFull : EvalProtocol::kSampled;
  }
  uint32_t K() const { return static_cast<uint32_t>(config_.eval.k); }
  uint32_t Threads() const { return static_cast<uint32_t>(config_.backend.threads); }

  // `cold_only`: only the users whose target is a cold item (eval.cold_items).
  absl::StatusOr<EvalResult> Eval(SplitPart part, EvalProtocol protocol,
                                  bool cold_only = false) const {
    EvalOptions o;
    if (cold_only) o.target_items = cold_.is_cold;
    o.protocol = protocol;
    o.part = part;
    o.k = K();
    o.negatives = static_cast<uint32_t>(config_.eval.negatives);
    o.seed = static_cast<uint64_t>(config_.seed);
    o.threads = Threads();
    return Evaluate(*model_, split_, o);
  }

  absl::StatusOr<LossSum> TrainEpoch(uint32_t epoch) {
    // Fisher-Yates over the trainable users from the epoch's own stream.
    std::vector<uint32_t> order = trainable_users_;
    RandomStream rng(
        {.seed = static_cast<uint64_t>(config_.seed), .purpose = "batch_order", .round = epoch});
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.NextBelow64(i)]);

    const size_t batch = static_cast<size_t>(config_.train.batch_size);
    const size_t num_batches = (order.size() + batch - 1) / batch;
    LossSum total;
    for (size_t b = 0; b < num_batches; ++b) {
      const size_t begin = b * batch, end = std::min(order.size(), begin + batch);
      std::vector<UserSequence> seqs;
      seqs.reserve(end - begin);
      for (size_t i = begin; i < end; ++i) {
        const uint32_t u = order[i];
        const auto train = split_.Train(u);
        const auto ratings = data_.Ratings(u).first(train.size());
        seqs.push_back({.user = u, .items = train, .ratings = ratings});
      }
      FEDREC_ASSIGN_OR_RETURN(LossSum loss, Step(seqs, {.seed = static_cast<uint64_t>(config_.seed),
                                                        .epoch = epoch,
                                                        .step = static_cast<uint32_t>(b)}));
      total.loss += loss.loss;
      total.examples += loss.examples;
      progress_->Advance();
    }
    return total;
  }

  // After each epoch: a model that is no longer finite would be evaluated
  // and checkpointed as if it were one, so the run stops before anything of
  // this epoch is written. Only reads the parameters.
  absl::Status CheckModelFinite(uint32_t epoch) const {
    size_t bad = CountNonFinite(model_->global_params().Flat());
    size_t total = model_->global_params().Flat().size();
    if (const ParameterStore* local = model_->local_params()) {
      bad += CountNonFinite(local->Flat());
      total += local->Flat().size();
    }
    if (bad == 0) return absl::OkStatus();
    return DivergedModelError(fmt::format("epoch {}", epoch),
                              fmt::format("the model is no longer finite ({} of {} parameters "
                                          "are NaN or infinite)",
                                          bad, total),
                              fmt::format("train.lr = {:g} too large for the {} optimiser",
                                          config_.train.lr, config_.train.optimizer),
                              dir_.LatestCheckpoint());
  }

  absl::StatusOr<LossSum> Step(std::span<const UserSequence> batch, const StepKey& key) {
    const size_t chunk_users = ChunkUsers();
    const size_t num_chunks = (batch.size() + chunk_users - 1) / chunk_users;
    while (chunks_.size() < num_chunks) {
      Chunk c;
      c.global = model_->NewGlobalGradients();
      c.local = model_->NewLocalGradients();
      chunks_.push_back(std::move(c));
    }
    // Scratch per thread rather than per chunk: a thread's next chunk finds
    // its buffers warm in cache. Results do not depend on it (Workspace holds
    // no state between calls).
    const size_t workers = NumWorkers(num_chunks, 1, Threads());
    while (workspaces_.size() < workers) workspaces_.push_back(model_->NewWorkspace());
    const std::vector<size_t>& order = LongestChunksFirst(batch, num_chunks);
    FEDREC_RETURN_IF_ERROR(ParallelForWithWorker(
        num_chunks, 1, Threads(),
        [&](size_t begin, size_t end, size_t, size_t worker) -> absl::Status {
          for (size_t k = begin; k < end; ++k) {
            const size_t c = order[k];
            Chunk& chunk = chunks_[c];
            chunk.global.Clear();
            if (model_->local_params() != nullptr) chunk.local.Clear();
            const size_t first = c * chunk_users;
            const auto users =
                batch.subspan(first, std::min<size_t>(chunk_users, batch.size() - first));
            chunk.loss =
                model_->ForwardBackward(users, key, workspaces_[worker].get(), &chunk.global,
                                        model_->local_params() ? &chunk.local : nullptr);
          }
          return absl::OkStatus();
        }));
    // Fixed-order reduction: chunk 0 + chunk 1 + ... whatever ran where.
    LossSum loss;
    Gradients& total = chunks_[0].global;
    for (size_t c = 0; c < num_chunks; ++c) {
      if (c > 0) total.AddFrom(chunks_[c].global);
      loss.loss += chunks_[c].loss.loss;
      loss.examples += chunks_[c].loss.examples;
    }
    if (loss.examples == 0) return loss;
    const float scale = 1.0f / static_cast<float>(loss.examples);
    total.Scale(scale);
    optimizer_->Step(total, &model_->global_params());
    if (ParameterStore* local = model_->local_params()) {
      Gradients& local_total = chunks_[0].local;
      for (size_t c = 1; c < num_chunks; ++c) local_total.AddFrom(chunks_[c].local);
      local_total.Scale(scale);
      local_optimizer_->Step(local_total, local);
    }
    return loss;
  }

  // The order chunks are handed to threads: the most work first (work
  // estimated as the sum over users of L * (L + 64), L = the positions a
  // sequence trains, which covers both the per-position products and the
  // attention's L^2), so that the step does not end with one thread running
  // a long chunk while the others wait. Only the schedule depends on it;
  // every chunk still writes its own slot and the slots are summed in index
  // order.
  // On the GPU a batch is one chunk: one device step over all its windows
  // (a GPU step on 8 sequences would leave the device idle).
  size_t ChunkUsers() const {
    return config_.backend.compute == "cuda"
               ? std::max<size_t>(1, static_cast<size_t>(config_.train.batch_size))
               : kChunkUsers;
  }

  const std::vector<size_t>& LongestChunksFirst(std::span<const UserSequence> batch,
                                                size_t num_chunks) {
    const auto max_len = static_cast<uint64_t>(config_.data.max_len);
    chunk_work_.assign(num_chunks, 0);
    for (size_t u = 0; u < batch.size(); ++u) {
      const uint64_t len = std::min<uint64_t>(batch[u].items.size(), max_len);
      chunk_work_[u / ChunkUsers()] += len * (len + 64);
    }
    chunk_order_.resize(num_chunks);
    std::iota(chunk_order_.begin(), chunk_order_.end(), size_t{0});
    std::stable_sort(chunk_order_.begin(), chunk_order_.end(),
                     [&](size_t a, size_t b) { return chunk_work_[a] > chunk_work_[b]; });
    return chunk_order_;
  }

  Checkpoint MakeCheckpoint(uint32_t epoch) const {
    Checkpoint ckpt;
    SaveModel(spec_, *model_, &ckpt);
    optimizer_->SaveState(ckpt.mutable_optimizer());
    if (local_optimizer_) local_optimizer_->SaveState(ckpt.mutable_local_optimizer());
    best_.SaveTo(&ckpt);
    ckpt.set_compute_backend(config_.backend.compute);
    FinishRunCheckpoint(config_, data_, epoch, &ckpt);
    return ckpt;
  }

  absl::StatusOr<nlohmann::json> Finish(double wall_seconds, double train_seconds,
                                        std::vector<double> throughput) {
    const std::string final_digest = ParamsDigest(*model_);
    // Test metrics of the model selected on validation.
    if (best_.global) {
      model_->global_params() = *best_.global;
      if (best_.local) *model_->local_params() = *best_.local;
    }
    nlohmann::json test = nlohmann::json::object();
    FEDREC_ASSIGN_OR_RETURN(const std::vector<EvalProtocol> protocols,
                            ParseEvalProtocols(config_.eval.final_protocols));
    std::map<std::string, MetricSums> cold_test;
    for (EvalProtocol p : protocols) {
      FEDREC_ASSIGN_OR_RETURN(EvalResult r, Eval(SplitPart::kTest, p));
      test[EvalProtocolName(p)] = MetricsJson(r.Mean(), K(), r.sums.users);
      if (!cold_.enabled()) continue;
      FEDREC_ASSIGN_OR_RETURN(EvalResult c, Eval(SplitPart::kTest, p, /*cold_only=*/true));
      cold_test[EvalProtocolName(p)] = c.sums;
    }
    FEDREC_ASSIGN_OR_RETURN(EvalResult valid, Eval(SplitPart::kValidation, Protocol()));
    if (const auto* mf = dynamic_cast<const MfRatingModel*>(model_.get())) {
      // Explicit ratings: the rating-prediction metrics of the same model.
      for (SplitPart part : {SplitPart::kValidation, SplitPart::kTest}) {
        FEDREC_ASSIGN_OR_RETURN(RatingMetrics r, EvaluateRatings(*mf, split_, part, Threads()));
        test[std::string("ratings_") + SplitPartName(part)] = {
            {"RMSE", r.rmse}, {"MAE", r.mae}, {"count", r.count}};
      }
    }
    std::sort(throughput.begin(), throughput.end());

    nlohmann::json summary = {{"mode", "central"},
                              {"model", spec_.type()},
                              {"epochs", config_.train.epochs},
                              {"best_epoch", best_.round},
                              {"compute", config_.backend.compute},
                              {"valid_at_best", MetricsJson(valid.Mean(), K(), valid.sums.users)},
                              {"valid_protocol", EvalProtocolName(Protocol())},
                              {"test_at_best", test},
                              {"model_sha256", final_digest},
                              {"best_model_sha256", ParamsDigest(*model_)},
                              {"wall_seconds", wall_seconds},
                              {"train_seconds", train_seconds},
                              {"threads", Threads()},
                              {"users", data_.num_users()},
                              {"items", data_.num_items()},
                              {"interactions", data_.num_interactions()}};
    if (data_.item_features != nullptr) summary["item_features"] = ItemFeaturesJson(data_);
    if (!throughput.empty()) {
      summary["sequences_per_second_median"] = throughput[throughput.size() / 2];
    }
    if (!stop_reason_.empty()) {
      summary["stopped_reason"] = stop_reason_;
      summary["interrupted"] = true;
    }
    if (cold_.enabled()) summary["cold_start"] = ColdStartJson(config_, cold_, cold_test);
    if (config_.train.patience > 0) summary["stopped_early"] = early_stop_epoch_ != 0;
    if (early_stop_epoch_ != 0) summary["stopped_at_epoch"] = early_stop_epoch_;
    FEDREC_RETURN_IF_ERROR(dir_.WriteSummary(summary));
    return summary;
  }

  const Config& config_;
  const Dataset& data_;
  const ColdItems& cold_;
  LeaveOneOutSplit split_;
  std::unique_ptr<Model> model_;
  proto::ModelSpec spec_;
  RunDirectory dir_;
  TrainRunOptions run_;
  std::unique_ptr<Optimizer> optimizer_, local_optimizer_;
  std::vector<uint32_t> trainable_users_;
  std::vector<Chunk> chunks_;
  std::vector<std::unique_ptr<Workspace>> workspaces_;  // one per thread
  std::vector<uint64_t> chunk_work_;
  std::vector<size_t> chunk_order_;
  std::unique_ptr<ProgressReporter> progress_;
  uint32_t start_epoch_ = 0;
  std::string stop_reason_;        // set when a stop was requested
  uint32_t early_stop_epoch_ = 0;  // the last epoch when train.patience stopped the run
  BestSoFar best_;
};

}  // namespace

absl::StatusOr<nlohmann::json> RunCentralTraining(const Config& config,
                                                  const TrainRunOptions& run) {
  if (config.data.path.empty()) {
    return absl::InvalidArgumentError("config: data.path: required by `fedrec train`");
  }
  LoadOptions load;
  FEDREC_RETURN_IF_ERROR(ApplyDataConfig(config.data, &load));

  FEDREC_ASSIGN_OR_RETURN(Dataset data, LoadDataset(config.data.path, load));
  FEDREC_ASSIGN_OR_RETURN(const ColdItems cold, WithholdRunColdItems(config, &data));
  FEDREC_RETURN_IF_ERROR(CheckModelSuitsData(config, data));
  // Before anything of the model's size is allocated (ModelSpecFromConfig
  // builds one to validate the spec).
  FEDREC_RETURN_IF_ERROR(
      CheckTrainingMemory(config, data.num_users(), data.num_items(), /*workers_in_process=*/0,
                          data.item_features != nullptr ? data.item_features->dim : 0));
  FEDREC_ASSIGN_OR_RETURN(proto::ModelSpec spec,
                          ModelSpecFromConfig(config, data.num_users(), data.num_items(),
                                              data.item_features ? data.item_features->dim : 0));
  if (spec.type() == "mf_rating") {
    // The global bias starts at the mean training rating.
    (*spec.mutable_extra())["global_mean"] =
        std::to_string(TrainingMeanRating(LeaveOneOutSplit(data)));
  }
  FEDREC_ASSIGN_OR_RETURN(
      std::unique_ptr<Model> model,
      CreateModelOnBackend(spec, {.name = config.backend.compute, .tf32 = config.backend.tf32},
                           data.item_features));
  model->Initialize(static_cast<uint64_t>(config.seed));
  // Cold items are not in the catalogue while the model trains: never a
  // negative, out of a full softmax.
  FEDREC_RETURN_IF_ERROR(model->SetNegativeExclusions(cold.is_cold));
  if (config.train.negative_sampler == "popularity") {
    // Training counts only (never the validation or test items), so a
    // resumed run rebuilds the same table from the same data.
    const LeaveOneOutSplit split(data);
    std::vector<uint64_t> counts(data.num_items(), 0);
    for (uint32_t u = 0; u < data.num_users(); ++u) {
      for (uint32_t item : split.Train(u)) ++counts[item];
    }
    FEDREC_RETURN_IF_ERROR(model->SetItemPopularity(counts));
  }

  // Everything that can be refused has been checked: now the run directory.
  std::optional<Checkpoint> resume_from;
  absl::StatusOr<RunDirectory> dir = run.resume ? RunDirectory::Reopen(run.out_dir)
                                                : RunDirectory::Create(run.out_dir, ToToml(config));
  if (!dir.ok()) return dir.status();
  if (run.resume) {
    FEDREC_ASSIGN_OR_RETURN(std::optional<ResumePoint> point, PrepareResume(*dir, config, data));
    if (point) resume_from = std::move(point->checkpoint);
  }

  CentralTrainer trainer(config, data, cold, std::move(model), spec, std::move(*dir), run);
  FEDREC_RETURN_IF_ERROR(trainer.Setup());
  if (resume_from) {
    FEDREC_RETURN_IF_ERROR(trainer.Resume(*resume_from));
  } else if (run.resume) {
    // Killed before its first checkpoint: start over, forgetting metrics.
    FEDREC_RETURN_IF_ERROR(trainer.ForgetMetrics());
  }

  return trainer.Run();
}

}  // namespace fedrec
