// Worker-owned local parameters on disk: one shard per worker beside a
// checkpoint, listed in the checkpoint's manifest (Checkpoint.local_shards).
//
// Local (per-user) parameters, such as MF user embeddings, never leave the
// worker that hosts the user: a worker writes the rows of its users into its
// own shard file, a Checkpoint message holding only `shard_users` and
// `local_tensors` (one row per listed user), in the durable checkpoint
// format (proto/checkpoint.h: atomic, digest-checked). The coordinator's
// checkpoint lists each shard with its payload digest, so a reader refuses a
// missing, foreign or stale shard, and a set that does not cover every user.
//
// Under mpirun every rank writes under the run directory it sees: shards may
// sit on different machines. A worker that resumes with the same worker
// count reads only its own shard; other readers (a resume with another
// worker count, `fedrec eval --checkpoint`, `recommend`) need every shard in
// the checkpoint's directory.
//
// Stateless functions; thread-safe for distinct files.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/param_store.h"
#include "core/status.h"
#include "proto/checkpoint.h"

namespace fedrec {

// "<checkpoint stem>.r<round>.w<worker+1>-of-<W>.local", e.g.
// "ckpt-30.r30.w1-of-2.local" beside "ckpt-30.ckpt".
std::string LocalShardFileName(const std::string& checkpoint_file_name, uint64_t round,
                               uint32_t worker, uint32_t num_workers);

// Writes the rows of `users` (dense ids, ascending) of every tensor of
// `store` into `directory`/`file_name`, atomically; returns its manifest
// entry.
absl::StatusOr<proto::LocalShardRef> WriteLocalShard(const std::string& directory,
                                                     const std::string& file_name, uint64_t round,
                                                     uint32_t worker, uint32_t num_workers,
                                                     std::span<const uint32_t> users,
                                                     const ParameterStore& store);

// Fills the rows of `users` (empty: every row) of `store` from the shards
// that `checkpoint` (read from `checkpoint_path`) lists, reading the shard of
// `own_worker` first and other shards only for rows still missing. Each
// shard read must match its manifest entry (digest) and the store's layout.
// DataLoss / NotFound naming the shard for a missing, damaged or foreign
// shard; DataLoss when a row is in no shard.
absl::Status ReadLocalRows(const std::string& checkpoint_path, const Checkpoint& checkpoint,
                           std::span<const uint32_t> users, std::optional<uint32_t> own_worker,
                           ParameterStore* store);

// For readers of a whole model (eval --checkpoint, recommend, inspect):
// reads `path` and, when it lists local shards, merges every user's rows into
// its local_tensors, so the result reads like a checkpoint that holds its
// local parameters.
absl::StatusOr<Checkpoint> ReadCheckpointWithLocalShards(const std::string& path);

}  // namespace fedrec
