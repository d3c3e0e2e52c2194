// Numerical health of a federated round, checked by the coordinator before
// anything of the round is written: diverged clients (every loss NaN) and a
// global model that is no longer finite after the server step. Each failure
// is Aborted with the round, what went wrong, the likely key to change and
// the last checkpoint that stays good. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "worker/worker.h"

namespace fedrec {

// The DP noise in the round's update, to name it as the cause when it is huge.
struct RoundNoise {
  double noise_std = 0;         // per coordinate of the (divided) update; 0 without
  double noise_multiplier = 0;  // the update's sigma
};

// Before the release: when every uploading client's loss is NaN or infinite
// the model is finite but diverged (every update is dropped as garbage), and
// the run would go on changing nothing.
absl::Status CheckClientsFinite(uint32_t round, const WorkerRoundStats& stats, const Config& config,
                                const std::optional<std::string>& last_checkpoint);

// After the server step: a model that is no longer finite would be
// broadcast, evaluated and checkpointed as if it were one. Only reads.
absl::Status CheckModelFinite(uint32_t round, std::span<const float> params,
                              std::span<const double> update, const RoundNoise& noise,
                              const Config& config,
                              const std::optional<std::string>& last_checkpoint);

}  // namespace fedrec
