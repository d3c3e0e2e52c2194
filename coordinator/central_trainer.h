// Central (non-federated) training: `fedrec train` with
// federation.mode = "central". The baseline every federated and private run
// is compared with.
//
// One epoch: the users with at least one training pair, in an order drawn
// from (seed, "batch_order", epoch), cut into mini-batches of
// train.batch_size users. A batch is cut into fixed chunks of kChunkUsers
// users (on the GPU, backend.compute = "cuda", one chunk: the whole batch
// in one device step); chunks run in parallel (backend.threads) into their own gradient
// buffers, which are summed in chunk order. The sum is divided by the
// number of predicted positions and stepped by the optimiser. So the result
// does not depend on the thread count (pinned by a test), only on the seed.
// Threads take the chunks with the most work first and keep their own
// forward/backward scratch; neither changes a value.
//
// Every eval.every epochs (and after the last) the model is evaluated on the
// validation split; the best by NDCG@K is kept (checkpoints/best.ckpt) and,
// at the end, evaluated once on the test split under both protocols. Model
// selection never looks at the test split.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace fedrec {

inline constexpr uint32_t kChunkUsers = 8;

struct TrainRunOptions {
  std::string out_dir;
  bool resume = false;  // continue out_dir from its newest checkpoint
  bool quiet = false;   // no progress bar / lines
};

// Trains, writes the run directory, and returns summary.json's content.
absl::StatusOr<nlohmann::json> RunCentralTraining(const Config& config,
                                                  const TrainRunOptions& options);

}  // namespace fedrec
