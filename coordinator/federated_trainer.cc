#include "coordinator/federated_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "aggregation/fixed_point.h"
#include "aggregation/secure_sum.h"
#include "aggregation/server_optimizer.h"
#include "comm/factory.h"
#include "comm/local_collective.h"
#include "comm/mpi_collective.h"
#include "coordinator/run_common.h"
#include "coordinator/run_dir.h"
#include "core/atomic_file.h"
#include "core/logging.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "core/timing.h"
#include "data/loader.h"
#include "data/partition.h"
#include "data/split.h"
#include "models/evaluation.h"
#include "models/factory.h"
#include "models/mf.h"
#include "privacy/accountant.h"
#include "privacy/adaptive_clip.h"
#include "privacy/ddg.h"
#include "privacy/gaussian.h"
#include "privacy/ledger.h"
#include "privacy/pld.h"
#include "spdlog/spdlog.h"
#include "worker/worker.h"

namespace fedrec {
namespace {

// ---------------------------------------------------------------------------
// What every process builds before any message is sent.

struct FederationSetup {
  Config config;
  Dataset data;
  std::unique_ptr<LeaveOneOutSplit> split;
  proto::ModelSpec spec;
  std::unique_ptr<Model> initial;                      // initialised from the seed
  std::vector<uint32_t> population;                    // clients: users with >= 2 training items
  std::vector<std::vector<uint32_t>> users_by_worker;  // population members per worker
  std::optional<FixedPointCodec> codec;
  uint32_t num_workers = 1;
  uint32_t threads_per_worker = 1;
  std::string backend;
  // Central DP (privacy.mode = "central"): the accountant's view of a round
  // and the resolved noise multiplier (given or calibrated).
  std::optional<privacy::LedgerOptions> dp;
  double expected_cohort = 0;  // the DP denominator: q N or the fixed m
  // Distributed DP (privacy.mode = "distributed"): the mechanism every rank
  // uses, the noise shares a release needs (rounds with fewer uploads are
  // not released), and the probability per round of that shortfall.
  std::optional<privacy::DdgMechanism> ddg;
  int64_t min_noise_shares = 0;
  double shortfall_probability = 0;
  // Adaptive clipping (privacy.adaptive_clip): the clip norm's rule, and under
  // central DP the update's own noise multiplier z_Delta (ATMR21 Thm. 1: the
  // update with z_Delta and the count with sigma_b together cost what one
  // Gaussian release with the accountant's sigma does).
  std::optional<privacy::AdaptiveClipConfig> adaptive_clip;
  double update_noise_multiplier = 0;

  // Distributed DP: the bound on P(some coordinate of a round's sum wraps).
  double WrapProbability() const {
    return std::min(1.0, static_cast<double>(ddg->padded_dim()) *
                             privacy::DdgWrapProbabilityPerCoordinate(ddg->params()));
  }

  // Words each client's encoding (and the round's sum) has.
  size_t EncodedLength() const {
    return ddg ? static_cast<size_t>(ddg->padded_dim()) : initial->global_params().size();
  }

  uint64_t MaxCohort() const {
    return config.federation.clients_per_round > 0
               ? std::min<uint64_t>(config.federation.clients_per_round, population.size())
               : population.size();
  }
};

// A shortfall of noise shares (or a coordinate wrapping mod 2^b) in a round
// may happen with at most this probability; a shortfall withholds the round.
// Withholding is decided on the upload count, so the run's real guarantee is
// that of a run that always has n shares, up to a total-variation slack of
// p per released round: delta grows by T p (1 + e^epsilon) (reported as
// delta_shortfall). With a target, p is lowered so that this stays below
// delta / 100.
constexpr double kDdgFailure = 1e-9;

// privacy.mode = "distributed": the distributed discrete Gaussian of KLS21
// (privacy/ddg.h). Every uploading client adds N_Z(0, (local_stddev/gamma)^2)
// to its rotated, rounded update, local_stddev = z C / sqrt(n), n = the noise
// shares a release needs: the released sum then holds at least the central
// noise z C. z is given or calibrated so that federation.rounds rounds of the
// Poisson-subsampled DDG (Zhu-Wang bound on KLS21's RDP) reach the target.
absl::Status ResolveDistributed(FederationSetup* s, privacy::LedgerOptions* o) {
  const Config& c = s->config;
  const int64_t population = static_cast<int64_t>(s->population.size());
  const double q = c.federation.sampling_rate;
  const double participation = q * (1.0 - c.federation.dropout_rate);
  double failure = kDdgFailure;
  if (c.privacy.target_epsilon && std::isfinite(*c.privacy.target_epsilon)) {
    failure = std::min(failure, o->delta / (100.0 * static_cast<double>(c.federation.rounds) *
                                            (1.0 + std::exp(*c.privacy.target_epsilon))));
  }
  s->min_noise_shares = c.privacy.min_clients > 0
                            ? c.privacy.min_clients
                            : privacy::MinimumNoiseShares(population, participation, failure);
  if (s->min_noise_shares < 1) {
    return absl::InvalidArgumentError(fmt::format(
        "privacy.mode: 'distributed' needs clients whose noise adds up, but with {} clients, q "
        "{} and dropout rate {} a round cannot count on even one upload (P >= 1 - {}); raise "
        "federation.sampling_rate or set privacy.min_clients",
        population, q, c.federation.dropout_rate, failure));
  }
  s->shortfall_probability =
      privacy::BinomialLowerTail(population, participation, s->min_noise_shares);
  const double clip = c.aggregation.clip_norm;
  const int64_t dim = static_cast<int64_t>(s->initial->global_params().size());
  const int64_t padded = privacy::DdgPaddedDim(dim);
  const int bits = static_cast<int>(c.aggregation.bits);
  const double k_stddevs = privacy::DdgStddevsFor(padded, kDdgFailure);
  auto params_for = [&](double z) -> absl::StatusOr<privacy::DdgParams> {
    privacy::DdgParams p;
    p.dim = dim;
    p.clip = clip;
    p.bits = bits;
    p.num_clients = s->min_noise_shares;
    p.local_stddev = z * clip / std::sqrt(static_cast<double>(s->min_noise_shares));
    // The modulus must hold a sum over up to every client of the federation.
    FEDREC_ASSIGN_OR_RETURN(p.gamma, privacy::ChooseDdgGamma(clip, padded, population, bits,
                                                             k_stddevs, p.local_stddev));
    FEDREC_RETURN_IF_ERROR(privacy::ValidateDdgParams(p));
    return p;
  };
  auto round_rdp = [&](double z) -> absl::StatusOr<std::vector<double>> {
    FEDREC_ASSIGN_OR_RETURN(privacy::DdgParams p, params_for(z));
    return privacy::DdgPoissonSubsampledRdp(p, q, privacy::DefaultRdpOrders());
  };
  double z = c.privacy.noise_multiplier;
  if (z == 0) {
    if (!std::isfinite(*c.privacy.target_epsilon)) {
      return absl::InvalidArgumentError(
          "privacy.target_epsilon: inf needs no noise; set privacy.mode = \"none\"");
    }
    const int64_t rounds = c.federation.rounds;
    absl::StatusOr<double> calibrated = privacy::SmallestSigmaWithin(
        *c.privacy.target_epsilon, 1.0, 1e-5, /*halve_below=*/true,
        [&](double zz) -> absl::StatusOr<double> {
          FEDREC_ASSIGN_OR_RETURN(std::vector<double> one, round_rdp(zz));
          return privacy::RdpCurveEpsilon(one, rounds, o->delta);
        });
    if (!calibrated.ok()) {
      return WithContext(calibrated.status(), "privacy: calibrating the distributed noise");
    }
    z = *calibrated;
  }
  FEDREC_ASSIGN_OR_RETURN(privacy::DdgParams params, params_for(z));
  FEDREC_ASSIGN_OR_RETURN(s->ddg, privacy::DdgMechanism::Create(params));
  FEDREC_ASSIGN_OR_RETURN(o->round_rdp, round_rdp(z));
  o->noise_multiplier = z;
  return absl::OkStatus();
}

// privacy.mode = "central" or "distributed": the accountant's parameters of
// one round, and sigma (given, or calibrated so that federation.rounds rounds
// reach privacy.target_epsilon with the configured accountant).
absl::Status ResolvePrivacy(FederationSetup* s) {
  const Config& c = s->config;
  if (c.privacy.mode == "none") return absl::OkStatus();
  privacy::LedgerOptions o;
  o.accountant = c.privacy.accountant;
  o.mode = c.privacy.mode;
  o.delta = c.privacy.delta;
  o.target_epsilon = c.privacy.target_epsilon;
  o.noise_seed_pinned = c.privacy.noise_seed.has_value();
  const double n = static_cast<double>(s->population.size());
  if (c.federation.clients_per_round > 0) {
    o.scheme = privacy::SamplingScheme::kFixedSize;
    s->expected_cohort = static_cast<double>(s->MaxCohort());
    o.sampling_rate = s->expected_cohort / n;
  } else {
    o.scheme = privacy::SamplingScheme::kPoisson;
    o.sampling_rate = c.federation.sampling_rate;
    s->expected_cohort = c.federation.sampling_rate * n;
  }
  o.noise_multiplier = c.privacy.noise_multiplier;
  if (c.privacy.mode == "distributed") {
    FEDREC_RETURN_IF_ERROR(ResolveDistributed(s, &o));
  } else if (o.noise_multiplier == 0) {
    if (!std::isfinite(*c.privacy.target_epsilon)) {
      return absl::InvalidArgumentError(
          "privacy.target_epsilon: inf needs no noise; set privacy.mode = \"none\"");
    }
    const int64_t rounds = c.federation.rounds;
    absl::StatusOr<double> sigma =
        o.accountant == "pld"
            ? privacy::CalibrateNoiseMultiplierPld(o.sampling_rate, rounds, o.delta,
                                                   *c.privacy.target_epsilon)
            : privacy::CalibrateNoiseMultiplier(o.sampling_rate, rounds, o.delta,
                                                *c.privacy.target_epsilon, {.scheme = o.scheme});
    if (!sigma.ok()) return WithContext(sigma.status(), "privacy: calibrating sigma");
    o.noise_multiplier = *sigma;
  }
  // Checks the combination once (e.g. pld with a fixed cohort is refused).
  FEDREC_RETURN_IF_ERROR(privacy::PrivacyLedger::Create(o).status());
  s->dp = o;
  s->update_noise_multiplier = o.noise_multiplier;
  return absl::OkStatus();
}

// privacy.adaptive_clip: the clip norm starts at aggregation.clip_norm and
// tracks privacy.clip_quantile of the update norms (ATMR21, Alg. 1). Under
// central DP the count is noised with sigma_b and the update's multiplier
// shrinks to z_Delta so the pair costs exactly the accountant's sigma; without
// DP the count is exact.
absl::Status ResolveAdaptiveClip(FederationSetup* s) {
  const Config& c = s->config;
  if (!c.privacy.adaptive_clip) return absl::OkStatus();
  privacy::AdaptiveClipConfig a;
  a.initial_clip = c.aggregation.clip_norm;
  a.target_quantile = c.privacy.clip_quantile;
  a.learning_rate = c.privacy.clip_lr;
  a.expected_clients = c.federation.clients_per_round > 0
                           ? static_cast<double>(s->MaxCohort())
                           : c.federation.sampling_rate * static_cast<double>(s->population.size());
  if (s->dp) {
    a.count_stddev =
        c.privacy.clip_count_stddev > 0 ? c.privacy.clip_count_stddev : a.expected_clients / 20.0;
    absl::StatusOr<double> z_delta =
        privacy::UpdateNoiseMultiplier(s->dp->noise_multiplier, a.count_stddev);
    if (!z_delta.ok()) return WithContext(z_delta.status(), "privacy.adaptive_clip");
    s->update_noise_multiplier = *z_delta;
  }
  FEDREC_RETURN_IF_ERROR(
      WithContext(privacy::ValidateAdaptiveClipConfig(a), "privacy.adaptive_clip"));
  s->adaptive_clip = a;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FederationSetup>> BuildSetup(const Config& config,
                                                            uint32_t num_workers,
                                                            uint32_t threads_per_worker,
                                                            std::string backend) {
  auto s = std::make_unique<FederationSetup>();
  s->config = config;
  s->num_workers = num_workers;
  s->threads_per_worker = threads_per_worker;
  s->backend = std::move(backend);
  if (config.data.path.empty()) {
    return absl::InvalidArgumentError("config: data.path: required by `fedrec train`");
  }
  if (config.model.type == "pop") {
    return absl::InvalidArgumentError(
        "config: model.type: 'pop' has nothing to train; evaluate it with `fedrec eval --model "
        "pop`");
  }
  LoadOptions load;
  FEDREC_RETURN_IF_ERROR(ApplyDataConfig(config.data, &load));
  FEDREC_ASSIGN_OR_RETURN(s->data, LoadDataset(config.data.path, load));
  s->split = std::make_unique<LeaveOneOutSplit>(s->data);
  FEDREC_ASSIGN_OR_RETURN(s->spec,
                          ModelSpecFromConfig(config, s->data.num_users(), s->data.num_items()));
  if (s->spec.type() == "mf_rating") {
    (*s->spec.mutable_extra())["global_mean"] = std::to_string(TrainingMeanRating(*s->split));
  }
  FEDREC_ASSIGN_OR_RETURN(s->initial, CreateModel(s->spec));
  s->initial->Initialize(config.seed);

  for (uint32_t u = 0; u < s->data.num_users(); ++u) {
    if (s->split->Train(u).size() >= 2) s->population.push_back(u);
  }
  if (s->population.empty()) {
    return absl::InvalidArgumentError(config.data.path + ": no user has two training interactions");
  }
  FEDREC_ASSIGN_OR_RETURN(PartitionSpec pspec, ParsePartitionSpec(config.federation.partition));
  FEDREC_ASSIGN_OR_RETURN(std::vector<uint32_t> assignment,
                          AssignWorkers(s->data, pspec, num_workers, config.seed));
  s->users_by_worker.assign(num_workers, {});
  for (uint32_t u : s->population) s->users_by_worker[assignment[u]].push_back(u);

  FEDREC_ASSIGN_OR_RETURN(s->codec,
                          FixedPointCodec::Derive(static_cast<int>(config.aggregation.bits),
                                                  config.aggregation.clip_norm, s->MaxCohort()));
  FEDREC_RETURN_IF_ERROR(ResolvePrivacy(s.get()));
  FEDREC_RETURN_IF_ERROR(ResolveAdaptiveClip(s.get()));
  return s;
}

WorkerOptions MakeWorkerOptions(const FederationSetup& s) {
  const Config& c = s.config;
  WorkerOptions o;
  o.client = {.seed = c.seed,
              .local_epochs = c.train.local_epochs,
              .local_lr = c.train.local_lr,
              .clip_norm = c.aggregation.clip_norm,
              .weight_by_examples = c.aggregation.weighting == "examples",
              .weight_cap = static_cast<uint64_t>(c.data.max_len),
              .noise_seed = c.privacy.noise_seed};
  o.cohort = {.seed = c.seed,
              .sampling_rate = c.federation.sampling_rate,
              .clients_per_round = static_cast<uint64_t>(c.federation.clients_per_round),
              .dropout_rate = c.federation.dropout_rate};
  o.threads = s.threads_per_worker;
  return o;
}

// The fixed-point codec of a round clipped at `clip` (adaptive clipping
// changes the clip, and with it the scale, every round).
absl::StatusOr<FixedPointCodec> CodecForClip(const FederationSetup& s, double clip) {
  if (clip == s.config.aggregation.clip_norm) return *s.codec;
  absl::StatusOr<FixedPointCodec> codec =
      FixedPointCodec::Derive(static_cast<int>(s.config.aggregation.bits), clip, s.MaxCohort());
  if (!codec.ok()) return WithContext(codec.status(), "adaptive clipping");
  return codec;
}

// How round `round`'s clients encode their updates (the same on every rank);
// `codec` must outlive the result.
RoundEncoding RoundEncodingFor(const FederationSetup& s, uint32_t round,
                               const FixedPointCodec& codec, double clip) {
  RoundEncoding e(codec);
  e.clip_norm = clip;
  if (s.ddg) {
    e.ddg = &*s.ddg;
    e.ddg_rotation_seed = DdgRotationSeed(s.config.seed, round);
  }
  return e;
}

// ---------------------------------------------------------------------------
// Commands: [u32 header length][JSON header][raw payload].

std::string PackCommand(const nlohmann::json& header, std::span<const float> payload = {},
                        std::span<const float> payload2 = {},
                        std::span<const float> payload3 = {}) {
  const std::string h = header.dump();
  const uint32_t n = static_cast<uint32_t>(h.size());
  std::string out(4, '\0');
  std::memcpy(out.data(), &n, 4);
  out += h;
  for (auto p : {payload, payload2, payload3}) {
    out.append(reinterpret_cast<const char*>(p.data()), p.size_bytes());
  }
  return out;
}

struct Command {
  nlohmann::json header;
  std::span<const float> payload;  // into the message buffer
};

absl::StatusOr<Command> UnpackCommand(const std::string& msg) {
  uint32_t n = 0;
  if (msg.size() < 4) return absl::InternalError("federation: truncated command");
  std::memcpy(&n, msg.data(), 4);
  if (msg.size() < 4 + static_cast<size_t>(n) || (msg.size() - 4 - n) % sizeof(float) != 0) {
    return absl::InternalError("federation: malformed command");
  }
  Command c;
  try {
    c.header = nlohmann::json::parse(msg.substr(4, n));
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("federation: bad command header: ") + e.what());
  }
  c.payload = {reinterpret_cast<const float*>(msg.data() + 4 + n),
               (msg.size() - 4 - n) / sizeof(float)};
  return c;
}

// Sums `words` (mod 2^bits) over ranks in place.
absl::Status AllreduceWords(Collective& comm, int bits, std::vector<uint64_t>& words) {
  if (bits == 64) return comm.AllreduceSum(std::span<uint64_t>(words));
  std::vector<uint32_t> narrow(words.size());
  for (size_t i = 0; i < words.size(); ++i) narrow[i] = static_cast<uint32_t>(words[i]);
  FEDREC_RETURN_IF_ERROR(comm.AllreduceSum(std::span<uint32_t>(narrow)));
  for (size_t i = 0; i < words.size(); ++i) words[i] = narrow[i];
  return absl::OkStatus();
}

EvalOptions EvalOptionsFrom(const Config& c, const nlohmann::json& h) {
  EvalOptions o;
  o.protocol =
      h.at("protocol").get<std::string>() == "full" ? EvalProtocol::kFull : EvalProtocol::kSampled;
  o.part = h.at("part").get<std::string>() == "test" ? SplitPart::kTest : SplitPart::kValidation;
  o.k = static_cast<uint32_t>(c.eval.k);
  o.negatives = static_cast<uint32_t>(c.eval.negatives);
  o.seed = c.seed;
  return o;
}

// ---------------------------------------------------------------------------
// Secure aggregation glue (issue #6): the round's sum goes through
// RunSecureSum instead of a plain allreduce. Scope "worker": one participant
// per worker carrying its clients' summed encoding; scope "client": one per
// sampled client, each masking its own encoding (dropped clients completed
// the key setup and then vanished before upload).

struct Participant {
  uint64_t id = 0;
  const std::vector<uint64_t>* words = nullptr;  // nullptr: a dropped client
  bool drops_before_upload = false;
};

struct SecureRoundOutcome {
  bool aborted = false;
  std::string abort_reason;
  std::vector<uint64_t> sum;  // rank 0
  uint64_t included = 0;      // rank 0: participants whose input is in the sum
  secagg::SecureSumStats stats;
};

secagg::SecaggParams SecaggParamsFrom(const Config& c) {
  secagg::SecaggParams p;
  p.bits = static_cast<int>(c.aggregation.bits);
  p.graph = c.secagg.graph;
  p.degree = c.secagg.degree;
  p.threshold = c.secagg.threshold;
  p.authenticate = c.secagg.authenticate;
  p.expected_dropout = c.federation.dropout_rate;
  return p;
}

template <typename Word>
absl::StatusOr<SecureRoundOutcome> SecureSumAs(Collective& comm, const Config& c, uint32_t round,
                                               const std::vector<Participant>& parts,
                                               size_t length) {
  std::vector<std::vector<Word>> narrow(parts.size());
  std::vector<secagg::HostedParticipant<Word>> hosted(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    narrow[i].assign(length, 0);
    if (parts[i].words != nullptr) {
      for (size_t j = 0; j < length; ++j) narrow[i][j] = static_cast<Word>((*parts[i].words)[j]);
    }
    hosted[i] = {.id = parts[i].id,
                 .input = narrow[i],
                 .drops_before_upload = parts[i].drops_before_upload,
                 .drops_before_unmask = false};
  }
  FEDREC_ASSIGN_OR_RETURN(
      secagg::SecureSumResult<Word> r,
      secagg::RunSecureSum<Word>(comm, SecaggParamsFrom(c), round,
                                 std::span<const secagg::HostedParticipant<Word>>(hosted), length));
  SecureRoundOutcome out;
  out.aborted = r.aborted;
  out.abort_reason = r.abort_reason;
  out.sum.assign(r.sum.begin(), r.sum.end());
  out.included = r.included_ids.size();
  out.stats = r.stats;
  return out;
}

absl::StatusOr<SecureRoundOutcome> SecureSum(Collective& comm, const Config& c, uint32_t round,
                                             const std::vector<Participant>& parts, size_t length) {
  if (c.aggregation.bits == 64) return SecureSumAs<uint64_t>(comm, c, round, parts, length);
  return SecureSumAs<uint32_t>(comm, c, round, parts, length);
}

// ---------------------------------------------------------------------------
// Worker ranks.

absl::StatusOr<std::unique_ptr<Worker>> CreateWorker(const FederationSetup& s, uint32_t index) {
  return Worker::Create(s.spec, *s.split, s.users_by_worker[index], s.population,
                        s.initial->global_params(), s.initial->local_params(),
                        MakeWorkerOptions(s));
}

// Serves the coordinator's commands until "stop".
absl::Status WorkerLoop(Collective& comm, const FederationSetup& s, Worker* worker,
                        uint32_t index) {
  const size_t num_params = worker->global().size();
  const int bits = s.codec->bits();
  for (;;) {
    std::string msg;
    FEDREC_RETURN_IF_ERROR(comm.Broadcast(&msg, 0));
    FEDREC_ASSIGN_OR_RETURN(Command cmd, UnpackCommand(msg));
    const std::string name = cmd.header.at("cmd");
    if (name == "stop") return absl::OkStatus();
    if (name == "restore") {
      const size_t local_size = worker->local() ? worker->local()->size() : 0;
      const bool has_best = cmd.header.at("has_best");
      const size_t expect = num_params + local_size * (has_best ? 2 : 1);
      if (cmd.payload.size() != expect) return absl::InternalError("restore: payload size");
      std::memcpy(worker->global().Flat().data(), cmd.payload.data(), num_params * 4);
      worker->SetLocalFrom(cmd.payload.subspan(num_params, local_size),
                           has_best ? cmd.payload.subspan(num_params + local_size, local_size)
                                    : std::span<const float>{});
      continue;
    }
    if (cmd.header.value("params", false)) {
      if (cmd.payload.size() != num_params) return absl::InternalError("command: params size");
      std::memcpy(worker->global().Flat().data(), cmd.payload.data(), num_params * 4);
    }
    if (name == "train") {
      const uint32_t round = cmd.header.at("round").get<uint32_t>();
      const double clip = cmd.header.at("clip").get<double>();
      const size_t length = s.EncodedLength();
      FEDREC_ASSIGN_OR_RETURN(const FixedPointCodec codec, CodecForClip(s, clip));
      const RoundEncoding encoding = RoundEncodingFor(s, round, codec, clip);
      std::vector<uint64_t> acc(length, 0);
      WorkerRoundStats stats;
      if (!s.config.secagg.enabled) {
        stats = worker->TrainRound(round, encoding, acc);
        Stopwatch sw;
        FEDREC_RETURN_IF_ERROR(AllreduceWords(comm, bits, acc));
        stats.seconds_allreduce = sw.ElapsedSeconds();
      } else if (s.config.secagg.scope == "worker") {
        stats = worker->TrainRound(round, encoding, acc);
        Stopwatch sw;
        FEDREC_RETURN_IF_ERROR(
            SecureSum(comm, s.config, round, {{.id = index, .words = &acc}}, length).status());
        stats.seconds_allreduce = sw.ElapsedSeconds();
      } else {
        std::vector<Worker::ClientUpload> uploads;
        stats = worker->TrainRound(round, encoding, acc, &uploads);
        std::vector<Participant> parts;
        parts.reserve(uploads.size());
        for (const auto& u : uploads) {
          parts.push_back({.id = u.user,
                           .words = u.dropped ? nullptr : &u.words,
                           .drops_before_upload = u.dropped});
        }
        Stopwatch sw;
        FEDREC_RETURN_IF_ERROR(SecureSum(comm, s.config, round, parts, length).status());
        stats.seconds_allreduce = sw.ElapsedSeconds();
      }
      FEDREC_RETURN_IF_ERROR(comm.Gather(stats.Serialize(), 0).status());
    } else if (name == "eval") {
      absl::StatusOr<EvalResult> r =
          worker->Evaluate(EvalOptionsFrom(s.config, cmd.header), cmd.header.at("best_local"));
      std::vector<uint64_t> sums(5, 0);
      if (r.ok()) {
        sums = {r->sums.hr, r->sums.ndcg, r->sums.mrr, r->sums.users, r->skipped_users};
      }
      sums.push_back(r.ok() ? 0 : 1);
      FEDREC_RETURN_IF_ERROR(comm.AllreduceSum(std::span<uint64_t>(sums)));
    } else if (name == "best") {
      worker->SnapshotBestLocal();
    } else if (name == "local") {
      FEDREC_RETURN_IF_ERROR(comm.Gather(worker->LocalRows(cmd.header.at("best")), 0).status());
    } else {
      return absl::InternalError("federation: unknown command '" + name + "'");
    }
  }
}

// ---------------------------------------------------------------------------
// The coordinator (rank 0).

struct PhaseSeconds {
  double broadcast = 0, local_train = 0, encode = 0, allreduce = 0, straggler_wait = 0,
         decode_update = 0, eval = 0, checkpoint = 0, secagg = 0;
  nlohmann::json Json() const {
    return {{"broadcast", broadcast},
            {"local_train", local_train},
            {"encode", encode},
            {"allreduce", allreduce},
            {"straggler_wait", straggler_wait},
            {"decode_update", decode_update},
            {"eval", eval},
            {"checkpoint", checkpoint},
            {"secagg", secagg}};
  }
  void Add(const PhaseSeconds& o) {
    broadcast += o.broadcast;
    local_train += o.local_train;
    encode += o.encode;
    allreduce += o.allreduce;
    straggler_wait += o.straggler_wait;
    decode_update += o.decode_update;
    eval += o.eval;
    checkpoint += o.checkpoint;
    secagg += o.secagg;
  }
};

class Coordinator {
 public:
  Coordinator(Collective& comm, const FederationSetup& s, RunDirectory dir,
              const TrainRunOptions& run)
      : comm_(comm), s_(s), c_(s.config), dir_(std::move(dir)), run_(run) {}

  absl::Status Setup() {
    FEDREC_ASSIGN_OR_RETURN(model_, CreateModel(s_.spec));
    model_->global_params() = s_.initial->global_params();
    if (ParameterStore* local = model_->local_params()) *local = *s_.initial->local_params();
    const FederationConfig& f = c_.federation;
    FEDREC_ASSIGN_OR_RETURN(optimizer_, ServerOptimizer::Create({.kind = f.server_optimizer,
                                                                 .lr = f.server_lr,
                                                                 .momentum = f.server_momentum,
                                                                 .beta1 = f.server_beta1,
                                                                 .beta2 = f.server_beta2,
                                                                 .tau = f.server_tau},
                                                                model_->global_params().size()));
    if (s_.dp) {
      FEDREC_ASSIGN_OR_RETURN(ledger_, privacy::PrivacyLedger::Create(*s_.dp));
      FEDREC_ASSIGN_OR_RETURN(noise_, privacy::GaussianNoise::Create(c_.privacy.noise_seed));
    }
    if (s_.adaptive_clip) {
      FEDREC_ASSIGN_OR_RETURN(clip_rule_, privacy::AdaptiveClip::Create(*s_.adaptive_clip));
    }
    return absl::OkStatus();
  }

  absl::Status Resume(const Checkpoint& ckpt) {
    FEDREC_RETURN_IF_ERROR(
        WithContext(StoreFromTensors(ckpt.tensors(), &model_->global_params()), "checkpoint"));
    if (ParameterStore* local = model_->local_params()) {
      FEDREC_RETURN_IF_ERROR(
          WithContext(StoreFromTensors(ckpt.local_tensors(), local), "checkpoint"));
    }
    FEDREC_RETURN_IF_ERROR(
        WithContext(optimizer_->LoadState(ckpt.server_optimizer()), "checkpoint"));
    if (ledger_) {
      FEDREC_ASSIGN_OR_RETURN(ledger_, privacy::PrivacyLedger::FromProto(*s_.dp, ckpt.ledger()));
    }
    if (clip_rule_ && !ckpt.adaptive_clip_json().empty()) {
      nlohmann::json state;
      try {
        state = nlohmann::json::parse(ckpt.adaptive_clip_json());
      } catch (const std::exception& e) {
        return absl::InvalidArgumentError(std::string("checkpoint: adaptive_clip_json: ") +
                                          e.what());
      }
      FEDREC_ASSIGN_OR_RETURN(clip_rule_, privacy::AdaptiveClip::FromJson(state));
    }
    start_round_ = static_cast<uint32_t>(ckpt.round());
    best_round_ = ckpt.best_round();
    for (const auto& [name, value] : ckpt.best_valid_metrics()) best_valid_[name] = value;
    if (best_valid_.contains("score")) best_score_ = best_valid_["score"];
    std::optional<ParameterStore> best_local;
    if (best_round_ > 0) {
      FEDREC_RETURN_IF_ERROR(
          LoadBestModel(dir_.BestCheckpointPath(), *model_, &best_params_, &best_local));
    }
    // Workers take their users' rows of the local parameters.
    std::span<const float> local_span, best_span;
    if (const ParameterStore* local = model_->local_params()) local_span = local->Flat();
    if (best_local) best_span = best_local->Flat();
    std::string msg = PackCommand({{"cmd", "restore"}, {"has_best", !best_span.empty()}},
                                  model_->global_params().Flat(), local_span, best_span);
    FEDREC_RETURN_IF_ERROR(comm_.Broadcast(&msg, 0));
    workers_current_ = true;
    return dir_.TruncateMetricsAfter(start_round_);
  }

  absl::Status ForgetMetrics() { return dir_.TruncateMetricsAfter(0); }

  absl::StatusOr<nlohmann::json> Run() {
    Stopwatch wall;
    const uint32_t rounds = static_cast<uint32_t>(c_.federation.rounds);
    LogStart();
    ProgressReporter progress("rounds", rounds - std::min(rounds, start_round_),
                              ProgressOptions{.quiet = run_.quiet});
    uint64_t max_released = std::numeric_limits<uint64_t>::max();
    if (ledger_) {
      FEDREC_ASSIGN_OR_RETURN(max_released, ledger_->MaxRounds(rounds));
    }
    last_round_ = start_round_;
    for (uint32_t round = start_round_ + 1; round <= rounds; ++round) {
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
      FEDREC_ASSIGN_OR_RETURN(nlohmann::json line, TrainRound(round));
      last_round_ = round;
      // The last round: the configured one, or the last the budget allows.
      const bool last = round == rounds || (ledger_ && ledger_->steps() >= max_released);
      const uint32_t every = static_cast<uint32_t>(c_.eval.every);
      if ((every != 0 && round % every == 0) || last) {
        FEDREC_RETURN_IF_ERROR(EvalRound(round, &line));
      }
      const uint32_t ckpt_every = static_cast<uint32_t>(c_.checkpoint.every);
      if ((ckpt_every != 0 && round % ckpt_every == 0) || last) {
        Stopwatch sw;
        FEDREC_ASSIGN_OR_RETURN(Checkpoint ckpt, MakeCheckpoint(round, /*best=*/false));
        FEDREC_RETURN_IF_ERROR(
            dir_.WriteRoundCheckpoint(round, ckpt, static_cast<uint32_t>(c_.checkpoint.keep)));
        line["seconds"]["checkpoint"] = sw.ElapsedSeconds();
        totals_.checkpoint += sw.ElapsedSeconds();
      }
      FEDREC_RETURN_IF_ERROR(dir_.AppendMetrics(line));
      progress.Advance();
    }
    progress.Finish();
    return Finish(wall.ElapsedSeconds());
  }

 private:
  uint32_t K() const { return static_cast<uint32_t>(c_.eval.k); }

  void LogStart() const {
    const FederationConfig& f = c_.federation;
    const std::string cohort =
        f.clients_per_round > 0
            ? fmt::format("fixed cohort of {}", s_.MaxCohort())
            : fmt::format("Poisson q = {} (expected {:.1f} clients)", f.sampling_rate,
                          f.sampling_rate * static_cast<double>(s_.population.size()));
    spdlog::info("federated: {} workers over '{}', {} clients, {}, server {} (lr {})",
                 s_.num_workers, s_.backend, s_.population.size(), cohort, f.server_optimizer,
                 f.server_lr);
    spdlog::info("aggregation: {}", s_.codec->Describe());
    if (s_.ddg) {
      const privacy::DdgParams& p = s_.ddg->params();
      spdlog::info(
          "privacy: distributed DP (discrete Gaussian, KLS21), central-equivalent sigma {:.4f}{}, "
          "q {:.5f} (Poisson), delta {}, rdp accountant; each client adds noise of std {:.4g} "
          "(= sigma C / sqrt({})) on a grid of {:.3g} in Z_2^{} over {} rotated coordinates",
          s_.dp->noise_multiplier, c_.privacy.noise_multiplier == 0 ? " (calibrated)" : "",
          s_.dp->sampling_rate, c_.privacy.delta, p.local_stddev, s_.min_noise_shares, p.gamma,
          p.bits, s_.ddg->padded_dim());
      spdlog::info(
          "privacy: a round is released only with >= {} uploads (P(fewer) = {:.2g} per round); "
          "P(any coordinate wraps) <= {:.2g} per round",
          s_.min_noise_shares, s_.shortfall_probability, s_.WrapProbability());
    } else if (s_.dp) {
      spdlog::info(
          "privacy: central DP, sigma {:.4f}{}, q {:.5f} ({} sampling), delta {}, {} accountant, "
          "denominator {:.1f} (expected cohort)",
          s_.dp->noise_multiplier, c_.privacy.noise_multiplier == 0 ? " (calibrated)" : "",
          s_.dp->sampling_rate, f.clients_per_round > 0 ? "fixed-size" : "Poisson",
          c_.privacy.delta, c_.privacy.accountant, s_.expected_cohort);
    }
    if (s_.adaptive_clip) {
      const privacy::AdaptiveClipConfig& a = *s_.adaptive_clip;
      spdlog::info(
          "clipping: adaptive (Andrew et al. 2021) from {} towards the {} quantile of update "
          "norms, lr {}, count noise std {}{}",
          a.initial_clip, a.target_quantile, a.learning_rate, a.count_stddev,
          s_.dp ? fmt::format("; update noise multiplier {:.4f} so that update and count "
                              "together cost sigma {:.4f}",
                              s_.update_noise_multiplier, s_.dp->noise_multiplier)
                : std::string(" (no DP: the count is exact)"));
    }
    if (s_.dp) {
      if (c_.privacy.noise_seed) {
        spdlog::warn(
            "privacy.noise_seed = {} PINS THE DP NOISE: it is reproducible and NOT secret. This "
            "run is an experiment, not a private release.",
            *c_.privacy.noise_seed);
      }
    }
  }

  // Broadcasts a command, with the global parameters when the workers do not
  // have the current ones.
  absl::Status Send(nlohmann::json header, std::span<const float> params, bool params_changed) {
    header["params"] = params_changed;
    std::string msg = params_changed ? PackCommand(header, params) : PackCommand(header);
    return comm_.Broadcast(&msg, 0);
  }

  double CurrentClip() const { return clip_rule_ ? clip_rule_->clip() : c_.aggregation.clip_norm; }

  absl::StatusOr<nlohmann::json> TrainRound(uint32_t round) {
    PhaseSeconds t;
    Stopwatch round_sw;
    Stopwatch sw;
    const double clip = CurrentClip();
    FEDREC_ASSIGN_OR_RETURN(const FixedPointCodec codec, CodecForClip(s_, clip));
    FEDREC_RETURN_IF_ERROR(Send({{"cmd", "train"}, {"round", round}, {"clip", clip}},
                                model_->global_params().Flat(), !workers_current_));
    t.broadcast = sw.ElapsedSeconds();
    workers_current_ = true;
    std::vector<uint64_t> sum(s_.EncodedLength(), 0);
    std::optional<SecureRoundOutcome> secure;
    if (c_.secagg.enabled) {
      Stopwatch ssw;
      FEDREC_ASSIGN_OR_RETURN(secure, SecureSum(comm_, c_, round, {}, sum.size()));
      t.secagg = ssw.ElapsedSeconds();
      if (!secure->aborted) sum = std::move(secure->sum);
    } else {
      FEDREC_RETURN_IF_ERROR(AllreduceWords(comm_, s_.codec->bits(), sum));
    }
    FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> replies, comm_.Gather("", 0));
    WorkerRoundStats stats;
    double min_allreduce = 1e300;
    for (int r = 1; r < comm_.size(); ++r) {
      FEDREC_ASSIGN_OR_RETURN(WorkerRoundStats w, WorkerRoundStats::Parse(replies[r]));
      stats.Add(w);
      min_allreduce = std::min(min_allreduce, w.seconds_allreduce);
    }
    if (!stats.error.empty()) return absl::InternalError("worker: " + stats.error);
    t.local_train = stats.seconds_train;
    t.encode = stats.seconds_encode;
    t.allreduce = min_allreduce;
    t.straggler_wait = stats.seconds_allreduce - min_allreduce;

    sw.Reset();
    // The cohort denominator: uploaded clients, or their summed weights;
    // under central DP the expected cohort (a realised count would leak).
    double denominator = static_cast<double>(stats.uploaded);
    if (c_.aggregation.weighting == "examples") {
      denominator =
          static_cast<double>(stats.capped_examples) / static_cast<double>(c_.data.max_len);
    }
    if (ledger_) denominator = s_.expected_cohort;
    std::optional<double> epsilon;
    std::string withheld;  // why the round released nothing
    if (secure && secure->aborted) {
      // Too few survivors: nothing is decoded, nothing released, nothing
      // spent (privacy/ledger.h); the model stays as it was.
      withheld = "secure aggregation aborted: " + secure->abort_reason;
      spdlog::warn("round {}: {}", round, withheld);
    } else if (s_.ddg && stats.uploaded < static_cast<uint64_t>(s_.min_noise_shares)) {
      // Distributed DP: the sum holds fewer noise shares than the accounting
      // assumes, so it is never decoded (probability <= shortfall_probability
      // per round); like an abort it releases and spends nothing.
      withheld = fmt::format("{} uploads < {} noise shares the release needs", stats.uploaded,
                             s_.min_noise_shares);
      spdlog::warn("round {}: not released: {}", round, withheld);
    } else if (ledger_ || (stats.uploaded > 0 && denominator > 0)) {
      // Under DP the round releases even when every client dropped: noise
      // only, and it spends budget.
      std::vector<double> delta;
      if (s_.ddg) {
        FEDREC_ASSIGN_OR_RETURN(delta, s_.ddg->Decode(sum, DdgRotationSeed(c_.seed, round)));
      } else {
        delta.resize(sum.size());
        for (size_t i = 0; i < sum.size(); ++i) delta[i] = codec.Decode(sum[i]);
      }
      if (ledger_ && !s_.ddg) {
        FEDREC_RETURN_IF_ERROR(noise_->Add(delta, s_.update_noise_multiplier * clip, round));
      }
      for (double& v : delta) v /= denominator;
      optimizer_->Step(delta, model_->global_params().Flat());
      workers_current_ = false;
      if (ledger_) {
        FEDREC_RETURN_IF_ERROR(ledger_->Record(round, clip, stats.sampled));
        epsilon = ledger_->RdpEpsilonNow();
      }
      if (clip_rule_) {
        // The next round's clip, from this round's (noisy) unclipped count.
        const auto unclipped = static_cast<int64_t>(stats.uploaded - stats.clipped);
        const auto participants = static_cast<int64_t>(stats.uploaded);
        FEDREC_RETURN_IF_ERROR(ledger_ ? clip_rule_->Update(unclipped, participants, *noise_, round)
                                       : clip_rule_->UpdateWithNoise(unclipped, participants, 0.0));
      }
    }
    t.decode_update = sw.ElapsedSeconds();
    const double round_seconds = round_sw.ElapsedSeconds();
    totals_.Add(t);
    uploaded_total_ += stats.uploaded;
    sampled_total_ += stats.sampled;
    const double updates_per_second =
        t.local_train + t.encode > 0 ? stats.uploaded / (t.local_train + t.encode) : 0;
    nlohmann::json line = {
        {"round", round},
        {"sampled", stats.sampled},
        {"dropped", stats.dropped},
        {"uploaded", stats.uploaded},
        {"loss", stats.uploaded ? static_cast<double>(stats.loss_fixed) / 4294967296.0 /
                                      static_cast<double>(stats.uploaded)
                                : 0.0},
        {"fraction_clipped",
         stats.uploaded ? static_cast<double>(stats.clipped) / static_cast<double>(stats.uploaded)
                        : 0.0},
        {"mean_update_norm", stats.uploaded ? static_cast<double>(stats.norm_fixed) / 4294967296.0 /
                                                  static_cast<double>(stats.uploaded)
                                            : 0.0},
        {"client_updates_per_second", updates_per_second},
        {"round_seconds", round_seconds},
        {"seconds", t.Json()}};
    if (epsilon) line["epsilon_rdp"] = *epsilon;
    if (!withheld.empty()) line["withheld"] = withheld;
    if (clip_rule_) {
      line["clip_norm"] = clip;
      if (std::isfinite(clip_rule_->last_fraction())) {
        line["noisy_unclipped_fraction"] = clip_rule_->last_fraction();
      }
    }
    if (secure) {
      line["secagg"] = {{"participants", secure->stats.participants},
                        {"survivors", secure->stats.survivors},
                        {"aborted", secure->aborted}};
      if (secure->aborted) line["secagg"]["abort_reason"] = secure->abort_reason;
    }
    return line;
  }

  absl::StatusOr<EvalResult> EvalCommand(SplitPart part, EvalProtocol protocol, bool best_local,
                                         std::span<const float> params, bool params_changed) {
    FEDREC_RETURN_IF_ERROR(Send({{"cmd", "eval"},
                                 {"part", SplitPartName(part)},
                                 {"protocol", EvalProtocolName(protocol)},
                                 {"best_local", best_local}},
                                params, params_changed));
    std::vector<uint64_t> sums(6, 0);
    FEDREC_RETURN_IF_ERROR(comm_.AllreduceSum(std::span<uint64_t>(sums)));
    if (sums[5] != 0) return absl::InternalError("evaluation failed on a worker");
    EvalResult r;
    r.sums.hr = sums[0];
    r.sums.ndcg = sums[1];
    r.sums.mrr = sums[2];
    r.sums.users = sums[3];
    r.skipped_users = sums[4];
    return r;
  }

  EvalProtocol Protocol() const {
    return c_.eval.protocol == "full" ? EvalProtocol::kFull : EvalProtocol::kSampled;
  }

  absl::Status EvalRound(uint32_t round, nlohmann::json* line) {
    Stopwatch sw;
    FEDREC_ASSIGN_OR_RETURN(EvalResult valid,
                            EvalCommand(SplitPart::kValidation, Protocol(), false,
                                        model_->global_params().Flat(), !workers_current_));
    workers_current_ = true;
    (*line)["valid"] = MetricsJson(valid.Mean(), K(), valid.sums.users);
    const double score = valid.Mean().ndcg;
    if (score > best_score_ || best_round_ == 0) {
      best_score_ = score;
      best_round_ = round;
      best_valid_ = {{"HR", valid.Mean().hr},
                     {"NDCG", valid.Mean().ndcg},
                     {"MRR", valid.Mean().mrr},
                     {"score", score}};
      best_params_ = model_->global_params();
      std::string msg = PackCommand({{"cmd", "best"}});
      FEDREC_RETURN_IF_ERROR(comm_.Broadcast(&msg, 0));
      FEDREC_ASSIGN_OR_RETURN(Checkpoint best, MakeCheckpoint(round, /*best=*/true));
      FEDREC_RETURN_IF_ERROR(dir_.WriteBestCheckpoint(best));
    }
    (*line)["seconds"]["eval"] = sw.ElapsedSeconds();
    totals_.eval += sw.ElapsedSeconds();
    spdlog::info("round {}/{}: loss {:.4f}, valid NDCG@{} {:.4f} (best {:.4f} at round {})", round,
                 c_.federation.rounds, (*line)["loss"].get<double>(), K(), score, best_score_,
                 best_round_);
    return absl::OkStatus();
  }

  // Collects the workers' rows of the (current or best) local parameters
  // into `store` (all users, global order).
  absl::Status GatherLocal(bool best, ParameterStore* store) {
    std::string msg = PackCommand({{"cmd", "local"}, {"best", best}});
    FEDREC_RETURN_IF_ERROR(comm_.Broadcast(&msg, 0));
    FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> parts, comm_.Gather("", 0));
    for (uint32_t w = 0; w < s_.num_workers; ++w) {
      const std::vector<uint32_t>& users = s_.users_by_worker[w];
      const std::string& bytes = parts[w + 1];
      size_t pos = 0;
      for (size_t k = 0; k < store->num_tensors(); ++k) {
        TensorView v = store->ViewAt(k);
        const size_t row_bytes = v.cols * sizeof(float);
        if (bytes.size() < pos + users.size() * row_bytes) {
          return absl::InternalError("local parameters: short reply from a worker");
        }
        for (uint32_t u : users) {
          std::memcpy(v.Row(u).data(), bytes.data() + pos, row_bytes);
          pos += row_bytes;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Checkpoint> MakeCheckpoint(uint32_t round, bool best) {
    if (ParameterStore* local = model_->local_params()) {
      FEDREC_RETURN_IF_ERROR(GatherLocal(best, local));
    }
    Checkpoint ckpt;
    SaveModel(s_.spec, *model_, &ckpt);
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
    ckpt.set_best_round(best_round_);
    for (const auto& [name, value] : best_valid_) {
      (*ckpt.mutable_best_valid_metrics())[name] = value;
    }
    FinishRunCheckpoint(c_, s_.data, round, &ckpt);
    return ckpt;
  }

  absl::StatusOr<nlohmann::json> Finish(double wall_seconds) {
    // The final checkpoint gathered the final local parameters.
    const std::string final_digest = ParamsDigest(*model_);
    const std::span<const float> best =
        best_params_ ? best_params_->Flat() : model_->global_params().Flat();
    nlohmann::json test;
    bool first = true;
    for (EvalProtocol p : {EvalProtocol::kSampled, EvalProtocol::kFull}) {
      FEDREC_ASSIGN_OR_RETURN(EvalResult r, EvalCommand(SplitPart::kTest, p, true, best, first));
      first = false;
      test[EvalProtocolName(p)] = MetricsJson(r.Mean(), K(), r.sums.users);
    }
    FEDREC_ASSIGN_OR_RETURN(EvalResult valid,
                            EvalCommand(SplitPart::kValidation, Protocol(), true, best, false));
    workers_current_ = false;
    const uint32_t rounds_run = static_cast<uint32_t>(c_.federation.rounds) - start_round_;
    const double train_phase = totals_.local_train + totals_.encode;
    nlohmann::json summary = {
        {"mode", "federated"},
        {"model", s_.spec.type()},
        {"backend", s_.backend},
        {"workers", s_.num_workers},
        {"threads_per_worker", s_.threads_per_worker},
        {"rounds", c_.federation.rounds},
        {"clients", s_.population.size()},
        {"aggregation", s_.codec->Describe()},
        {"server_optimizer", c_.federation.server_optimizer},
        {"best_round", best_round_},
        {"valid_at_best", MetricsJson(valid.Mean(), K(), valid.sums.users)},
        {"valid_protocol", EvalProtocolName(Protocol())},
        {"test_at_best", test},
        {"model_sha256", final_digest},
        {"wall_seconds", wall_seconds},
        {"rounds_this_session", rounds_run},
        {"seconds_this_session", totals_.Json()},
        {"client_updates_this_session", uploaded_total_},
        {"mean_cohort", rounds_run ? static_cast<double>(sampled_total_) / rounds_run : 0.0},
        {"client_updates_per_second",
         train_phase > 0 ? static_cast<double>(uploaded_total_) / train_phase : 0.0},
        {"users", s_.data.num_users()},
        {"items", s_.data.num_items()},
        {"interactions", s_.data.num_interactions()},
        {"last_round", last_round_}};
    if (!stop_reason_.empty()) summary["stopped_reason"] = stop_reason_;
    if (clip_rule_) {
      summary["adaptive_clip"] = clip_rule_->ToJson();
      if (s_.dp) summary["adaptive_clip"]["update_noise_multiplier"] = s_.update_noise_multiplier;
    }
    if (ledger_) {
      FEDREC_ASSIGN_OR_RETURN(double spent, ledger_->EpsilonNow());
      summary["privacy"] = {
          {"mode", c_.privacy.mode},
          {"accountant", c_.privacy.accountant},
          {"noise_multiplier", s_.dp->noise_multiplier},
          {"sampling_rate", s_.dp->sampling_rate},
          {"delta", c_.privacy.delta},
          {"target_epsilon", c_.privacy.target_epsilon ? nlohmann::json(*c_.privacy.target_epsilon)
                                                       : nlohmann::json(nullptr)},
          {"epsilon", spent},
          {"released_rounds", ledger_->steps()},
          {"noise_seed_pinned", noise_->pinned()}};
      if (s_.ddg) {
        const privacy::DdgParams& p = s_.ddg->params();
        summary["privacy"]["distributed"] = {
            {"mechanism", "distributed discrete Gaussian (Kairouz, Liu, Steinke 2021)"},
            {"local_stddev", p.local_stddev},
            {"gamma", p.gamma},
            {"bits", p.bits},
            {"beta", p.beta},
            {"dim", p.dim},
            {"padded_dim", s_.ddg->padded_dim()},
            {"min_noise_shares", s_.min_noise_shares},
            {"shortfall_probability_per_round", s_.shortfall_probability},
            {"delta_shortfall", static_cast<double>(ledger_->steps()) * s_.shortfall_probability *
                                    (1.0 + std::exp(spent))},
            {"wrap_probability_per_round", s_.WrapProbability()}};
      }
      if (noise_->pinned()) {
        summary["privacy"]["warning"] =
            "privacy.noise_seed pinned the DP noise: it is reproducible, NOT secret; this run "
            "is an experiment, not a private release";
      }
      // Also when no round ran this session (e.g. a budget too small for one).
      FEDREC_RETURN_IF_ERROR(
          WriteFileAtomic(dir_.path() + "/privacy.json", ledger_->ToJson(spent).dump(2) + "\n"));
    } else {
      summary["privacy"] = {{"mode", "none"}};
    }
    FEDREC_RETURN_IF_ERROR(dir_.WriteSummary(summary));
    return summary;
  }

  Collective& comm_;
  const FederationSetup& s_;
  const Config& c_;
  RunDirectory dir_;
  TrainRunOptions run_;
  std::unique_ptr<Model> model_;
  std::optional<ServerOptimizer> optimizer_;
  bool workers_current_ = false;  // do the workers hold model_'s global parameters?
  uint32_t start_round_ = 0;
  uint64_t best_round_ = 0;
  double best_score_ = -1e300;
  std::map<std::string, double> best_valid_;
  std::optional<ParameterStore> best_params_;
  PhaseSeconds totals_;
  std::optional<privacy::PrivacyLedger> ledger_;
  std::optional<privacy::GaussianNoise> noise_;
  std::optional<privacy::AdaptiveClip> clip_rule_;
  std::string stop_reason_;
  uint32_t last_round_ = 0;

  uint64_t uploaded_total_ = 0, sampled_total_ = 0;
};

// Rank 0's whole life: run directory, resume, rounds, stop.
absl::StatusOr<nlohmann::json> CoordinatorMain(Collective& comm, const FederationSetup& s,
                                               const TrainRunOptions& run) {
  std::optional<Checkpoint> resume_from;
  absl::StatusOr<RunDirectory> dir = run.resume
                                         ? RunDirectory::Reopen(run.out_dir)
                                         : RunDirectory::Create(run.out_dir, ToToml(s.config));
  absl::StatusOr<nlohmann::json> result = nlohmann::json();
  if (!dir.ok()) {
    result = dir.status();
  } else {
    if (run.resume) {
      if (auto latest = dir->LatestCheckpoint()) {
        absl::StatusOr<Checkpoint> ckpt = ReadCheckpoint(*latest);
        if (!ckpt.ok()) {
          result = ckpt.status();
        } else {
          resume_from = std::move(*ckpt);
        }
      }
    }
    if (result.ok()) {
      Coordinator coord(comm, s, std::move(*dir), run);
      absl::Status st = coord.Setup();
      if (st.ok() && resume_from) {
        st = coord.Resume(*resume_from);
      } else if (st.ok() && run.resume) {
        st = coord.ForgetMetrics();  // killed before its first checkpoint
      }
      result = st.ok() ? coord.Run() : absl::StatusOr<nlohmann::json>(st);
    }
  }
  // Whatever happened, release the workers.
  std::string msg = PackCommand({{"cmd", "stop"}});
  absl::Status stop = comm.Broadcast(&msg, 0);
  if (result.ok() && !stop.ok()) return stop;
  return result;
}

uint32_t LocalRanksPerNode() {
  if (const char* v = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) {
    const int n = std::atoi(v);
    if (n > 0) return static_cast<uint32_t>(n);
  }
  return 1;
}

}  // namespace

absl::StatusOr<nlohmann::json> RunFederatedTraining(const Config& config,
                                                    const TrainRunOptions& run) {
  // A Config built in code has not been through the parser's checks.
  FEDREC_RETURN_IF_ERROR(ValidateConfig(config, "config"));
  const bool mpi = config.backend.comm == "mpi" || (config.backend.comm == "auto" &&
                                                    LaunchedUnderMpirun() && MpirunWorldSize() > 1);
  if (config.backend.comm == "nccl") {
    return absl::UnimplementedError(
        "backend.comm: 'nccl' arrives with the GPU issue; use auto, local or mpi");
  }
  if (mpi) {
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Collective> comm, CreateCollective("mpi"));
    if (comm->size() < 2) {
      return absl::InvalidArgumentError(
          "federation: under MPI the job needs at least 2 ranks (rank 0 coordinates, ranks "
          "1.. are workers)");
    }
    const uint32_t workers = static_cast<uint32_t>(comm->size() - 1);
    const size_t cores = ResolveThreads(0);
    const uint32_t threads =
        config.backend.threads > 0
            ? static_cast<uint32_t>(config.backend.threads)
            : static_cast<uint32_t>(std::max<size_t>(1, cores / LocalRanksPerNode()));
    // Only the coordinator reports; workers speak up for warnings and errors.
    if (comm->rank() != 0) spdlog::set_level(spdlog::level::warn);
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<FederationSetup> setup,
                            BuildSetup(config, workers, threads, "mpi"));
    if (comm->rank() == 0) return CoordinatorMain(*comm, *setup, run);
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Worker> worker,
                            CreateWorker(*setup, static_cast<uint32_t>(comm->rank() - 1)));
    FEDREC_RETURN_IF_ERROR(
        WorkerLoop(*comm, *setup, worker.get(), static_cast<uint32_t>(comm->rank() - 1)));
    return nlohmann::json();
  }

  const uint32_t workers = static_cast<uint32_t>(config.federation.workers);
  const size_t cores = ResolveThreads(static_cast<size_t>(config.backend.threads));
  const uint32_t threads = static_cast<uint32_t>(std::max<size_t>(1, cores / workers));
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<FederationSetup> setup,
                          BuildSetup(config, workers, threads, "local"));
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<LocalCollectiveGroup> group,
                          LocalCollectiveGroup::Create(static_cast<int>(workers) + 1));
  // Workers are built before any thread starts, so a failure cannot leave a
  // rank waiting for a peer that never comes.
  std::vector<std::unique_ptr<Worker>> hosted;
  for (uint32_t w = 0; w < workers; ++w) {
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Worker> worker, CreateWorker(*setup, w));
    hosted.push_back(std::move(worker));
  }
  std::vector<absl::Status> worker_status(workers);
  std::vector<std::thread> pool;
  for (uint32_t w = 0; w < workers; ++w) {
    pool.emplace_back([&, w] {
      worker_status[w] =
          WorkerLoop(group->rank(static_cast<int>(w) + 1), *setup, hosted[w].get(), w);
    });
  }

  absl::StatusOr<nlohmann::json> result = CoordinatorMain(group->rank(0), *setup, run);
  for (auto& t : pool) t.join();
  for (const absl::Status& st : worker_status) {
    if (!st.ok() && result.ok()) return st;
  }
  return result;
}

}  // namespace fedrec
