// A run directory (DESIGN.md "Command line"): what a training run leaves.
//
//   RUN_DIR/config.toml       the fully resolved configuration
//   RUN_DIR/metrics.jsonl     one JSON object per epoch or round (appended, flushed)
//   RUN_DIR/summary.json      final metrics, timings, model_sha256 (atomic)
//   RUN_DIR/checkpoints/      ckpt-<round>.ckpt (the last `keep`) and best.ckpt
//   RUN_DIR/tb/               a TensorBoard event file with the metrics lines'
//                             numbers as scalars (proto/event_file.h)
//   RUN_DIR/privacy.json      the privacy ledger (private runs; atomic)
//   RUN_DIR/privacy.journal   its write-ahead journal (coordinator/ledger_journal.h)
//   RUN_DIR/run.json          the run's identity: a random 128-bit run id,
//                             stamped into every checkpoint and the summary
//   RUN_DIR/.lock             the writer's lock (coordinator/run_lock.h)
//
// Nothing partial: the directory is created only after the configuration and
// the data were accepted, every file but metrics.jsonl is written atomically,
// and metrics.jsonl lines are written whole. The event file always holds
// exactly the scalars of metrics.jsonl: on resume it is rebuilt from the
// kept lines.
//
// Created as a unit: a new directory is built as a sibling
// ".<name>.tmp-<host>-<pid>" (lock, checkpoints/, run.json, config.toml) and
// renamed into place, so a kill or a full disk at any moment leaves no run
// directory or a complete one. A temp sibling whose process is dead is
// removed by the next Create. An existing empty directory (users pre-create
// them) is filled in place with config.toml written last; until it is
// there the directory holds only creation leftovers, which Create accepts as
// empty. From Create or Reopen until destruction the object holds the run's
// lock: a second writer is refused naming the holder. Not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/run_lock.h"
#include "core/config.h"
#include "core/status.h"
#include "proto/checkpoint.h"
#include "proto/event_file.h"

namespace fedrec {

class RunDirectory {
 public:
  // A new run: refuses (AlreadyExists) a directory that exists and is not
  // empty. Writes config.toml.
  static absl::StatusOr<RunDirectory> Create(const std::string& path,
                                             const std::string& config_toml);
  // Continues a run: the directory must hold config.toml; metrics.jsonl is
  // truncated to the lines of rounds <= `resumed_round`.
  static absl::StatusOr<RunDirectory> Reopen(const std::string& path);

  // Test seam: called after each creation step ("temp_dir", "locked",
  // "checkpoints", "run_json", "config", "renamed"); an error is returned by
  // Create as if the step had failed. Empty: none.
  using CreationHook = std::function<absl::Status(std::string_view step)>;
  static void SetCreationHookForTesting(CreationHook hook);

  RunDirectory(RunDirectory&& other) noexcept;
  RunDirectory& operator=(RunDirectory&&) = delete;
  RunDirectory(const RunDirectory&) = delete;
  ~RunDirectory();

  const std::string& path() const { return path_; }
  // The run id from run.json; empty for a directory written before run ids.
  const std::string& run_id() const { return run_id_; }
  // Replaces config.toml (a resume that changed keys allowed to change).
  absl::Status UpdateConfig(const std::string& config_toml);
  // The keys this session's resume changed; WriteSummary records them.
  void NoteResumeChanges(std::vector<ConfigDifference> changes) {
    resume_changes_ = std::move(changes);
  }
  std::string CheckpointDir() const { return path_ + "/checkpoints"; }
  std::string BestCheckpointPath() const { return CheckpointDir() + "/best.ckpt"; }

  // checkpoints/ckpt-<round>.ckpt (zero-padded round).
  std::string RoundCheckpointPath(uint64_t round) const;
  // The newest ckpt-<round>.ckpt, if any.
  std::optional<std::string> LatestCheckpoint() const;
  // The rounds in the names of the ckpt-<round>.ckpt files, ascending.
  std::vector<uint64_t> CheckpointRoundsOnDisk() const;
  // Keeps only metrics lines whose "round" (or "epoch") is <= round, so a
  // resumed run does not repeat lines.
  absl::Status TruncateMetricsAfter(uint64_t round);

  // Appends the line (with "wall_time", Unix seconds, added when absent) to
  // metrics.jsonl and its scalars to the event file.
  absl::Status AppendMetrics(const nlohmann::json& line);
  // Makes the metrics lines appended so far durable (fdatasync).
  // WriteRoundCheckpoint does it first, so that no checkpoint holds a round
  // whose line could still be lost.
  absl::Status SyncMetrics();
  // Adds "run_id" (and "resume_config_changes" when this session's resume
  // changed keys) to `summary`, then writes it.
  absl::Status WriteSummary(nlohmann::json& summary);
  // Writes ckpt-<round>.ckpt and deletes the oldest beyond `keep` (0 = all),
  // with the local shards beside them. Checkpoints are stamped with run_id().
  absl::Status WriteRoundCheckpoint(uint64_t round, const Checkpoint& checkpoint, uint32_t keep);
  // Writes best.ckpt, then deletes local shards of earlier best checkpoints.
  absl::Status WriteBestCheckpoint(const Checkpoint& checkpoint);

 private:
  RunDirectory(std::string path, RunLock lock) : path_(std::move(path)), lock_(std::move(lock)) {}
  // The two ways of creating one (see above); both end with OpenMetrics.
  static absl::StatusOr<RunDirectory> CreateBySwap(const std::string& path,
                                                   const std::string& config_toml);
  static absl::StatusOr<RunDirectory> CreateInPlace(const std::string& path,
                                                    const std::string& config_toml);
  // A copy of `checkpoint` with run_id() when it has none.
  Checkpoint Stamped(const Checkpoint& checkpoint) const;
  absl::Status OpenMetrics();
  // Opens the newest event file in tb/ for append, or rebuilds one.
  absl::Status OpenEvents();
  // Writes a fresh event file from metrics.jsonl and removes older ones.
  absl::Status RebuildEvents();

  std::string path_;
  RunLock lock_;
  std::string run_id_;
  std::vector<ConfigDifference> resume_changes_;
  std::FILE* metrics_ = nullptr;
  std::optional<EventFileWriter> events_;
};

// The TensorBoard scalars of one metrics line: every number, nested objects
// joined with '/' ("valid/NDCG@10", "seconds/allreduce"), at the line's
// "round" (or "epoch") as the step; nullopt for a line with neither.
std::optional<ScalarStep> ScalarsFromMetricsLine(const nlohmann::json& line);

}  // namespace fedrec
