#include "coordinator/resume.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/atomic_file.h"
#include "core/isa.h"
#include "core/sha256.h"
#include "data/item_features.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace fedrec {
namespace {

namespace fs = std::filesystem;

std::string Short(const std::string& hex) { return hex.size() > 16 ? hex.substr(0, 16) : hex; }

std::string FileName(const std::string& path) { return fs::path(path).filename().string(); }

// Why `key` may not change from `ran` to `now` on resume; empty when it may.
std::string WhyNotChangeable(const std::string& key, const Config& ran, const Config& now) {
  const auto& safe = ResumeSafeKeys();
  if (std::find(safe.begin(), safe.end(), key) == safe.end()) {
    return "it changes what the rounds compute";
  }
  const PrivacyConfig& p = ran.privacy;
  const bool dp = p.mode != "none";
  // The noise of every round is a function of these two keys when sigma was
  // calibrated to the target over the rounds, or when distributed DP
  // chooses its noise shares from them.
  const bool noise_depends =
      dp && (p.noise_multiplier == 0 || (p.mode == "distributed" && p.min_clients == 0));
  if ((key == "federation.rounds" || key == "privacy.target_epsilon") && noise_depends) {
    return "the run's noise was derived from privacy.target_epsilon and federation.rounds "
           "(privacy.noise_multiplier = 0, or distributed DP with privacy.min_clients = 0), so "
           "changing either would change the noise mid-run";
  }
  if (key == "privacy.target_epsilon") {
    const auto& before = ran.privacy.target_epsilon;
    const auto& after = now.privacy.target_epsilon;
    if (!before || !after || *after < *before) {
      return "the privacy budget may only be raised on resume, never lowered, set or removed";
    }
  }
  return "";
}

absl::Status CheckIdentity(const std::string& path, uint64_t name_round, const Checkpoint& ckpt,
                           const RunDirectory& dir, const Dataset& data) {
  if (ckpt.round() != name_round) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: holds round {} but its name says round {}: not this run's checkpoint; remove it to "
        "resume from the one before",
        path, ckpt.round(), name_round));
  }
  if (!dir.run_id().empty() && ckpt.run_id() != dir.run_id()) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: belongs to another run (run id {}, this run's is {} in run.json); remove it to "
        "resume from the one before",
        path, ckpt.run_id().empty() ? std::string("none") : ckpt.run_id(), dir.run_id()));
  }
  const std::string& recorded = ckpt.dataset().sha256_hex();
  if (!recorded.empty() && !data.source_sha256.empty() && recorded != data.source_sha256) {
    return absl::FailedPreconditionError(fmt::format(
        "data.path: {} has changed since {} was written (SHA-256 {}... then, {}... now); "
        "resume with the run's own data, or start a new run",
        ckpt.dataset().source_path(), FileName(path), Short(recorded), Short(data.source_sha256)));
  }
  const std::string& features = ckpt.dataset().item_features_sha256();
  const std::string now = data.item_features != nullptr ? data.item_features->sha256 : "";
  if (features != now) {
    return absl::FailedPreconditionError(fmt::format(
        "data.item_features: {} {} since {} was written (SHA-256 {} then, {} now); resume with "
        "the run's own item features, or start a new run",
        features.empty() ? data.item_features->path : ckpt.dataset().item_features_path(),
        features.empty() ? "was not read"
        : now.empty()    ? "is no longer read"
                         : "has changed",
        FileName(path), features.empty() ? "none" : Short(features) + "...",
        now.empty() ? "none" : Short(now) + "..."));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& ResumeSafeKeys() {
  static const std::vector<std::string> keys = {
      "federation.rounds", "train.epochs",          "eval.every",   "checkpoint.every",
      "checkpoint.keep",   "backend.threads",       "backend.comm", "federation.workers",
      "data.path",         "privacy.target_epsilon"};
  return keys;
}

std::string TrainingConfigDigest(const Config& config) {
  return ToHex(Sha256Of(CanonicalConfigText(config, ResumeSafeKeys())));
}

absl::StatusOr<std::vector<ConfigDifference>> CheckResumeConfig(const Config& ran,
                                                                const Config& now,
                                                                const std::string& where) {
  std::vector<ConfigDifference> diff = DiffConfigs(ran, now);
  for (const ConfigDifference& d : diff) {
    const std::string why = WhyNotChangeable(d.key, ran, now);
    if (why.empty()) continue;
    return absl::InvalidArgumentError(fmt::format(
        "train --resume: {} = {} differs from the run's {} ({}): {}; keys that may change on "
        "resume: {}",
        d.key, d.after, d.before, where, why, fmt::join(ResumeSafeKeys(), ", ")));
  }
  return diff;
}

absl::StatusOr<std::optional<ResumePoint>> PrepareResume(RunDirectory& dir, const Config& config,
                                                         const Dataset& data) {
  std::optional<ResumePoint> point;
  const std::vector<uint64_t> rounds = dir.CheckpointRoundsOnDisk();
  std::string damaged;  // the newest damaged file set aside, for the message
  for (auto it = rounds.rbegin(); it != rounds.rend() && !point; ++it) {
    const std::string path = dir.RoundCheckpointPath(*it);
    absl::StatusOr<Checkpoint> ckpt = ReadCheckpoint(path);
    if (!ckpt.ok() && (absl::IsDataLoss(ckpt.status()) || absl::IsInvalidArgument(ckpt.status()))) {
      // Kept for inspection under another name, so neither this resume nor
      // checkpoint rotation takes it for a checkpoint again.
      std::error_code ec;
      fs::rename(path, path + ".damaged", ec);
      spdlog::warn("resume: damaged checkpoint: {}; set aside as {}.damaged",
                   std::string(ckpt.status().message()), FileName(path));
      if (damaged.empty()) damaged = path;
      continue;
    }
    if (!ckpt.ok()) return ckpt.status();
    FEDREC_RETURN_IF_ERROR(CheckIdentity(path, *it, *ckpt, dir, data));
    if (!ckpt->build_isa().empty() && ckpt->build_isa() != BuildIsaDescription()) {
      spdlog::warn(
          "resume: {} was written by a {} build and this is a {} build: the resumed run will be "
          "close to, not bitwise equal to, an uninterrupted run of either",
          FileName(path), ckpt->build_isa(), BuildIsaDescription());
    }
    point = ResumePoint{.path = path, .checkpoint = std::move(*ckpt)};
  }
  if (!damaged.empty()) {
    spdlog::warn(
        "resume: falling back from damaged {} to {}; later rounds are recomputed",
        FileName(damaged),
        point ? fmt::format("{} (round {})", FileName(point->path), point->checkpoint.round())
              : std::string("the start of the run (no intact checkpoint)"));
  }

  // The configuration the run last ran under: its checkpoint's, else the
  // stored one (a run killed before its first checkpoint).
  Config ran;
  std::string where;
  if (point && !point->checkpoint.config_toml().empty()) {
    where = FileName(point->path);
    FEDREC_ASSIGN_OR_RETURN(ran, ParseConfig(point->checkpoint.config_toml(), where));
  } else {
    where = dir.path() + "/config.toml";
    FEDREC_ASSIGN_OR_RETURN(ran, LoadConfig(where));
  }
  FEDREC_ASSIGN_OR_RETURN(std::vector<ConfigDifference> changes,
                          CheckResumeConfig(ran, config, where));
  if (!changes.empty()) {
    for (const ConfigDifference& d : changes) {
      if (d.key == "privacy.target_epsilon") {
        spdlog::warn("resume: privacy.target_epsilon raised from {} to {}: the run may spend more",
                     d.before, d.after);
      } else {
        spdlog::info("resume: {} changed from {} to {}", d.key, d.before, d.after);
      }
    }
    FEDREC_RETURN_IF_ERROR(dir.UpdateConfig(ToToml(config)));
    dir.NoteResumeChanges(std::move(changes));
  }
  return point;
}

absl::StatusOr<proto::RoundCommand> WorkersRestoreCommand(
    const std::string& path, const Checkpoint& ckpt, const std::string& best_path,
    uint64_t best_round, const ParameterStore& global, bool has_local_params) {
  proto::RoundCommand cmd;
  cmd.set_has_global_params(true);
  cmd.set_global_params(reinterpret_cast<const char*>(global.Flat().data()),
                        global.Flat().size_bytes());
  proto::RestoreCommand* r = cmd.mutable_restore();
  if (!has_local_params) return cmd;
  if (ckpt.local_shards_size() == 0) {
    return absl::DataLossError(path + ": lists no local shards for the model's local parameters");
  }
  r->set_checkpoint_path(path);
  r->set_round(ckpt.round());
  *r->mutable_shards() = ckpt.local_shards();
  if (best_round > 0) {
    FEDREC_ASSIGN_OR_RETURN(Checkpoint best, ReadCheckpoint(best_path));
    r->set_best_checkpoint_path(best_path);
    r->set_best_round(best.round());
    *r->mutable_best_shards() = best.local_shards();
  }
  return cmd;
}

}  // namespace fedrec
