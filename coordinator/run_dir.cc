#include "coordinator/run_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "core/csprng.h"
#include "core/isa.h"
#include "core/output_path.h"
#include "fmt/format.h"

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
      uint64_t round = 0;
      const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), round);
      // Not a checkpoint name of ours (also one too long for 64 bits).
      if (!digits.empty() && err == std::errc() && end == digits.data() + digits.size()) {
        rounds.push_back(round);
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

RunDirectory::CreationHook& CreationHookRef() {
  static RunDirectory::CreationHook hook;
  return hook;
}

absl::Status Step(std::string_view step) {
  const RunDirectory::CreationHook& hook = CreationHookRef();
  return hook ? hook(step) : absl::OkStatus();
}

absl::Status NotEmptyError(const std::string& path) {
  return absl::AlreadyExistsError(path +
                                  ": run directory exists and is not empty (use --resume to "
                                  "continue it, or choose another --out)");
}

// What a creation killed before config.toml was in place leaves in a
// pre-existing directory: the lock file, an empty checkpoints/, run.json and
// temp files of the atomic writes. Such a directory counts as empty.
bool HoldsOnlyCreationLeftovers(const std::string& path) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == ".lock" || name == "run.json" || name.starts_with("run.json.tmp.") ||
        name.starts_with("config.toml.tmp.")) {
      continue;
    }
    if (name == "checkpoints" && fs::is_directory(entry.path(), ec) &&
        fs::is_empty(entry.path(), ec)) {
      continue;
    }
    return false;
  }
  return !ec;
}

// Removes ".<base>.tmp-<host>-<pid>" siblings left by dead processes of this
// host; those of other hosts (a shared file system) are left alone.
void RemoveDeadTempSiblings(const fs::path& parent, const std::string& base) {
  std::string self = ThisProcessTag();
  const std::string host = self.substr(self.find(' ') + 1);
  const std::string prefix = "." + base + ".tmp-" + host + "-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    const long pid = std::strtol(digits.c_str(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
}

// rename(2) that never replaces an existing (even empty) directory.
absl::Status RenameNoReplace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno == EINVAL || errno == ENOSYS) {
    // A file system without RENAME_NOREPLACE: rename(2) still refuses a
    // non-empty target, and an empty one holds no run yet.
    if (::rename(from.c_str(), to.c_str()) == 0) return absl::OkStatus();
  }
  return absl::AlreadyExistsError(to.string() + ": " + std::strerror(errno));
}

void SyncDirectory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

std::string NewRunId() {
  uint8_t bytes[16];
  if (!SecureRandomBytes(bytes).ok()) {
    // The id only tells runs apart; without the CSPRNG, time and pid do.
    const uint64_t a =
        static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    const uint64_t b = static_cast<uint64_t>(::getpid());
    std::memcpy(bytes, &a, 8);
    std::memcpy(bytes + 8, &b, 8);
  }
  std::string hex;
  for (uint8_t b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

// The files of a new run, in `dir`: checkpoints/, run.json, then
// config.toml, whose presence marks the run as created. Returns the run id.
absl::StatusOr<std::string> FillNewRun(const std::string& dir, const std::string& config_toml) {
  std::error_code ec;
  fs::create_directories(dir + "/checkpoints", ec);
  if (ec)
    return absl::FailedPreconditionError(dir + "/checkpoints: cannot create: " + ec.message());
  FEDREC_RETURN_IF_ERROR(Step("checkpoints"));
  const std::string run_id = NewRunId();
  const nlohmann::json run = {{"run_id", run_id},
                              {"created_unix", static_cast<int64_t>(UnixSeconds())},
                              {"fedrec_version", FedrecVersion()},
                              {"build_isa", BuildIsaDescription()}};
  FEDREC_RETURN_IF_ERROR(WriteFileAtomic(dir + "/run.json", run.dump(2) + "\n"));
  FEDREC_RETURN_IF_ERROR(Step("run_json"));
  FEDREC_RETURN_IF_ERROR(WriteFileAtomic(dir + "/config.toml", config_toml));
  FEDREC_RETURN_IF_ERROR(Step("config"));
  return run_id;
}

// run.json's run id; empty when the directory predates run ids.
absl::StatusOr<std::string> ReadRunId(const std::string& dir) {
  const std::string file = dir + "/run.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::string();
  FEDREC_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(file));
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("run_id") || !j["run_id"].is_string()) {
    return absl::DataLossError(file + ": not a run identity (no \"run_id\" string)");
  }
  return j["run_id"].get<std::string>();
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

void RunDirectory::SetCreationHookForTesting(CreationHook hook) {
  CreationHookRef() = std::move(hook);
}

absl::StatusOr<RunDirectory> RunDirectory::Create(const std::string& path,
                                                  const std::string& config_toml) {
  // An empty path would put the run into "/" (path + "/checkpoints").
  FEDREC_RETURN_IF_ERROR(CheckOutputDirectory(path, "--out"));
  std::error_code ec;
  if (fs::exists(path, ec)) return CreateInPlace(path, config_toml);
  return CreateBySwap(path, config_toml);
}

absl::StatusOr<RunDirectory> RunDirectory::CreateInPlace(const std::string& path,
                                                         const std::string& config_toml) {
  std::error_code ec;
  if (!fs::is_directory(path, ec) || !HoldsOnlyCreationLeftovers(path)) {
    // Named before the lock: a finished run's directory is not "in use".
    if (const std::string holder = RunLock::Holder(path); !holder.empty()) {
      return absl::FailedPreconditionError(path + ": in use by another fedrec process (" + holder +
                                           "); wait for it to finish or stop it");
    }
    return NotEmptyError(path);
  }
  FEDREC_ASSIGN_OR_RETURN(RunLock lock, RunLock::Acquire(path, path));
  FEDREC_RETURN_IF_ERROR(Step("locked"));
  // Again under the lock: a racing creator may have filled it meanwhile.
  if (!HoldsOnlyCreationLeftovers(path)) return NotEmptyError(path);
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
      fs::remove(entry.path(), ec);
    }
  }
  RunDirectory dir(path, std::move(lock));
  FEDREC_ASSIGN_OR_RETURN(dir.run_id_, FillNewRun(path, config_toml));
  FEDREC_RETURN_IF_ERROR(dir.OpenMetrics());
  FEDREC_RETURN_IF_ERROR(dir.OpenEvents());
  return dir;
}

absl::StatusOr<RunDirectory> RunDirectory::CreateBySwap(const std::string& path,
                                                        const std::string& config_toml) {
  std::string name = path;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  const fs::path target(name);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return absl::FailedPreconditionError(path + ": cannot create: " + ec.message());
  const std::string base = target.filename().string();
  RemoveDeadTempSiblings(parent, base);
  std::string host = ThisProcessTag();
  host = host.substr(host.find(' ') + 1);
  const fs::path temp = parent / fmt::format(".{}.tmp-{}-{}", base, host, ::getpid());
  // A temp dir with this process's id is a dead process's: ids are reused.
  fs::remove_all(temp, ec);
  fs::create_directory(temp, ec);
  if (ec) return absl::FailedPreconditionError(path + ": cannot create: " + ec.message());
  // From here on a failure removes the temp dir; a kill leaves it for the
  // next Create to remove.
  auto fail = [&](absl::Status st) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    return st;
  };
  if (absl::Status st = Step("temp_dir"); !st.ok()) return fail(st);
  absl::StatusOr<RunLock> lock = RunLock::Acquire(temp.string(), path);
  if (!lock.ok()) return fail(lock.status());
  if (absl::Status st = Step("locked"); !st.ok()) return fail(st);
  absl::StatusOr<std::string> run_id = FillNewRun(temp.string(), config_toml);
  if (!run_id.ok()) return fail(run_id.status());
  if (absl::Status st = RenameNoReplace(temp, target); !st.ok()) {
    fail(st).IgnoreError();
    // Lost a race with another creator, or the directory appeared meanwhile.
    if (const std::string holder = RunLock::Holder(name); !holder.empty()) {
      return absl::FailedPreconditionError(path + ": in use by another fedrec process (" + holder +
                                           "); wait for it to finish or stop it");
    }
    return NotEmptyError(path);
  }
  SyncDirectory(parent);
  FEDREC_RETURN_IF_ERROR(Step("renamed"));
  RunDirectory dir(path, std::move(*lock));
  dir.run_id_ = std::move(*run_id);
  FEDREC_RETURN_IF_ERROR(dir.OpenMetrics());
  FEDREC_RETURN_IF_ERROR(dir.OpenEvents());
  return dir;
}

absl::StatusOr<RunDirectory> RunDirectory::Reopen(const std::string& path) {
  FEDREC_RETURN_IF_ERROR(CheckOutputDirectory(path, "--out"));
  std::error_code ec;
  const auto no_run = [&] {
    return absl::NotFoundError(path + ": not a run directory (no config.toml) to resume");
  };
  if (!fs::is_directory(path, ec)) return no_run();
  FEDREC_ASSIGN_OR_RETURN(RunLock lock, RunLock::Acquire(path, path));
  if (!fs::exists(path + "/config.toml", ec)) return no_run();
  fs::create_directories(path + "/checkpoints", ec);
  RunDirectory dir(path, std::move(lock));
  FEDREC_ASSIGN_OR_RETURN(dir.run_id_, ReadRunId(path));
  FEDREC_RETURN_IF_ERROR(dir.OpenMetrics());
  FEDREC_RETURN_IF_ERROR(dir.OpenEvents());
  return dir;
}

absl::Status RunDirectory::UpdateConfig(const std::string& config_toml) {
  return WriteFileAtomic(path_ + "/config.toml", config_toml);
}

Checkpoint RunDirectory::Stamped(const Checkpoint& checkpoint) const {
  Checkpoint stamped = checkpoint;
  if (stamped.run_id().empty()) stamped.set_run_id(run_id_);
  return stamped;
}

RunDirectory::RunDirectory(RunDirectory&& other) noexcept
    : path_(std::move(other.path_)),
      lock_(std::move(other.lock_)),
      run_id_(std::move(other.run_id_)),
      resume_changes_(std::move(other.resume_changes_)),
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

std::vector<uint64_t> RunDirectory::CheckpointRoundsOnDisk() const {
  return CheckpointRounds(CheckpointDir());
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

absl::Status RunDirectory::WriteSummary(nlohmann::json& summary) {
  if (!run_id_.empty()) summary["run_id"] = run_id_;
  summary["fedrec_version"] = FedrecVersion();
  summary["build_isa"] = BuildIsaDescription();
  if (!resume_changes_.empty()) {
    nlohmann::json changes = nlohmann::json::array();
    for (const ConfigDifference& d : resume_changes_) {
      changes.push_back({{"key", d.key}, {"before", d.before}, {"after", d.after}});
    }
    summary["resume_config_changes"] = changes;
  }
  return WriteFileAtomic(path_ + "/summary.json", summary.dump(2) + "\n");
}

absl::Status RunDirectory::WriteRoundCheckpoint(uint64_t round, const Checkpoint& checkpoint,
                                                uint32_t keep) {
  // Every line up to this round is durable before the checkpoint is.
  FEDREC_RETURN_IF_ERROR(SyncMetrics());
  FEDREC_RETURN_IF_ERROR(WriteCheckpoint(RoundFile(CheckpointDir(), round), Stamped(checkpoint)));
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
  FEDREC_RETURN_IF_ERROR(WriteCheckpoint(BestCheckpointPath(), Stamped(checkpoint)));
  RemoveShards(CheckpointDir(), "best.", checkpoint.round());
  return absl::OkStatus();
}

std::string RunDirectory::RoundCheckpointPath(uint64_t round) const {
  return RoundFile(CheckpointDir(), round);
}

}  // namespace fedrec
