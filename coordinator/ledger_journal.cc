#include "coordinator/ledger_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/atomic_file.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace fedrec {
namespace {

absl::Status WriteAll(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::FailedPreconditionError(path + ": write failed: " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string Line(const JournalEntry& e) {
  const nlohmann::json j = {
      {"step", e.step}, {"round", e.round}, {"clip_norm", e.clip_norm}, {"cohort", e.cohort}};
  return j.dump() + "\n";
}

}  // namespace

absl::StatusOr<LedgerJournal> LedgerJournal::Open(const std::string& path) {
  std::string text;
  if (::access(path.c_str(), F_OK) == 0) {
    FEDREC_ASSIGN_OR_RETURN(text, ReadFileToString(path));
  }
  // Complete lines only: a torn tail was never acknowledged (see the header).
  const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  std::vector<JournalEntry> entries;
  size_t begin = 0;
  for (uint64_t line_no = 1; begin < complete; ++line_no) {
    const size_t end = text.find('\n', begin);
    const auto j = nlohmann::json::parse(text.substr(begin, end - begin), nullptr, false);
    begin = end + 1;
    JournalEntry e;
    const bool ok = j.is_object() && j.contains("step") && j["step"].is_number_unsigned() &&
                    j.contains("round") && j["round"].is_number_unsigned() &&
                    j.contains("clip_norm") && j["clip_norm"].is_number() && j.contains("cohort") &&
                    j["cohort"].is_number_unsigned();
    if (!ok) {
      return absl::DataLossError(fmt::format("{}:{}: not a privacy journal entry", path, line_no));
    }
    e.step = j["step"].get<uint64_t>();
    e.round = j["round"].get<uint64_t>();
    e.clip_norm = j["clip_norm"].get<double>();
    e.cohort = j["cohort"].get<uint64_t>();
    if (!entries.empty() && e.step <= entries.back().step) {
      return absl::DataLossError(fmt::format("{}:{}: step {} does not follow step {}", path,
                                             line_no, e.step, entries.back().step));
    }
    entries.push_back(e);
  }
  if (complete < text.size()) {
    // Drop the torn tail so that the next append starts a line of its own.
    FEDREC_RETURN_IF_ERROR(WriteFileAtomic(path, text.substr(0, complete)));
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(path + ": cannot open: " + std::strerror(errno));
  }
  LedgerJournal journal(path, fd);
  journal.entries_ = std::move(entries);
  return journal;
}

LedgerJournal::LedgerJournal(LedgerJournal&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      entries_(std::move(other.entries_)) {}

LedgerJournal& LedgerJournal::operator=(LedgerJournal&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    entries_ = std::move(other.entries_);
  }
  return *this;
}

LedgerJournal::~LedgerJournal() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<JournalEntry> LedgerJournal::After(uint64_t steps) const {
  std::vector<JournalEntry> out;
  for (const JournalEntry& e : entries_) {
    if (e.step > steps) out.push_back(e);
  }
  return out;
}

absl::Status LedgerJournal::KeepThrough(uint64_t steps) {
  std::vector<JournalEntry> kept;
  std::string text;
  for (const JournalEntry& e : entries_) {
    if (e.step > steps) continue;
    kept.push_back(e);
    text += Line(e);
  }
  FEDREC_RETURN_IF_ERROR(WriteFileAtomic(path_, text));
  // The old descriptor points at the replaced file.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(path_ + ": cannot open: " + std::strerror(errno));
  }
  ::close(std::exchange(fd_, fd));
  entries_ = std::move(kept);
  return absl::OkStatus();
}

absl::Status LedgerJournal::Append(const JournalEntry& entry) {
  if (!entries_.empty() && entry.step <= entries_.back().step) {
    return absl::InternalError(fmt::format("{}: step {} does not follow step {}", path_, entry.step,
                                           entries_.back().step));
  }
  FEDREC_RETURN_IF_ERROR(WriteAll(fd_, Line(entry), path_));
  if (::fdatasync(fd_) != 0) {
    return absl::FailedPreconditionError(path_ + ": fdatasync failed: " + std::strerror(errno));
  }
  entries_.push_back(entry);
  return absl::OkStatus();
}

absl::Status AccountUncheckpointedReleases(LedgerJournal& journal, privacy::PrivacyLedger& ledger,
                                           bool noise_pinned, uint64_t checkpoint_round) {
  const std::vector<JournalEntry> lost = journal.After(ledger.steps());
  if (lost.empty()) return absl::OkStatus();
  if (noise_pinned) {
    spdlog::info(
        "privacy: {} release(s) after the checkpoint of round {} are recomputed with the pinned "
        "noise (the same values): not counted again",
        lost.size(), checkpoint_round);
    return journal.KeepThrough(ledger.steps());
  }
  for (const JournalEntry& e : lost) {
    FEDREC_RETURN_IF_ERROR(ledger.RecordRecomputed(e.round, e.clip_norm, e.cohort));
  }
  if (ledger.steps() != lost.back().step) {
    return absl::DataLossError(fmt::format(
        "{}: its steps ({}..{}) do not continue the checkpoint's ledger ({} steps)", journal.path(),
        lost.front().step, lost.back().step, ledger.steps() - lost.size()));
  }
  FEDREC_ASSIGN_OR_RETURN(double spent, ledger.EpsilonNow());
  spdlog::warn(
      "privacy: rounds {}..{} were released after the checkpoint of round {} and are computed "
      "again with fresh noise; the ledger counts both releases ({} recomputed, {} steps, "
      "epsilon {:.4f})",
      lost.front().round, lost.back().round, checkpoint_round, lost.size(), ledger.steps(), spent);
  return absl::OkStatus();
}

}  // namespace fedrec
