// Durable checkpoints: the Checkpoint message (proto/fedrec.proto) in a
// self-checking file.
//
// File format, version 1 (all integers little-endian):
//
//   offset  size  field
//   0       8     magic, the ASCII bytes "FEDRECKP"
//   8       4     uint32 format version (1)
//   12      8     uint64 payload length N in bytes
//   20      32    SHA-256 of the payload
//   52      N     payload: the serialized fedrec.proto.Checkpoint
//                 (deterministic protobuf serialization)
//
// The file is exactly 52 + N bytes. A reader checks, in this order: the
// magic (else "not a fedrec checkpoint"), the version (else "unsupported
// format version"), the size (else "truncated" / "trailing bytes"), the
// digest (else "digest mismatch"), then parses the payload. Any single
// altered payload bit is caught by the digest; an altered header field is
// caught by the magic, version or size checks.
//
// Writing goes through core/atomic_file.h (temp file, fsync, rename, fsync
// of the directory), so a reader sees the old checkpoint or the new one,
// never a partial file, and a failed write leaves no temp file behind.
//
// Error codes: InvalidArgument for a file that is not a checkpoint of this
// build (bad magic, unsupported version), DataLoss for a damaged checkpoint
// (truncated, trailing bytes, digest mismatch, unparsable payload), NotFound
// for a missing file. Messages are one line: "<path>: <reason>".
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/param_store.h"
#include "core/sha256.h"
#include "core/status.h"
#include "proto/fedrec.pb.h"

namespace fedrec {

using Checkpoint = proto::Checkpoint;
using NamedTensor = proto::NamedTensor;

inline constexpr char kCheckpointMagic[8] = {'F', 'E', 'D', 'R', 'E', 'C', 'K', 'P'};
inline constexpr uint32_t kCheckpointFormatVersion = 1;
inline constexpr size_t kCheckpointHeaderSize = 8 + 4 + 8 + 32;

struct CheckpointHeader {
  uint32_t format_version = 0;
  uint64_t payload_length = 0;
  Sha256Digest payload_sha256{};
  uint64_t file_size = 0;  // as found on disk
};

// Sets format_version, created_unix (now), fedrec_version and build_isa.
void StampCheckpoint(Checkpoint* checkpoint);

// The version string of this build ("0.1.0").
std::string FedrecVersion();

// Serializes (deterministically) and writes atomically. InvalidArgument if
// checkpoint.format_version() is neither 0 nor kCheckpointFormatVersion;
// FailedPrecondition for I/O errors.
absl::Status WriteCheckpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads and verifies a checkpoint (see the file format above).
absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path);

// Reads and checks only the header (magic, version, size against the file
// size); does not read or verify the payload.
absl::StatusOr<CheckpointHeader> ReadCheckpointHeader(const std::string& path);

// The file bytes for a checkpoint, and the reverse (what Write/Read do
// besides the I/O); `where` prefixes errors.
absl::StatusOr<std::string> EncodeCheckpointFile(const Checkpoint& checkpoint);
absl::StatusOr<Checkpoint> DecodeCheckpointFile(const std::string& bytes, const std::string& where,
                                                CheckpointHeader* header = nullptr);

// ---- ParameterStore <-> NamedTensor -----------------------------------------

// One tensor as little-endian float32 bytes.
NamedTensor TensorToProto(const std::string& name, ConstTensorView view);
// Copies `tensor` into `view`; InvalidArgument if the shape or data length
// differs ("tensor 'w': shape 2 x 3, expected 2 x 4").
absl::Status TensorFromProto(const NamedTensor& tensor, TensorView view);

// Appends every tensor of a finalized store, in layout order.
void StoreToTensors(const ParameterStore& store,
                    google::protobuf::RepeatedPtrField<NamedTensor>* out);
// Loads tensors into a finalized store whose layout must match exactly
// (same names in the same order, same shapes); InvalidArgument otherwise.
absl::Status StoreFromTensors(const google::protobuf::RepeatedPtrField<NamedTensor>& tensors,
                              ParameterStore* store);
// Builds a new store with the tensors' layout and values (e.g. for inspect
// or eval before the model exists).
absl::StatusOr<ParameterStore> StoreFromTensors(
    const google::protobuf::RepeatedPtrField<NamedTensor>& tensors);

// ---- fedrec inspect ----------------------------------------------------------

// A JSON description: header (version, payload length, digest hex), model
// spec, tensors (name, rows, cols), optimizer slot names and counters,
// round, stream positions, ledger summary, dataset fingerprint,
// created_unix, fedrec_version, and whether the config is present.
nlohmann::json DescribeCheckpoint(const CheckpointHeader& header, const Checkpoint& checkpoint);
// Human-readable multi-line text of the same description.
std::string RenderCheckpointText(const nlohmann::json& description);

struct CheckpointDescription {
  nlohmann::json json;
  std::string text;
};
// Reads and verifies `path`, then describes it.
absl::StatusOr<CheckpointDescription> InspectCheckpoint(const std::string& path);

}  // namespace fedrec
