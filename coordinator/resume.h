// Resuming a run: which checkpoint it continues from, and the proof that the
// checkpoint, the data and the configuration are the run's own.
//
// `fedrec train --resume` refuses (InvalidArgument or FailedPrecondition:
// exit 2, one line naming what differs)
//   - a checkpoint whose round disagrees with the round in its file name,
//   - a checkpoint of another run (its run id is not run.json's),
//   - data whose SHA-256 differs from the one the checkpoint recorded,
//   - a configuration that differs from the checkpoint's in a key outside
//     ResumeSafeKeys(); privacy.target_epsilon may only rise, and under DP
//     neither it nor the rounds may change when they decide the noise
//     (a calibrated noise multiplier, distributed DP's automatic noise
//     shares).
// A damaged checkpoint (truncated, digest mismatch, unparsable) is renamed
// to <name>.damaged and the next older one is tried, with a warning naming
// the file and the round the run falls back to; the rounds after it are
// recomputed (exactly, with pinned seeds). The privacy ledger comes from the
// checkpoint the run continues from.
//
// Checkpoints written before run ids and dataset digests existed (empty
// fields) are accepted in a run directory without run.json.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "coordinator/run_dir.h"
#include "core/config.h"
#include "core/param_store.h"
#include "core/status.h"
#include "data/dataset.h"
#include "proto/checkpoint.h"
#include "proto/round.pb.h"

namespace fedrec {

// Keys a resumed run may change: they decide how long the run goes on, how
// often it evaluates and checkpoints, and where and how fast it computes,
// never what a round computes (the model is bitwise the same for any worker
// count or comm backend, and data.path's content is checked by its digest).
const std::vector<std::string>& ResumeSafeKeys();

// SHA-256 (hex) of the configuration's values minus ResumeSafeKeys(): equal
// for two configurations one run may resume across.
std::string TrainingConfigDigest(const Config& config);

// The keys in which `now` differs from `ran` (the configuration the run ran
// under), all of them allowed to change on resume; else InvalidArgument
// naming the first key that may not, both values, and `where` (the file the
// run's configuration came from).
absl::StatusOr<std::vector<ConfigDifference>> CheckResumeConfig(const Config& ran,
                                                                const Config& now,
                                                                const std::string& where);

struct ResumePoint {
  std::string path;  // checkpoints/ckpt-<round>.ckpt
  Checkpoint checkpoint;
};

// For a resumed run, after `dir` was reopened (and so locked): the newest
// good checkpoint checked against the run (`config`, `data`), or nullopt
// when there is none yet (the run starts over). Allowed configuration
// changes are logged, recorded for the summary and written to config.toml.
absl::StatusOr<std::optional<ResumePoint>> PrepareResume(RunDirectory& dir, const Config& config,
                                                         const Dataset& data);

// The `restore` command a federated coordinator sends its workers after
// restoring itself from `checkpoint` (at `path`): the global parameters
// and, for a model with local parameters, the shard manifests of the
// checkpoint and, when best_round > 0, of best.ckpt at `best_path`.
// DataLoss when the checkpoint lists no shards for them.
absl::StatusOr<proto::RoundCommand> WorkersRestoreCommand(
    const std::string& path, const Checkpoint& checkpoint, const std::string& best_path,
    uint64_t best_round, const ParameterStore& global, bool has_local_params);

}  // namespace fedrec
