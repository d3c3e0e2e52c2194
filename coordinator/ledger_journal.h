// The privacy ledger's write-ahead journal: RUN_DIR/privacy.journal.
//
// Why: a checkpoint holds the ledger as of its round, but a round's noisy
// result leaves the coordinator (the model broadcast to the workers, its
// validation metrics in metrics.jsonl, the event file) before the next
// checkpoint. A run killed in between is resumed from the older checkpoint
// and computes those rounds again; with noise from the CSPRNG that is a
// second, different release of each, and both must be paid for.
//
// Protocol: every released round appends one line
//   {"step": S, "round": R, "clip_norm": C, "cohort": N}
// (S = the ledger's step count after recording it) and fdatasyncs the file
// BEFORE anything computed from the release leaves the coordinator. On
// resume, the lines whose step exceeds the checkpoint ledger's step count are
// releases the checkpoint does not know: the coordinator adds them to the
// ledger as recomputed rounds (unless the noise is pinned, where the
// recomputation releases the same values again). Because those steps then
// exist in the ledger, later lines keep unique, increasing steps, and a
// second crash counts every line past its checkpoint exactly once.
//
// A torn last line (a kill inside the append, before its fdatasync returned)
// was never acknowledged, so nothing computed from that release left the
// process: it is dropped on open. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "privacy/ledger.h"

namespace fedrec {

struct JournalEntry {
  uint64_t step = 0;
  uint64_t round = 0;
  double clip_norm = 0;
  uint64_t cohort = 0;

  bool operator==(const JournalEntry&) const = default;
};

class LedgerJournal {
 public:
  // Opens (creating when missing) the journal at `path` and reads its
  // entries. DataLoss naming the file and line for a complete line that is
  // not a journal entry, or steps that do not increase.
  static absl::StatusOr<LedgerJournal> Open(const std::string& path);

  LedgerJournal(LedgerJournal&& other) noexcept;
  LedgerJournal& operator=(LedgerJournal&& other) noexcept;
  LedgerJournal(const LedgerJournal&) = delete;
  LedgerJournal& operator=(const LedgerJournal&) = delete;
  ~LedgerJournal();

  // The entries read at Open() and appended since, in file order.
  const std::vector<JournalEntry>& entries() const { return entries_; }
  // Entries with step > `steps` (what a checkpoint with that many steps
  // does not hold).
  std::vector<JournalEntry> After(uint64_t steps) const;
  // Appends and makes durable (write + fdatasync). The step must exceed
  // every earlier one.
  absl::Status Append(const JournalEntry& entry);
  // Keeps only the entries with step <= `steps` (atomic rewrite): for pinned
  // noise, whose recomputed rounds release the same values again.
  absl::Status KeepThrough(uint64_t steps);

  const std::string& path() const { return path_; }

 private:
  LedgerJournal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_ = -1;
  std::vector<JournalEntry> entries_;
};

// Brings `ledger`, restored from the checkpoint of `checkpoint_round` (0:
// none), up to what left the coordinator: the journal's releases past the
// ledger's steps are recorded as recomputed (their rounds run again). With
// pinned noise the recomputation releases the same values, so those lines
// are dropped from the journal instead, to be written again. DataLoss when
// the journal's steps do not continue the ledger's.
absl::Status AccountUncheckpointedReleases(LedgerJournal& journal, privacy::PrivacyLedger& ledger,
                                           bool noise_pinned, uint64_t checkpoint_round);

}  // namespace fedrec
