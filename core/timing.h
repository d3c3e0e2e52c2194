// Wall-clock timing on std::chrono::steady_clock (monotonic; not affected by
// system clock changes). Used for the timings in summary.json and benchmarks.
#pragma once

#include <chrono>

namespace fedrec {

// Measures elapsed time since construction or the last Reset().
// Not thread-safe (one per thread), cheap to copy.
class Stopwatch {
 public:
  using Clock = std::chrono::steady_clock;

  Stopwatch() : start_(Clock::now()) {}
  void Reset() { start_ = Clock::now(); }
  Clock::duration Elapsed() const { return Clock::now() - start_; }
  double ElapsedSeconds() const { return std::chrono::duration<double>(Elapsed()).count(); }
  double ElapsedMillis() const {
    return std::chrono::duration<double, std::milli>(Elapsed()).count();
  }

 private:
  Clock::time_point start_;
};

// Adds the seconds between construction and destruction to *accumulator:
//   double train_seconds = 0;
//   { ScopedTimer t(&train_seconds); Train(); }
// `accumulator` must outlive the timer. Not thread-safe on the accumulator:
// use one accumulator per thread and sum them afterwards.
class ScopedTimer {
 public:
  explicit ScopedTimer(double* accumulator) : accumulator_(accumulator) {}
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;
  ~ScopedTimer() {
    if (accumulator_ != nullptr) *accumulator_ += watch_.ElapsedSeconds();
  }

 private:
  double* accumulator_;
  Stopwatch watch_;
};

}  // namespace fedrec
