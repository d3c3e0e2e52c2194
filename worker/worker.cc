#include "worker/worker.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "core/timing.h"
#include "models/cuda/device_ranking.h"
#include "models/sasrec.h"

namespace fedrec {
namespace {

uint64_t ToFixed(double x) {
  if (!std::isfinite(x)) return 0;  // a diverged client's norm or loss
  return static_cast<uint64_t>(std::llround(std::max(0.0, x) * 4294967296.0));
}

// One uploaded client's contribution to the round's statistics.
void CountClient(const ClientOutcome& out, uint64_t weight_cap, WorkerRoundStats* s) {
  if (!out.status.ok() && s->status.ok()) s->status = out.status;
  ++s->uploaded;
  s->clipped += out.clipped ? 1 : 0;
  s->examples += out.loss.examples;
  s->capped_examples += std::min<uint64_t>(out.loss.examples, weight_cap);
  const double mean_loss = out.loss.examples ? out.loss.loss / out.loss.examples : 0.0;
  if (std::isfinite(mean_loss)) {
    s->loss_fixed += ToFixed(mean_loss);
  } else {
    ++s->nonfinite_loss;
  }
  s->norm_fixed += ToFixed(out.update_norm);
}

}  // namespace

void WorkerRoundStats::Add(const WorkerRoundStats& o) {
  sampled += o.sampled;
  dropped += o.dropped;
  uploaded += o.uploaded;
  clipped += o.clipped;
  loss_fixed += o.loss_fixed;
  nonfinite_loss += o.nonfinite_loss;
  norm_fixed += o.norm_fixed;
  examples += o.examples;
  capped_examples += o.capped_examples;
  seconds_train = std::max(seconds_train, o.seconds_train);
  seconds_encode = std::max(seconds_encode, o.seconds_encode);
  seconds_allreduce = std::max(seconds_allreduce, o.seconds_allreduce);
  if (status.ok()) status = o.status;
}

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(
    const proto::ModelSpec& spec, const LeaveOneOutSplit& split, std::vector<uint32_t> users,
    std::span<const uint32_t> population, const ParameterStore& initial_global,
    const ParameterStore* initial_local, const WorkerOptions& options) {
  std::unique_ptr<Worker> w(new Worker());
  w->split_ = &split;
  w->users_ = std::move(users);
  w->population_ = population;
  w->options_ = options;
  w->options_.threads = std::max<uint32_t>(1, options.threads);
  w->global_ = initial_global;
  if (initial_local != nullptr) w->local_ = *initial_local;
  // Clients batched on a device need one CPU model only, for evaluation.
  const uint32_t cpu_trainers = options.client_ops ? 1 : w->options_.threads;
  for (uint32_t t = 0; t < cpu_trainers; ++t) {
    FEDREC_ASSIGN_OR_RETURN(
        auto trainer, ClientTrainer::Create(spec, options.client, split.data().item_features));
    if (!trainer->model().global_params().SameLayout(initial_global)) {
      return absl::InternalError("worker: model layout differs from the global parameters");
    }
    // Cold items are not in the catalogue while the model trains.
    FEDREC_RETURN_IF_ERROR(trainer->model().SetNegativeExclusions(options.cold_items));
    w->trainers_.push_back(std::move(trainer));
  }
  if (options.client_ops) {
    const auto* sasrec = dynamic_cast<const SasRecModel*>(&w->trainers_[0]->model());
    if (sasrec == nullptr || options.client.local_epochs < 1) {
      return absl::FailedPreconditionError(
          "worker: clients batched on a device train SASRec, at least one local epoch");
    }
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<kernels::TensorOps> ops, options.client_ops());
    // After SetNegativeExclusions: the options carry the cold items.
    FEDREC_ASSIGN_OR_RETURN(
        w->client_batch_,
        kernels::SasRecClientBatch::Create(
            sasrec->options(), initial_global, std::move(ops),
            {.seed = options.client.seed,
             .local_lr = options.client.local_lr,
             .local_epochs = static_cast<size_t>(options.client.local_epochs),
             .windows_per_step = std::max<size_t>(1, options.client_windows_per_step)}));
    FEDREC_ASSIGN_OR_RETURN(w->noise_urbg_, privacy::AesCtrUrbg::Create());
  }
  return w;
}

void Worker::TrainOnDevice(uint32_t round, const RoundEncoding& encoding,
                           const std::vector<uint32_t>& active, const std::vector<size_t>& slot,
                           std::span<uint64_t> accumulator, std::vector<ClientUpload>* uploads,
                           WorkerRoundStats* stats) {
  Stopwatch wall;
  double encode_s = 0;
  absl::Status status = client_batch_->BeginRound(global_, round);
  const Dataset& data = split_->data();
  const size_t per_step = client_batch_->windows_per_step();
  const FixedPointCodec& codec = *encoding.codec;
  const double clip_norm = encoding.clip_norm.value_or(options_.client.clip_norm);
  std::vector<UserSequence> step;
  std::vector<double> factors;
  for (size_t begin = 0; begin < active.size() && status.ok(); begin += per_step) {
    step.clear();
    for (size_t i = begin; i < std::min(active.size(), begin + per_step); ++i) {
      const auto train = split_->Train(active[i]);
      step.push_back({.user = active[i],
                      .items = train,
                      .ratings = data.Ratings(active[i]).first(train.size())});
    }
    absl::StatusOr<std::vector<kernels::ClientStepResult>> results = client_batch_->Train(step);
    if (!results.ok()) {
      status = results.status();
      break;
    }
    Stopwatch esw;
    factors.clear();
    for (const kernels::ClientStepResult& r : *results) {
      const ClipDecision clip =
          ClipAndWeigh(r.update_norm, r.loss.examples, clip_norm, options_.client);
      factors.push_back(clip.factor);
      ClientOutcome out;
      out.loss = r.loss;
      out.update_norm = r.update_norm;
      out.clipped = clip.clipped;
      out.weight = clip.weight;
      CountClient(out, options_.client.weight_cap, stats);
    }
    // Where client i of the step adds its words: its own upload, or the sum.
    auto target_of = [&](size_t i) -> std::span<uint64_t> {
      if (uploads == nullptr) return accumulator;
      std::vector<uint64_t>& own = (*uploads)[slot[begin + i]].words;
      own.assign(accumulator.size(), 0);
      return own;
    };
    if (encoding.ddg != nullptr) {
      status =
          client_batch_->VisitScaledDeltas(factors, [&](size_t i, std::span<const double> delta) {
            return EncodeDistributedUpdate(delta, step[i].user, round, encoding,
                                           options_.client.noise_seed, *noise_urbg_, target_of(i));
          });
    } else if (uploads != nullptr) {
      std::vector<std::span<uint64_t>> words;
      for (size_t i = 0; i < step.size(); ++i) words.push_back(target_of(i));
      status = client_batch_->EncodeEach(factors, codec.scale(), codec.clip_norm() * codec.scale(),
                                         words);
    } else {
      status = client_batch_->Encode(factors, codec.scale(), codec.clip_norm() * codec.scale());
    }
    encode_s += esw.ElapsedSeconds();
  }
  if (status.ok() && uploads == nullptr && encoding.ddg == nullptr) {
    status = client_batch_->AddSumInto(accumulator);
  }
  if (!status.ok() && stats->status.ok()) {
    stats->status = WithContext(status, "backend.compute: 'cuda': the clients' device step");
  }
  stats->seconds_train = std::max(0.0, wall.ElapsedSeconds() - encode_s);
  stats->seconds_encode = encode_s;
}

WorkerRoundStats Worker::TrainRound(uint32_t round, const RoundEncoding& encoding,
                                    std::span<uint64_t> accumulator,
                                    std::vector<ClientUpload>* uploads) {
  WorkerRoundStats stats;
  Stopwatch wall;
  const std::vector<uint32_t> cohort = SampleCohort(options_.cohort, round, population_, users_);
  std::vector<uint32_t> active;
  std::vector<size_t> slot;  // active[i]'s place in *uploads
  if (uploads != nullptr) uploads->assign(cohort.size(), {});
  for (size_t i = 0; i < cohort.size(); ++i) {
    const uint32_t u = cohort[i];
    if (uploads != nullptr) (*uploads)[i].user = u;
    if (DropsOut(options_.cohort, round, u)) {
      ++stats.dropped;
      if (uploads != nullptr) (*uploads)[i].dropped = true;
    } else {
      active.push_back(u);
      slot.push_back(i);
    }
  }
  stats.sampled = cohort.size();
  if (client_batch_ != nullptr) {
    TrainOnDevice(round, encoding, active, slot, accumulator, uploads, &stats);
    return stats;
  }
  // Clients are handed out one at a time. Each thread trains with its own
  // ClientTrainer and adds into its own accumulator (thread 0 into the
  // caller's), summed afterwards; integer addition makes the sum independent
  // of which thread trained whom.
  const size_t workers = NumWorkers(active.size(), 1, options_.threads);
  if (thread_acc_.size() < workers) thread_acc_.resize(workers);
  std::vector<WorkerRoundStats> per_thread(workers);
  std::vector<double> train_s(workers, 0), encode_s(workers, 0);
  std::vector<uint8_t> started(workers, 0);  // the thread has set up its trainer and accumulator
  const bool own_acc = uploads == nullptr;
  const Dataset& data = split_->data();
  const absl::Status fanned = ParallelForWithWorker(
      active.size(), 1, options_.threads, [&](size_t i, size_t, size_t, size_t t) {
        ClientTrainer& trainer = *trainers_[t];
        if (!started[t]) {
          started[t] = 1;
          trainer.SetGlobal(global_);
          if (t > 0 && own_acc) thread_acc_[t].assign(accumulator.size(), 0);
        }
        const uint32_t u = active[i];
        const auto train = split_->Train(u);
        const UserSequence seq{
            .user = u, .items = train, .ratings = data.Ratings(u).first(train.size())};
        std::span<uint64_t> target = accumulator;
        if (!own_acc) {
          std::vector<uint64_t>& own = (*uploads)[slot[i]].words;
          own.assign(accumulator.size(), 0);
          target = own;
        } else if (t > 0) {
          target = thread_acc_[t];
        }
        const ClientOutcome out =
            trainer.TrainAndEncode(seq, round, global_, local(), encoding, target);
        CountClient(out, options_.client.weight_cap, &per_thread[t]);
        train_s[t] += out.seconds_train;
        encode_s[t] += out.seconds_encode;
        return absl::OkStatus();
      });
  if (!fanned.ok()) stats.status = fanned;
  for (size_t t = 1; t < workers && own_acc; ++t) {
    if (!started[t]) continue;
    const uint64_t* src = thread_acc_[t].data();
    for (size_t i = 0; i < accumulator.size(); ++i) accumulator[i] += src[i];
  }
  double train_total = 0, encode_total = 0;
  for (size_t t = 0; t < workers; ++t) {
    stats.Add(per_thread[t]);
    train_total += train_s[t];
    encode_total += encode_s[t];
  }
  // Wall time of the phase, split between training and encoding (which
  // interleave per client) in proportion to their summed thread times.
  const double phase = wall.ElapsedSeconds();
  const double busy = train_total + encode_total;
  stats.seconds_train = busy > 0 ? phase * train_total / busy : phase;
  stats.seconds_encode = busy > 0 ? phase * encode_total / busy : 0;
  return stats;
}

absl::StatusOr<EvalResult> Worker::Evaluate(EvalOptions options, bool best_local) {
  Model& model = trainers_[0]->model();
  trainers_[0]->SetGlobal(global_);
  if (ParameterStore* ml = model.local_params()) {
    const ParameterStore& src = best_local && best_local_ ? *best_local_ : *local_;
    std::memcpy(ml->Flat().data(), src.Flat().data(), src.Flat().size_bytes());
  }
  options.users = users_;
  options.threads = options_.threads;
  if (users_.empty()) return EvalResult{};
  // Clients on a device: their users are ranked there too.
  std::unique_ptr<RankingSession> session;
  if (options_.client_ops && kernels::RankableOnDevice(model)) {
    FEDREC_ASSIGN_OR_RETURN(session,
                            kernels::NewRankingSessionOnDevice(model, options_.client_ops));
    options.ranking = session.get();
  }
  return fedrec::Evaluate(model, *split_, options);
}

void Worker::SnapshotBestLocal() {
  if (local_) best_local_ = *local_;
}

const ParameterStore* Worker::local_store(bool best) const {
  if (best && best_local_) return &*best_local_;
  return local_ ? &*local_ : nullptr;
}

void Worker::RestoreLocal(ParameterStore current, std::optional<ParameterStore> best) {
  if (!local_) return;
  local_ = std::move(current);
  best_local_ = std::move(best);
}

}  // namespace fedrec
