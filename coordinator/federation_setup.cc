#include "coordinator/federation_setup.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "aggregation/secagg_graph.h"
#include "coordinator/run_common.h"
#include "data/loader.h"
#include "data/partition.h"
#include "fmt/format.h"
#include "models/cuda/compute_backend.h"
#include "models/factory.h"
#include "models/memory_estimate.h"
#include "models/mf.h"
#include "spdlog/spdlog.h"

namespace fedrec {
namespace {

WorkerOptions MakeWorkerOptions(const FederationSetup& s, uint32_t index) {
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
  o.local_users = s.local_users_by_worker[index];
  o.cold_items = s.cold.is_cold;
  return o;
}

// Client-scope secure aggregation aborts a round unless every survivor keeps
// `threshold` surviving neighbours. A threshold the expected dropouts make
// (nearly) unreachable would abort every round: the run would exit 0 having
// released, and learned, nothing.
absl::Status CheckSecaggCanComplete(const Config& config, size_t population) {
  const double dropout = config.federation.dropout_rate;
  if (!config.secagg.enabled || config.secagg.scope != "client" || dropout <= 0) {
    return absl::OkStatus();
  }
  const double expected = config.federation.clients_per_round > 0
                              ? static_cast<double>(config.federation.clients_per_round)
                              : config.federation.sampling_rate * static_cast<double>(population);
  const size_t cohort = std::max<size_t>(2, static_cast<size_t>(std::llround(expected)));
  secagg::SecaggParams params;
  params.graph = config.secagg.graph;
  params.degree = config.secagg.degree;
  params.threshold = config.secagg.threshold;
  params.expected_dropout = dropout;
  FEDREC_ASSIGN_OR_RETURN(const secagg::GraphPlan plan, secagg::PlanGraph(params, cohort));
  const double survive = secagg::NeighbourhoodSurvivalProbability(plan, dropout);
  constexpr double kHopeless = 1e-3;
  if (survive < kHopeless) {
    return absl::InvalidArgumentError(fmt::format(
        "secagg.threshold: {:g} needs {} of a neighbourhood of {} to survive, but with "
        "federation.dropout_rate {:g} a neighbourhood keeps them with probability {:.2g}: "
        "nearly every round would abort and release nothing; lower secagg.threshold, raise "
        "secagg.degree or lower federation.dropout_rate",
        config.secagg.threshold, plan.threshold, plan.neighbourhood, dropout, survive));
  }
  if (!plan.warning.empty()) spdlog::warn("{}", plan.warning);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<FederationSetup>> BuildFederationSetup(const Config& config,
                                                                      uint32_t num_workers,
                                                                      uint32_t threads_per_worker,
                                                                      std::string comm_backend) {
  auto s = std::make_unique<FederationSetup>();
  s->config = config;
  s->num_workers = num_workers;
  s->threads_per_worker = threads_per_worker;
  s->comm_backend = std::move(comm_backend);
  s->compute_backend = config.backend.compute;
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
  FEDREC_ASSIGN_OR_RETURN(s->cold, WithholdRunColdItems(config, &s->data));
  s->split = std::make_unique<LeaveOneOutSplit>(s->data);
  FEDREC_RETURN_IF_ERROR(CheckModelSuitsData(config, s->data));
  // Before anything of the model's size is allocated: this process holds
  // every worker with local threads, one under MPI.
  FEDREC_RETURN_IF_ERROR(CheckTrainingMemory(
      config, s->data.num_users(), s->data.num_items(), s->comm_backend == "mpi" ? 1 : num_workers,
      s->data.item_features != nullptr ? s->data.item_features->dim : 0));
  FEDREC_ASSIGN_OR_RETURN(
      s->spec, ModelSpecFromConfig(config, s->data.num_users(), s->data.num_items(),
                                   s->data.item_features ? s->data.item_features->dim : 0));
  if (s->spec.type() == "mf_rating") {
    (*s->spec.mutable_extra())["global_mean"] = std::to_string(TrainingMeanRating(*s->split));
  }
  if (s->compute_backend == "cuda" && s->spec.type() == "sasrec" && config.train.loss != "auto" &&
      config.train.loss != "bce") {
    return absl::FailedPreconditionError(
        "train.loss: '" + config.train.loss +
        "' with backend.compute = 'cuda' trains SASRec centrally only so far (federation.mode = "
        "\"central\"); GPU clients train the paper's bce, and other losses train federated on "
        "the CPU (backend.compute = \"cpu\")");
  }
  if (s->compute_backend == "cuda" && s->spec.type() != "sasrec") {
    return absl::FailedPreconditionError(
        "backend.compute: 'cuda' trains federated clients for SASRec only so far; model.type '" +
        s->spec.type() +
        "' trains on the GPU centrally (federation.mode = \"central\") or federated on the CPU "
        "(backend.compute = \"cpu\")");
  }
  FEDREC_ASSIGN_OR_RETURN(s->initial,
                          CreateModelOnBackend(s->spec, s->Compute(), s->data.item_features));
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
  s->local_users_by_worker = UsersByWorker(assignment, num_workers);

  // The plain codec is checked before privacy, whose refusals assume it.
  FEDREC_ASSIGN_OR_RETURN(const FixedPointCodec codec,
                          FixedPointCodec::Derive(static_cast<int>(config.aggregation.bits),
                                                  config.aggregation.clip_norm, s->MaxCohort()));
  // The codec keeps the clip norm's relative precision, but a huge clip norm
  // makes its absolute step so coarse that real updates (norms well below
  // one) round to zero and the model never changes.
  constexpr double kCoarsestResolution = 1e-2;
  if (codec.resolution() > kCoarsestResolution) {
    return absl::InvalidArgumentError(fmt::format(
        "aggregation.clip_norm: {:g} makes the fixed-point resolution {:.2g} ({}), so update "
        "coordinates below {:.2g} vanish in the sum; lower aggregation.clip_norm (or use "
        "aggregation.bits = 64)",
        config.aggregation.clip_norm, codec.resolution(), codec.Describe(),
        codec.resolution() / 2));
  }
  FEDREC_RETURN_IF_ERROR(CheckSecaggCanComplete(config, s->population.size()));
  const uint64_t model_words = s->initial->global_params().size();
  FEDREC_ASSIGN_OR_RETURN(s->privacy,
                          privacy::PlanPrivacy(config, s->population.size(), model_words));
  FEDREC_ASSIGN_OR_RETURN(RoundRules rules,
                          RoundRules::Create(config, s->MaxCohort(), model_words,
                                             s->privacy.ddg ? &*s->privacy.ddg : nullptr));
  s->rules = std::make_unique<RoundRules>(std::move(rules));
  return s;
}

absl::StatusOr<std::unique_ptr<Worker>> CreateWorker(const FederationSetup& s, uint32_t index) {
  WorkerOptions options = MakeWorkerOptions(s, index);
  if (s.compute_backend == "cuda") {
    // The worker's clients train batched on its GPU.
    FEDREC_ASSIGN_OR_RETURN(options.client_ops, DeviceTensorOpsFactory(s.Compute(), index));
  }
  return Worker::Create(s.spec, *s.split, s.users_by_worker[index], s.population,
                        s.initial->global_params(), s.initial->local_params(), options);
}

}  // namespace fedrec
