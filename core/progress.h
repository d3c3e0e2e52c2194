// Progress reporting for long loops (epochs, rounds, data loading).
//
// On a terminal (isatty on the output) it draws ONE line, redrawn in place at
// most every `tty_interval` (default 100 ms, ~10 times a second):
//   train [##########..........]  50%  500/1000  1.2k/s  eta 0:00:04
// Otherwise (a log file, a pipe, CI) it writes plain lines, one each time the
// progress crosses another 10% and, between those, at most one every
// `line_interval` (default 5 s):
//   train: 500/1000 (50%) 1.2k/s eta 0:00:04
// Finish() writes the final state ("train: done 1000 in 0:00:08 (125/s)").
// SetNote() appends a short text to every later line (e.g. the latest
// validation metric).
//
// Log lines and the bar share the terminal: while a bar is drawn on a stream,
// WriteAboveProgress() (which the stderr log sink uses) clears the bar, writes
// the line and redraws the bar below it, so neither garbles the other. At
// most one bar is drawn at a time: the one that drew last.
//
// Thread safety: Advance() may be called from many threads at once (the count
// is an atomic; drawing is serialised by a mutex that Advance() only
// try-locks on the terminal path, so workers never wait on the terminal).
// Finish() must be called once, after all Advance() calls; the destructor
// calls it if it was not called.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace fedrec {

struct ProgressOptions {
  // Where to draw. nullptr = stderr; the non-terminal lines then go through
  // the spdlog default logger (so they carry its timestamps), while an
  // explicit FILE* receives the bare lines.
  std::FILE* out = nullptr;
  // Disables all output.
  bool quiet = false;
  // -1: detect with isatty(); 0: force plain lines; 1: force terminal mode.
  int tty = -1;
  std::chrono::milliseconds tty_interval{100};
  std::chrono::milliseconds line_interval{5000};
  // Nothing is shown before this much time has passed, and work that
  // finishes sooner prints nothing at all (not even its "done" line): for
  // steps that are usually quick (loading, evaluation) and only sometimes long.
  std::chrono::milliseconds delay{0};
};

class ProgressReporter {
 public:
  // total == 0 means unknown: no percentage, bar or ETA is shown.
  ProgressReporter(std::string label, uint64_t total, ProgressOptions options = {});
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  void Advance(uint64_t n = 1);
  // Replaces the note shown after the rate and ETA; empty removes it.
  void SetNote(std::string note);
  void Finish();

  uint64_t done() const { return done_.load(std::memory_order_relaxed); }
  bool is_tty() const { return tty_; }

 private:
  using Clock = std::chrono::steady_clock;
  int64_t NowNanos() const;
  void Emit(uint64_t done, bool final_line);  // caller holds draw_mu_
  std::string StatusText(uint64_t done, double elapsed_s) const;

  const std::string label_;
  const uint64_t total_;
  const ProgressOptions options_;
  std::FILE* out_;
  bool tty_ = false;
  bool to_logger_ = false;
  const Clock::time_point start_;

  std::atomic<uint64_t> done_{0};
  std::atomic<int64_t> last_emit_ns_{0};  // since start_
  std::atomic<uint64_t> last_decile_{0};  // deciles already reported (plain mode)
  std::atomic<bool> finished_{false};
  std::atomic<bool> shown_{false};  // something was written
  std::mutex draw_mu_;
  std::string note_;  // guarded by draw_mu_
};

// Writes `text` (one or more complete lines) to `stream`; if a progress bar
// is drawn on that stream, clears it first and redraws it after. Thread-safe.
void WriteAboveProgress(std::FILE* stream, std::string_view text);

// "H:MM:SS" for a duration in seconds (negative or non-finite -> "?").
std::string FormatDuration(double seconds);
// 999, 1.2k, 3.4M, ... for rates and counts.
std::string FormatCount(double value);

}  // namespace fedrec
