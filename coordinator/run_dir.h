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
//
// Nothing partial: the directory is created only after the configuration and
// the data were accepted, every file but metrics.jsonl is written atomically,
// and metrics.jsonl lines are written whole. The event file always holds
// exactly the scalars of metrics.jsonl: on resume it is rebuilt from the
// kept lines. Not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

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

  RunDirectory(RunDirectory&& other) noexcept;
  RunDirectory& operator=(RunDirectory&&) = delete;
  RunDirectory(const RunDirectory&) = delete;
  ~RunDirectory();

  const std::string& path() const { return path_; }
  std::string CheckpointDir() const { return path_ + "/checkpoints"; }
  std::string BestCheckpointPath() const { return CheckpointDir() + "/best.ckpt"; }

  // checkpoints/ckpt-<round>.ckpt (zero-padded round).
  std::string RoundCheckpointPath(uint64_t round) const;
  // The newest ckpt-<round>.ckpt, if any.
  std::optional<std::string> LatestCheckpoint() const;
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
  absl::Status WriteSummary(const nlohmann::json& summary);
  // Writes ckpt-<round>.ckpt and deletes the oldest beyond `keep` (0 = all),
  // with the local shards beside them.
  absl::Status WriteRoundCheckpoint(uint64_t round, const Checkpoint& checkpoint, uint32_t keep);
  // Writes best.ckpt, then deletes local shards of earlier best checkpoints.
  absl::Status WriteBestCheckpoint(const Checkpoint& checkpoint);

 private:
  explicit RunDirectory(std::string path) : path_(std::move(path)) {}
  absl::Status OpenMetrics();
  // Opens the newest event file in tb/ for append, or rebuilds one.
  absl::Status OpenEvents();
  // Writes a fresh event file from metrics.jsonl and removes older ones.
  absl::Status RebuildEvents();

  std::string path_;
  std::FILE* metrics_ = nullptr;
  std::optional<EventFileWriter> events_;
};

// The TensorBoard scalars of one metrics line: every number, nested objects
// joined with '/' ("valid/NDCG@10", "seconds/allreduce"), at the line's
// "round" (or "epoch") as the step; nullopt for a line with neither.
std::optional<ScalarStep> ScalarsFromMetricsLine(const nlohmann::json& line);

}  // namespace fedrec
