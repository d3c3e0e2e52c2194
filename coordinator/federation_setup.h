// FederationSetup: what every process of a federated run builds from the
// configuration before any message is sent, identically on every rank: the
// data and its split, the model's spec and initial parameters, the clients
// and their workers, the privacy plan and the round rules.
//
// Owns all of it; immutable after BuildFederationSetup, so ranks that share a
// process (local threads) share one setup. Thread-safe for reading.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "data/cold_items.h"
#include "data/dataset.h"
#include "data/split.h"
#include "models/cuda/compute_backend.h"
#include "models/model.h"
#include "privacy/plan.h"
#include "proto/fedrec.pb.h"
#include "worker/round_rules.h"
#include "worker/worker.h"

namespace fedrec {

struct FederationSetup {
  Config config;
  Dataset data;  // after eval.cold_items's withholding
  ColdItems cold;
  std::unique_ptr<LeaveOneOutSplit> split;
  proto::ModelSpec spec;
  std::unique_ptr<Model> initial;                      // initialised from the seed
  std::vector<uint32_t> population;                    // clients: users with >= 2 training items
  std::vector<std::vector<uint32_t>> users_by_worker;  // population members per worker
  // Every user's worker: the owner of the user's local parameters (clients
  // and the users too short to be clients alike).
  std::vector<std::vector<uint32_t>> local_users_by_worker;
  uint32_t num_workers = 1;
  uint32_t threads_per_worker = 1;
  std::string comm_backend;     // "local" or "mpi": threads or processes
  std::string collective;       // what the sums run on: "local", "mpi" or "nccl"
  std::string compute_backend;  // backend.compute
  privacy::PrivacyPlan privacy;
  std::unique_ptr<RoundRules> rules;  // borrows privacy.ddg

  // `collective`, or `comm_backend` where no launch set it (tests).
  // backend.compute with its device options.
  ComputeBackend Compute() const { return {.name = compute_backend, .tf32 = config.backend.tf32}; }
  const std::string& CollectiveName() const {
    return collective.empty() ? comm_backend : collective;
  }
  uint64_t MaxCohort() const { return privacy::MaxCohort(config, population.size()); }
};

// Loads the data, builds and initialises the model on backend.compute,
// partitions the users over `num_workers` workers and resolves privacy.
// User errors are InvalidArgument naming the key or the file.
absl::StatusOr<std::unique_ptr<FederationSetup>> BuildFederationSetup(const Config& config,
                                                                      uint32_t num_workers,
                                                                      uint32_t threads_per_worker,
                                                                      std::string comm_backend);

// Worker `index`'s silo: its clients, its users' local parameters.
absl::StatusOr<std::unique_ptr<Worker>> CreateWorker(const FederationSetup& setup, uint32_t index);

}  // namespace fedrec
