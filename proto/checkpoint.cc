#include "proto/checkpoint.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <sys/stat.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/atomic_file.h"
#include "core/isa.h"
#include "fmt/format.h"

#ifndef FEDREC_VERSION
#define FEDREC_VERSION "unknown"
#endif

namespace fedrec {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

absl::StatusOr<std::string> SerializeDeterministic(const Checkpoint& checkpoint) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!checkpoint.SerializeToCodedStream(&coded)) {
      return absl::InternalError("checkpoint: serialization failed (message over 2 GiB?)");
    }
  }
  return out;
}

// Parses the fixed header from the first kCheckpointHeaderSize bytes of
// `prefix` (which may be shorter: the file is then truncated), checking magic,
// version and size. `file_size` is the size on disk.
absl::StatusOr<CheckpointHeader> ParseHeader(std::string_view prefix, uint64_t file_size,
                                             const std::string& where) {
  const size_t magic_bytes = std::min(prefix.size(), sizeof(kCheckpointMagic));
  if (std::memcmp(prefix.data(), kCheckpointMagic, magic_bytes) != 0 || file_size == 0) {
    return absl::InvalidArgumentError(where + ": not a fedrec checkpoint (bad magic)");
  }
  if (prefix.size() < kCheckpointHeaderSize) {
    return absl::DataLossError(fmt::format("{}: truncated (expected at least {} bytes, found {})",
                                           where, kCheckpointHeaderSize, file_size));
  }
  CheckpointHeader h;
  h.format_version = GetU32(prefix.data() + 8);
  h.payload_length = GetU64(prefix.data() + 12);
  std::memcpy(h.payload_sha256.data(), prefix.data() + 20, 32);
  h.file_size = file_size;
  if (h.format_version != kCheckpointFormatVersion) {
    return absl::InvalidArgumentError(
        fmt::format("{}: unsupported format version {} (this build reads {})", where,
                    h.format_version, kCheckpointFormatVersion));
  }
  // Compare without overflowing on a corrupted, huge payload length.
  const uint64_t available = file_size - kCheckpointHeaderSize;
  if (h.payload_length > available) {
    const bool overflow = h.payload_length > UINT64_MAX - kCheckpointHeaderSize;
    return absl::DataLossError(
        fmt::format("{}: truncated (expected {} bytes, found {})", where,
                    overflow ? std::string("more than 2^64")
                             : std::to_string(kCheckpointHeaderSize + h.payload_length),
                    file_size));
  }
  if (h.payload_length < available) {
    return absl::DataLossError(fmt::format("{}: {} unexpected trailing bytes after the payload",
                                           where, available - h.payload_length));
  }
  return h;
}

std::string FloatsToLittleEndian(std::span<const float> values) {
  std::string out(values.size() * 4, '\0');
  if constexpr (std::endian::native == std::endian::little) {
    if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      const uint32_t bits = std::bit_cast<uint32_t>(values[i]);
      for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
    }
  }
  return out;
}

void LittleEndianToFloats(const std::string& bytes, std::span<float> out) {
  if constexpr (std::endian::native == std::endian::little) {
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * 4);
  } else {
    for (size_t i = 0; i < out.size(); ++i) out[i] = std::bit_cast<float>(GetU32(&bytes[4 * i]));
  }
}

}  // namespace

std::string FedrecVersion() { return FEDREC_VERSION; }

void StampCheckpoint(Checkpoint* checkpoint) {
  checkpoint->set_format_version(kCheckpointFormatVersion);
  checkpoint->set_created_unix(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
  checkpoint->set_fedrec_version(FedrecVersion());
  checkpoint->set_build_isa(BuildIsaDescription());
}

absl::StatusOr<std::string> EncodeCheckpointFile(const Checkpoint& checkpoint) {
  if (checkpoint.format_version() != 0 && checkpoint.format_version() != kCheckpointFormatVersion) {
    return InvalidInput("checkpoint",
                        fmt::format("format_version {} cannot be written (this "
                                    "build writes {})",
                                    checkpoint.format_version(), kCheckpointFormatVersion));
  }
  FEDREC_ASSIGN_OR_RETURN(std::string payload, SerializeDeterministic(checkpoint));
  const Sha256Digest digest = Sha256Of(payload);
  std::string out;
  out.reserve(kCheckpointHeaderSize + payload.size());
  out.append(kCheckpointMagic, sizeof(kCheckpointMagic));
  PutU32(out, kCheckpointFormatVersion);
  PutU64(out, payload.size());
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  out += payload;
  return out;
}

absl::StatusOr<Checkpoint> DecodeCheckpointFile(const std::string& bytes, const std::string& where,
                                                CheckpointHeader* header_out) {
  FEDREC_ASSIGN_OR_RETURN(CheckpointHeader header, ParseHeader(bytes, bytes.size(), where));
  const std::string_view payload(bytes.data() + kCheckpointHeaderSize, header.payload_length);
  if (Sha256Of(payload) != header.payload_sha256) {
    return absl::DataLossError(where + ": digest mismatch (file altered or corrupt)");
  }
  Checkpoint checkpoint;
  if (!checkpoint.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError(where + ": payload does not parse");
  }
  if (checkpoint.format_version() != 0 && checkpoint.format_version() != header.format_version) {
    return absl::DataLossError(
        fmt::format("{}: payload format_version {} disagrees with the "
                    "header's {}",
                    where, checkpoint.format_version(), header.format_version));
  }
  if (header_out != nullptr) *header_out = header;
  return checkpoint;
}

absl::Status WriteCheckpoint(const std::string& path, const Checkpoint& checkpoint) {
  absl::StatusOr<std::string> bytes = EncodeCheckpointFile(checkpoint);
  if (!bytes.ok()) return WithContext(bytes.status(), path);
  return WriteFileAtomic(path, *bytes);
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path) {
  FEDREC_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return DecodeCheckpointFile(bytes, path);
}

absl::StatusOr<CheckpointHeader> ReadCheckpointHeader(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(path + ": no such file");
    return absl::FailedPreconditionError(path + ": cannot stat: " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return absl::InvalidArgumentError(path + ": is a directory");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::FailedPreconditionError(path + ": cannot open: " + std::strerror(errno));
  }
  std::string prefix(kCheckpointHeaderSize, '\0');
  const size_t n = std::fread(prefix.data(), 1, prefix.size(), f);
  std::fclose(f);
  prefix.resize(n);
  return ParseHeader(prefix, static_cast<uint64_t>(st.st_size), path);
}

// ---- ParameterStore <-> NamedTensor -----------------------------------------

NamedTensor TensorToProto(const std::string& name, ConstTensorView view) {
  NamedTensor t;
  t.set_name(name);
  t.set_rows(view.rows);
  t.set_cols(view.cols);
  t.set_data(FloatsToLittleEndian(view.Flat()));
  return t;
}

absl::Status TensorFromProto(const NamedTensor& tensor, TensorView view) {
  const std::string where = "tensor '" + tensor.name() + "'";
  if (tensor.rows() != view.rows || tensor.cols() != view.cols) {
    return InvalidInput(where, fmt::format("shape {} x {}, expected {} x {}", tensor.rows(),
                                           tensor.cols(), view.rows, view.cols));
  }
  if (tensor.data().size() != view.size() * 4) {
    return InvalidInput(where, fmt::format("{} data bytes, expected {} ({} float32 values)",
                                           tensor.data().size(), view.size() * 4, view.size()));
  }
  LittleEndianToFloats(tensor.data(), view.Flat());
  return absl::OkStatus();
}

void StoreToTensors(const ParameterStore& store,
                    google::protobuf::RepeatedPtrField<NamedTensor>* out) {
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    *out->Add() = TensorToProto(store.layout()[k].name, store.ViewAt(k));
  }
}

absl::Status StoreFromTensors(const google::protobuf::RepeatedPtrField<NamedTensor>& tensors,
                              ParameterStore* store) {
  if (!store->finalized()) {
    return absl::FailedPreconditionError("StoreFromTensors: parameter store not finalized");
  }
  if (static_cast<size_t>(tensors.size()) != store->num_tensors()) {
    return InvalidInput("checkpoint", fmt::format("{} tensors, the model has {}", tensors.size(),
                                                  store->num_tensors()));
  }
  for (size_t k = 0; k < store->num_tensors(); ++k) {
    const NamedTensor& t = tensors[static_cast<int>(k)];
    if (t.name() != store->layout()[k].name) {
      return InvalidInput("checkpoint", fmt::format("tensor {} is '{}', the model expects '{}'", k,
                                                    t.name(), store->layout()[k].name));
    }
    FEDREC_RETURN_IF_ERROR(WithContext(TensorFromProto(t, store->ViewAt(k)), "checkpoint"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ParameterStore> StoreFromTensors(
    const google::protobuf::RepeatedPtrField<NamedTensor>& tensors) {
  ParameterStore store;
  for (const NamedTensor& t : tensors) {
    // The announced shape must match the data before anything is allocated:
    // a damaged or crafted file could otherwise ask for terabytes.
    const bool fits =
        t.cols() == 0 || t.rows() <= std::numeric_limits<uint64_t>::max() / 4 / t.cols();
    if (!fits) {
      return InvalidInput("checkpoint", fmt::format("tensor '{}': shape {} x {} is too large",
                                                    t.name(), t.rows(), t.cols()));
    }
    if (t.rows() * t.cols() * 4 != t.data().size()) {
      return InvalidInput("checkpoint",
                          fmt::format("tensor '{}': {} data bytes, expected {}", t.name(),
                                      t.data().size(), t.rows() * t.cols() * 4));
    }
    FEDREC_RETURN_IF_ERROR(WithContext(store.Add(t.name(), t.rows(), t.cols()), "checkpoint"));
  }
  store.Finalize();
  FEDREC_RETURN_IF_ERROR(StoreFromTensors(tensors, &store));
  return store;
}

// ---- fedrec inspect ----------------------------------------------------------

nlohmann::json DescribeCheckpoint(const CheckpointHeader& header, const Checkpoint& c) {
  using nlohmann::json;
  json j;
  j["header"] = {{"format_version", header.format_version},
                 {"payload_bytes", header.payload_length},
                 {"file_bytes", header.file_size},
                 {"payload_sha256", ToHex(header.payload_sha256)}};
  json extra = json::object();
  for (const auto& [k, v] : c.model().extra()) extra[k] = v;
  j["model"] = {{"type", c.model().type()},           {"dim", c.model().dim()},
                {"blocks", c.model().blocks()},       {"heads", c.model().heads()},
                {"max_len", c.model().max_len()},     {"num_items", c.model().num_items()},
                {"num_users", c.model().num_users()}, {"extra", extra}};
  json tensors = json::array();
  uint64_t parameters = 0;
  for (const NamedTensor& t : c.tensors()) {
    tensors.push_back({{"name", t.name()}, {"rows", t.rows()}, {"cols", t.cols()}});
    parameters += t.rows() * t.cols();
  }
  j["tensors"] = tensors;
  j["num_parameters"] = parameters;
  auto describe_optimizer = [](const proto::OptimizerState& o) {
    json slots = json::array();
    for (const NamedTensor& t : o.slots()) slots.push_back(t.name());
    json counters = json::object();
    for (const auto& [k, v] : o.counters()) counters[k] = v;
    json scalars = json::object();
    for (const auto& [k, v] : o.scalars()) scalars[k] = v;
    return json{{"name", o.name()}, {"slots", slots}, {"counters", counters}, {"scalars", scalars}};
  };
  j["optimizer"] = describe_optimizer(c.optimizer());
  j["server_optimizer"] = describe_optimizer(c.server_optimizer());
  j["round"] = c.round();
  j["compute_backend"] = c.compute_backend();
  j["comm_backend"] = c.comm_backend();
  json shards = json::array();
  for (const proto::LocalShardRef& r : c.local_shards()) {
    shards.push_back({{"file", r.file_name()},
                      {"worker", r.worker()},
                      {"num_workers", r.num_workers()},
                      {"users", r.users()},
                      {"payload_sha256", r.payload_sha256_hex()}});
  }
  j["local_shards"] = shards;
  json streams = json::object();
  for (const proto::StreamPosition& s : c.streams()) streams[s.purpose()] = s.position();
  j["streams"] = streams;
  const proto::PrivacyLedger& l = c.ledger();
  j["privacy"] = {{"mode", l.mode()},
                  {"accountant", l.accountant()},
                  {"noise_multiplier", l.noise_multiplier()},
                  {"sampling_rate", l.sampling_rate()},
                  {"delta", l.delta()},
                  {"steps", l.steps()},
                  {"epsilon_spent", l.epsilon_spent()},
                  {"target_epsilon", l.target_epsilon()},
                  {"noise_seed_pinned", l.noise_seed_pinned()},
                  {"entries", l.entries_size()}};
  const proto::DatasetFingerprint& d = c.dataset();
  j["dataset"] = {{"source_path", d.source_path()},
                  {"sha256", d.sha256_hex()},
                  {"num_users", d.num_users()},
                  {"num_items", d.num_items()},
                  {"num_interactions", d.num_interactions()},
                  {"options", d.options()}};
  if (!d.item_features_sha256().empty()) {
    j["dataset"]["item_features"] = {{"path", d.item_features_path()},
                                     {"sha256", d.item_features_sha256()},
                                     {"dim", d.item_features_dim()}};
  }
  j["created_unix"] = c.created_unix();
  j["fedrec_version"] = c.fedrec_version();
  j["build_isa"] = c.build_isa();
  j["has_config"] = !c.config_toml().empty();
  j["run_id"] = c.run_id();
  j["config_sha256"] = c.config_sha256();
  return j;
}

std::string RenderCheckpointText(const nlohmann::json& j) {
  std::string out;
  const auto& h = j["header"];
  out += fmt::format("format version  {}\n", h["format_version"].get<uint32_t>());
  out += fmt::format("size            {} bytes (payload {})\n", h["file_bytes"].get<uint64_t>(),
                     h["payload_bytes"].get<uint64_t>());
  out += fmt::format("payload sha256  {}\n", h["payload_sha256"].get<std::string>());
  out += fmt::format("fedrec version  {}\n", j["fedrec_version"].get<std::string>());
  if (!j["build_isa"].get<std::string>().empty()) {
    out += fmt::format("build ISA       {}\n", j["build_isa"].get<std::string>());
  }
  out += fmt::format("created (unix)  {}\n", j["created_unix"].get<int64_t>());
  const auto& m = j["model"];
  out += fmt::format("model           {} dim={} blocks={} heads={} max_len={} items={} users={}\n",
                     m["type"].get<std::string>(), m["dim"].get<uint32_t>(),
                     m["blocks"].get<uint32_t>(), m["heads"].get<uint32_t>(),
                     m["max_len"].get<uint32_t>(), m["num_items"].get<uint64_t>(),
                     m["num_users"].get<uint64_t>());
  for (const auto& [k, v] : m["extra"].items()) {
    out += fmt::format("  {} = {}\n", k, v.get<std::string>());
  }
  out += fmt::format("round           {}\n", j["round"].get<uint64_t>());
  const auto backend = [&](const char* key) {
    const std::string v = j.value(key, std::string());
    return v.empty() ? std::string("-") : v;
  };
  out += fmt::format("backends        compute {}, comm {}\n", backend("compute_backend"),
                     backend("comm_backend"));
  if (j.contains("local_shards") && !j["local_shards"].empty()) {
    out += fmt::format("local shards    {} (local parameters stay with their workers)\n",
                       j["local_shards"].size());
    for (const auto& r : j["local_shards"]) {
      out += fmt::format("  {:<40} {} users\n", r["file"].get<std::string>(),
                         r["users"].get<uint64_t>());
    }
  }
  out += fmt::format("tensors         {} ({} parameters)\n", j["tensors"].size(),
                     j["num_parameters"].get<uint64_t>());
  for (const auto& t : j["tensors"]) {
    out += fmt::format("  {:<32} {} x {}\n", t["name"].get<std::string>(),
                       t["rows"].get<uint64_t>(), t["cols"].get<uint64_t>());
  }
  for (const char* key : {"optimizer", "server_optimizer"}) {
    const auto& o = j[key];
    if (o["name"].get<std::string>().empty() && o["slots"].empty()) continue;
    out += fmt::format("{:<16}{} ({} slots", key, o["name"].get<std::string>(), o["slots"].size());
    for (const auto& [k, v] : o["counters"].items()) out += fmt::format(", {}={}", k, v.dump());
    out += ")\n";
  }
  const auto& p = j["privacy"];
  out += fmt::format(
      "privacy         mode={} accountant={} sigma={} q={} delta={} steps={} epsilon={}{}\n",
      p["mode"].get<std::string>(), p["accountant"].get<std::string>(),
      p["noise_multiplier"].get<double>(), p["sampling_rate"].get<double>(),
      p["delta"].get<double>(), p["steps"].get<uint64_t>(), p["epsilon_spent"].get<double>(),
      p["noise_seed_pinned"].get<bool>() ? " (noise seed pinned: NOT private)" : "");
  const auto& d = j["dataset"];
  if (!d["source_path"].get<std::string>().empty() || !d["sha256"].get<std::string>().empty()) {
    out += fmt::format("dataset         {} users={} items={} interactions={} sha256={}\n",
                       d["source_path"].get<std::string>(), d["num_users"].get<uint64_t>(),
                       d["num_items"].get<uint64_t>(), d["num_interactions"].get<uint64_t>(),
                       d["sha256"].get<std::string>());
  }
  if (d.contains("item_features")) {
    const auto& f = d["item_features"];
    out += fmt::format("item features   {} dim={} sha256={}\n", f["path"].get<std::string>(),
                       f["dim"].get<uint32_t>(), f["sha256"].get<std::string>());
  }
  if (!j["run_id"].get<std::string>().empty()) {
    out += fmt::format("run             id={} config_sha256={}\n", j["run_id"].get<std::string>(),
                       j["config_sha256"].get<std::string>());
  }
  return out;
}

absl::StatusOr<CheckpointDescription> InspectCheckpoint(const std::string& path) {
  FEDREC_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  CheckpointHeader header;
  FEDREC_ASSIGN_OR_RETURN(Checkpoint checkpoint, DecodeCheckpointFile(bytes, path, &header));
  CheckpointDescription d;
  d.json = DescribeCheckpoint(header, checkpoint);
  d.text = RenderCheckpointText(d.json);
  return d;
}

}  // namespace fedrec
