#include "core/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "fmt/format.h"

namespace fedrec {
namespace {

// The one bar currently drawn on a terminal, so that log lines can be
// written above it. Every terminal write of a bar goes through `mu`.
struct TerminalLine {
  std::mutex mu;
  const void* owner = nullptr;  // the ProgressReporter that drew `line`
  std::FILE* stream = nullptr;
  std::string line;
};

TerminalLine& Terminal() {
  static TerminalLine terminal;
  return terminal;
}

// \r: back to column 0; ESC[K: clear the rest of the line.
constexpr const char* kClearLine = "\r\x1b[K";

}  // namespace

void WriteAboveProgress(std::FILE* stream, std::string_view text) {
  TerminalLine& t = Terminal();
  std::lock_guard lock(t.mu);
  const bool bar = t.owner != nullptr && t.stream == stream;
  if (bar) std::fputs(kClearLine, stream);
  std::fwrite(text.data(), 1, text.size(), stream);
  if (bar) std::fputs(t.line.c_str(), stream);
  std::fflush(stream);
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<uint64_t>(seconds + 0.5);
  return fmt::format("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60);
}

std::string FormatCount(double value) {
  if (!std::isfinite(value)) return "?";
  if (value < 1000) return fmt::format("{:.0f}", value);
  if (value < 1e6) return fmt::format("{:.1f}k", value / 1e3);
  if (value < 1e9) return fmt::format("{:.1f}M", value / 1e6);
  return fmt::format("{:.1f}G", value / 1e9);
}

ProgressReporter::ProgressReporter(std::string label, uint64_t total, ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      options_(options),
      out_(options.out != nullptr ? options.out : stderr),
      start_(Clock::now()) {
  tty_ = options_.tty == -1 ? ::isatty(::fileno(out_)) == 1 : options_.tty == 1;
  to_logger_ = !tty_ && options.out == nullptr;
}

ProgressReporter::~ProgressReporter() { Finish(); }

int64_t ProgressReporter::NowNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_).count();
}

void ProgressReporter::Advance(uint64_t n) {
  const uint64_t done = done_.fetch_add(n, std::memory_order_relaxed) + n;
  if (options_.quiet || finished_.load(std::memory_order_relaxed)) return;
  const int64_t now = NowNanos();
  if (now < std::chrono::nanoseconds(options_.delay).count()) return;
  const int64_t last = last_emit_ns_.load(std::memory_order_relaxed);
  if (tty_) {
    if (now - last < std::chrono::nanoseconds(options_.tty_interval).count()) return;
    std::unique_lock lock(draw_mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;  // someone else is drawing
    last_emit_ns_.store(now, std::memory_order_relaxed);
    Emit(done_.load(std::memory_order_relaxed), false);
    return;
  }
  // Plain lines: a new decile, or the line interval has passed.
  const uint64_t decile = total_ > 0 ? std::min<uint64_t>(10, done * 10 / total_) : 0;
  const bool new_decile = decile > last_decile_.load(std::memory_order_relaxed);
  const bool interval_passed =
      now - last >= std::chrono::nanoseconds(options_.line_interval).count();
  if (!new_decile && !interval_passed) return;
  std::lock_guard lock(draw_mu_);
  // Re-check under the lock so that each decile is reported once.
  const uint64_t current = done_.load(std::memory_order_relaxed);
  const uint64_t current_decile = total_ > 0 ? std::min<uint64_t>(10, current * 10 / total_) : 0;
  const bool report_decile = current_decile > last_decile_.load(std::memory_order_relaxed);
  const bool report_time = NowNanos() - last_emit_ns_.load(std::memory_order_relaxed) >=
                           std::chrono::nanoseconds(options_.line_interval).count();
  if (!report_decile && !report_time) return;
  if (current_decile == 10 || (total_ > 0 && current >= total_)) {
    // 100% is reported by Finish().
    if (!report_time) return;
  }
  last_decile_.store(current_decile, std::memory_order_relaxed);
  last_emit_ns_.store(NowNanos(), std::memory_order_relaxed);
  Emit(current, false);
}

void ProgressReporter::SetNote(std::string note) {
  std::lock_guard lock(draw_mu_);
  note_ = std::move(note);
}

void ProgressReporter::Finish() {
  if (finished_.exchange(true)) return;
  if (options_.quiet) return;
  if (!shown_.load(std::memory_order_relaxed) &&
      NowNanos() < std::chrono::nanoseconds(options_.delay).count()) {
    return;
  }
  std::lock_guard lock(draw_mu_);
  Emit(done_.load(std::memory_order_relaxed), true);
}

std::string ProgressReporter::StatusText(uint64_t done, double elapsed_s) const {
  const double rate = elapsed_s > 0 ? done / elapsed_s : 0.0;
  std::string text;
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(done) / total_);
    text = fmt::format("{}/{} ({:.0f}%)", done, total_, frac * 100);
  } else {
    text = fmt::format("{}", done);
  }
  text += fmt::format(" {}/s", FormatCount(rate));
  if (total_ > 0 && done < total_ && rate > 0) {
    text += " eta " + FormatDuration((total_ - done) / rate);
  }
  if (!note_.empty()) text += "  " + note_;
  return text;
}

void ProgressReporter::Emit(uint64_t done, bool final_line) {
  shown_.store(true, std::memory_order_relaxed);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  std::string line;
  if (final_line) {
    const double rate = elapsed > 0 ? done / elapsed : 0.0;
    line = fmt::format("{}: done {} in {} ({}/s)", label_, done, FormatDuration(elapsed),
                       FormatCount(rate));
    if (total_ > 0 && done != total_) line += fmt::format(" [expected {}]", total_);
    if (!note_.empty()) line += "  " + note_;
  } else if (tty_ && total_ > 0) {
    constexpr int kWidth = 20;
    const double frac = std::min(1.0, static_cast<double>(done) / total_);
    const int filled = static_cast<int>(frac * kWidth);
    line = fmt::format("{} [{}{}] {}", label_, std::string(filled, '#'),
                       std::string(kWidth - filled, '.'), StatusText(done, elapsed));
  } else {
    line = fmt::format("{}: {}", label_, StatusText(done, elapsed));
  }
  if (tty_) {
    TerminalLine& t = Terminal();
    std::lock_guard lock(t.mu);
    std::fputs(kClearLine, out_);
    std::fputs(line.c_str(), out_);
    if (final_line) {
      std::fputc('\n', out_);
      if (t.owner == this) t.owner = nullptr;
    } else {
      t.owner = this;
      t.stream = out_;
      t.line = std::move(line);
    }
    std::fflush(out_);
  } else if (to_logger_) {
    spdlog::info("{}", line);
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }
}

}  // namespace fedrec
