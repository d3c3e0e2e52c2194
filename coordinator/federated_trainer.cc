#include "coordinator/federated_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "comm/deadline.h"
#include "comm/launch.h"
#include "coordinator/federation_setup.h"
#include "coordinator/round_coordinator.h"
#include "core/thread_pool.h"
#include "spdlog/spdlog.h"
#include "worker/worker_loop.h"

namespace fedrec {

namespace {

// federation.round_timeout_s as the collectives' deadline (zero: none); a
// positive value under a millisecond still has one.
std::chrono::milliseconds RoundTimeout(const Config& config) {
  const double seconds = config.federation.round_timeout_s;
  if (seconds <= 0) return std::chrono::milliseconds::zero();
  return std::chrono::milliseconds(std::max<int64_t>(1, std::llround(seconds * 1000)));
}

}  // namespace

absl::StatusOr<nlohmann::json> RunFederatedRank(Collective& comm, const FederationSetup& setup,
                                                const std::vector<Worker*>& hosted,
                                                const TrainRunOptions& run) {
  if (comm.rank() == 0) return CoordinatorMain(comm, setup, run);
  const uint32_t index = static_cast<uint32_t>(comm.rank() - 1);
  Worker* worker = hosted.at(index);
  FEDREC_RETURN_IF_ERROR(
      ServeRounds(comm, *worker, *setup.rules, {.index = index, .num_workers = setup.num_workers}));
  return nlohmann::json();
}

absl::StatusOr<nlohmann::json> RunFederatedTraining(const Config& config,
                                                    const TrainRunOptions& run) {
  // A Config built in code has not been through the parser's checks.
  FEDREC_RETURN_IF_ERROR(ValidateConfig(config, "config"));
  std::unique_ptr<FederationSetup> setup;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> hosted;
  // Everything a rank needs is built before any rank starts, so a failure
  // cannot leave a rank waiting for a peer that never comes.
  auto prepare = [&](const LaunchPlan& plan) -> absl::Status {
    if (plan.backend == "mpi" && plan.world_size < 2) {
      return absl::InvalidArgumentError(
          "federation: under MPI the job needs at least 2 ranks (rank 0 coordinates, ranks "
          "1.. are workers)");
    }
    const uint32_t num_workers = plan.backend == "mpi"
                                     ? static_cast<uint32_t>(plan.world_size - 1)
                                     : static_cast<uint32_t>(config.federation.workers);
    uint32_t threads = 1;
    if (plan.backend == "mpi") {
      const size_t cores = ResolveThreads(0);
      threads = config.backend.threads > 0
                    ? static_cast<uint32_t>(config.backend.threads)
                    : static_cast<uint32_t>(
                          std::max<size_t>(1, cores / static_cast<size_t>(RanksOnThisNode())));
    } else {
      const size_t cores = ResolveThreads(static_cast<size_t>(config.backend.threads));
      threads = static_cast<uint32_t>(std::max<size_t>(1, cores / num_workers));
    }
    FEDREC_ASSIGN_OR_RETURN(setup,
                            BuildFederationSetup(config, num_workers, threads, plan.backend));
    setup->collective = plan.collective;
    // This process's workers: all of them locally, its own one under MPI.
    workers.resize(num_workers);
    hosted.assign(num_workers, nullptr);
    for (uint32_t w = 0; w < num_workers; ++w) {
      if (!plan.Hosts(static_cast<int>(w) + 1)) continue;
      FEDREC_ASSIGN_OR_RETURN(workers[w], CreateWorker(*setup, w));
      hosted[w] = workers[w].get();
    }
    return absl::OkStatus();
  };
  absl::StatusOr<nlohmann::json> summary = nlohmann::json();
  FEDREC_RETURN_IF_ERROR(
      RunRanks(config.backend.comm, static_cast<int>(config.federation.workers) + 1, prepare,
               [&](Collective& comm) -> absl::Status {
                 comm.set_timeout(TimeoutForRank(RoundTimeout(config), comm.rank()));
                 // Only the coordinator reports; workers speak up for
                 // warnings and errors.
                 if (setup->comm_backend == "mpi" && comm.rank() != 0) {
                   spdlog::set_level(spdlog::level::warn);
                 }
                 absl::StatusOr<nlohmann::json> r = RunFederatedRank(comm, *setup, hosted, run);
                 absl::Status st = r.status();
                 if (comm.rank() == 0) summary = std::move(r);
                 return st;
               }));
  return summary;
}

}  // namespace fedrec
