#include "coordinator/run_dir.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "core/output_path.h"

namespace fedrec {
namespace fs = std::filesystem;
namespace {

// Rounds of the ckpt-<round>.ckpt files in `dir`, ascending.
std::vector<uint64_t> CheckpointRounds(const std::string& dir) {
  std::vector<uint64_t> rounds;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 10 && name.starts_with("ckpt-") && name.ends_with(".ckpt")) {
      const std::string digits = name.substr(5, name.size() - 10);
      if (!digits.empty() && std::all_of(digits.begin(), digits.end(), ::isdigit)) {
        rounds.push_back(std::stoull(digits));
      }
    }
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds;
}

std::string RoundFile(const std::string& dir, uint64_t round) {
  char name[64];
  std::snprintf(name, sizeof(name), "/ckpt-%08llu.ckpt", static_cast<unsigned long long>(round));
  return dir + name;
}

// Removes the workers' local shards (proto/local_shards.h) in `dir` whose
// name starts with `prefix`, except those of checkpoint round `keep_round`.
void RemoveShards(const std::string& dir, const std::string& prefix,
                  std::optional<uint64_t> keep_round) {
  std::error_code ec;
  const std::string kept =
      keep_round ? prefix + "r" + std::to_string(*keep_round) + "." : std::string();
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix) || !name.ends_with(".local")) continue;
    if (!kept.empty() && name.starts_with(kept)) continue;
    fs::remove(entry.path(), ec);
  }
}

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void FlattenNumbers(const nlohmann::json& j, const std::string& prefix,
                    std::vector<ScalarValue>& out) {
  for (const auto& [key, value] : j.items()) {
    const std::string tag = prefix.empty() ? key : prefix + "/" + key;
    if (value.is_object()) {
      FlattenNumbers(value, tag, out);
    } else if (value.is_number()) {
      out.push_back({.tag = tag, .value = value.get<double>()});
    }
  }
}

// The whole lines of metrics.jsonl, parsed (a torn last line is left out).
std::vector<nlohmann::json> ReadMetricsLines(const std::string& file) {
  std::ifstream in(file);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) break;
    lines.push_back(std::move(j));
  }
  return lines;
}

bool IsEventFile(const fs::path& p) {
  return p.filename().string().starts_with("events.out.tfevents.");
}

}  // namespace

std::optional<ScalarStep> ScalarsFromMetricsLine(const nlohmann::json& line) {
  if (!line.is_object()) return std::nullopt;
  const char* step_key = line.contains("round") ? "round" : "epoch";
  if (!line.contains(step_key) || !line[step_key].is_number_integer()) return std::nullopt;
  ScalarStep step{.step = line[step_key].get<int64_t>(), .wall_time = 0, .scalars = {}};
  if (line.contains("wall_time") && line["wall_time"].is_number()) {
    step.wall_time = line["wall_time"].get<double>();
  }
  nlohmann::json rest = line;
  rest.erase(step_key);
  rest.erase("wall_time");
  FlattenNumbers(rest, "", step.scalars);
  return step;
}

absl::StatusOr<RunDirectory> RunDirectory::Create(const std::string& path,
                                                  const std::string& config_toml) {
  // An empty path would put the run into "/" (path + "/checkpoints").
  FEDREC_RETURN_IF_ERROR(CheckOutputDirectory(path, "--out"));
  std::error_code ec;
  if (fs::exists(path, ec) && !(fs::is_directory(path, ec) && fs::is_empty(path, ec))) {
    return absl::AlreadyExistsError(path +
                                    ": run directory exists and is not empty (use --resume to "
                                    "continue it, or choose another --out)");
  }
  fs::create_directories(path + "/checkpoints", ec);
  if (ec) return absl::FailedPreconditionError(path + ": cannot create: " + ec.message());
  RunDirectory dir(path);
  FEDREC_RETURN_IF_ERROR(WriteFileAtomic(path + "/config.toml", config_toml));
  FEDREC_RETURN_IF_ERROR(dir.OpenMetrics());
  FEDREC_RETURN_IF_ERROR(dir.OpenEvents());
  return dir;
}

absl::StatusOr<RunDirectory> RunDirectory::Reopen(const std::string& path) {
  FEDREC_RETURN_IF_ERROR(CheckOutputDirectory(path, "--out"));
  std::error_code ec;
  if (!fs::exists(path + "/config.toml", ec)) {
    return absl::NotFoundError(path + ": not a run directory (no config.toml) to resume");
  }
  fs::create_directories(path + "/checkpoints", ec);
  RunDirectory dir(path);
  FEDREC_RETURN_IF_ERROR(dir.OpenMetrics());
  FEDREC_RETURN_IF_ERROR(dir.OpenEvents());
  return dir;
}

RunDirectory::RunDirectory(RunDirectory&& other) noexcept
    : path_(std::move(other.path_)),
      metrics_(std::exchange(other.metrics_, nullptr)),
      events_(std::move(other.events_)) {}

RunDirectory::~RunDirectory() {
  if (metrics_ != nullptr) std::fclose(metrics_);
}

absl::Status RunDirectory::OpenMetrics() {
  metrics_ = std::fopen((path_ + "/metrics.jsonl").c_str(), "a");
  if (metrics_ == nullptr) {
    return absl::FailedPreconditionError(
        path_ + "/metrics.jsonl: cannot open for append: " + std::strerror(errno));
  }
  return absl::OkStatus();
}

absl::Status RunDirectory::OpenEvents() {
  std::error_code ec;
  std::optional<fs::path> newest;
  for (const auto& entry : fs::directory_iterator(path_ + "/tb", ec)) {
    if (IsEventFile(entry.path()) && (!newest || entry.path() > *newest)) newest = entry.path();
  }
  if (!newest) return RebuildEvents();
  FEDREC_ASSIGN_OR_RETURN(EventFileWriter writer, EventFileWriter::OpenForAppend(newest->string()));
  events_ = std::move(writer);
  return absl::OkStatus();
}

absl::Status RunDirectory::RebuildEvents() {
  const std::string tb = path_ + "/tb";
  std::error_code ec;
  fs::create_directories(tb, ec);
  if (ec) return absl::FailedPreconditionError(tb + ": cannot create: " + ec.message());
  const double now = UnixSeconds();
  std::string bytes = EncodeFileVersion(now);
  for (const nlohmann::json& line : ReadMetricsLines(path_ + "/metrics.jsonl")) {
    if (const auto step = ScalarsFromMetricsLine(line)) bytes += EncodeScalarStep(*step);
  }
  const fs::path file = fs::path(tb) / EventFileName(now);
  events_.reset();
  FEDREC_RETURN_IF_ERROR(WriteFileAtomic(file.string(), bytes));
  for (const auto& entry : fs::directory_iterator(tb, ec)) {
    if (IsEventFile(entry.path()) && entry.path() != file) fs::remove(entry.path(), ec);
  }
  FEDREC_ASSIGN_OR_RETURN(EventFileWriter writer, EventFileWriter::OpenForAppend(file.string()));
  events_ = std::move(writer);
  return absl::OkStatus();
}

std::optional<std::string> RunDirectory::LatestCheckpoint() const {
  const auto rounds = CheckpointRounds(CheckpointDir());
  if (rounds.empty()) return std::nullopt;
  return RoundFile(CheckpointDir(), rounds.back());
}

absl::Status RunDirectory::TruncateMetricsAfter(uint64_t round) {
  const std::string file = path_ + "/metrics.jsonl";
  std::ifstream in(file);
  std::string line, kept;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) break;  // a torn last line from a killed run
    const uint64_t r = j.value("round", j.value("epoch", uint64_t{0}));
    if (r <= round) kept += line + "\n";
  }
  in.close();
  if (metrics_ != nullptr) std::fclose(metrics_);
  metrics_ = nullptr;
  FEDREC_RETURN_IF_ERROR(WriteFileAtomic(file, kept));
  FEDREC_RETURN_IF_ERROR(OpenMetrics());
  return RebuildEvents();
}

absl::Status RunDirectory::AppendMetrics(const nlohmann::json& line) {
  nlohmann::json stamped = line;
  if (!stamped.contains("wall_time")) stamped["wall_time"] = UnixSeconds();
  const std::string text = stamped.dump() + "\n";
  errno = 0;
  if (std::fwrite(text.data(), 1, text.size(), metrics_) != text.size() ||
      std::fflush(metrics_) != 0) {
    return absl::FailedPreconditionError(path_ +
                                         "/metrics.jsonl: write failed: " + std::strerror(errno));
  }
  if (const auto step = ScalarsFromMetricsLine(stamped); step && events_) {
    FEDREC_RETURN_IF_ERROR(events_->Append(EncodeScalarStep(*step)));
  }
  return absl::OkStatus();
}

absl::Status RunDirectory::SyncMetrics() {
  errno = 0;
  if (std::fflush(metrics_) != 0 || ::fdatasync(::fileno(metrics_)) != 0) {
    return absl::FailedPreconditionError(path_ +
                                         "/metrics.jsonl: sync failed: " + std::strerror(errno));
  }
  return absl::OkStatus();
}

absl::Status RunDirectory::WriteSummary(const nlohmann::json& summary) {
  return WriteFileAtomic(path_ + "/summary.json", summary.dump(2) + "\n");
}

absl::Status RunDirectory::WriteRoundCheckpoint(uint64_t round, const Checkpoint& checkpoint,
                                                uint32_t keep) {
  // Every line up to this round is durable before the checkpoint is.
  FEDREC_RETURN_IF_ERROR(SyncMetrics());
  FEDREC_RETURN_IF_ERROR(WriteCheckpoint(RoundFile(CheckpointDir(), round), checkpoint));
  if (keep == 0) return absl::OkStatus();
  const auto rounds = CheckpointRounds(CheckpointDir());
  for (size_t i = 0; i + keep < rounds.size(); ++i) {
    std::error_code ec;
    const std::string file = RoundFile(CheckpointDir(), rounds[i]);
    fs::remove(file, ec);
    const std::string name = fs::path(file).filename().string();
    RemoveShards(CheckpointDir(), name.substr(0, name.size() - 4), std::nullopt);
  }
  return absl::OkStatus();
}

absl::Status RunDirectory::WriteBestCheckpoint(const Checkpoint& checkpoint) {
  FEDREC_RETURN_IF_ERROR(WriteCheckpoint(BestCheckpointPath(), checkpoint));
  RemoveShards(CheckpointDir(), "best.", checkpoint.round());
  return absl::OkStatus();
}

std::string RunDirectory::RoundCheckpointPath(uint64_t round) const {
  return RoundFile(CheckpointDir(), round);
}

}  // namespace fedrec
