#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include "core/timing.h"

namespace fedrec {
namespace {

TEST(ParallelFor, CoversEveryIndexOnceWithFixedChunks) {
  for (size_t threads : {1, 2, 3, 8}) {
    std::vector<std::atomic<int>> hits(1000);
    std::vector<std::pair<size_t, size_t>> chunks(NumChunks(1000, 64));
    ASSERT_TRUE(ParallelFor(1000, 64, threads, [&](size_t b, size_t e, size_t k) {
                  chunks[k] = {b, e};
                  for (size_t i = b; i < e; ++i) hits[i]++;
                  return absl::OkStatus();
                }).ok());
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    for (size_t k = 0; k < chunks.size(); ++k) {
      EXPECT_EQ(chunks[k].first, k * 64);
      EXPECT_EQ(chunks[k].second, std::min<size_t>(1000, (k + 1) * 64));
    }
  }
}

// The determinism recipe from the header: per-chunk partial sums reduced in
// chunk order give bitwise the same float result for any thread count.
TEST(ParallelFor, ChunkOrderedReductionIsThreadCountIndependent) {
  std::vector<float> values(10007);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 1.0f / static_cast<float>(i + 1);
  auto sum_with = [&](size_t threads) {
    std::vector<float> partial(NumChunks(values.size(), DefaultChunkSize(values.size())));
    EXPECT_TRUE(ParallelFor(values.size(), threads, [&](size_t b, size_t e, size_t k) {
                  float s = 0;
                  for (size_t i = b; i < e; ++i) s += values[i];
                  partial[k] = s;
                  return absl::OkStatus();
                }).ok());
    return std::accumulate(partial.begin(), partial.end(), 0.0f);
  };
  const float one = sum_with(1);
  for (size_t t : {2, 3, 7, 16}) EXPECT_EQ(sum_with(t), one);
}

TEST(ParallelFor, ReturnsFirstErrorInChunkOrder) {
  absl::Status s = ParallelFor(100, 10, 4, [](size_t b, size_t, size_t k) {
    if (k == 7) return absl::InternalError("seven");
    if (k == 3) return absl::InternalError("three");
    return absl::OkStatus();
  });
  EXPECT_EQ(std::string(s.message()), "three");
  EXPECT_EQ(ParallelFor(10, 0, 1, [](size_t, size_t, size_t) { return absl::OkStatus(); }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParallelFor(0, 4, [](size_t, size_t, size_t) {
                return absl::InternalError("never called");
              }).ok());
}

TEST(ParallelFor, WorkerIndexNamesTheThreadRunningTheChunk) {
  for (size_t threads : {1, 2, 4}) {
    const size_t n = 200, chunk = 3;
    const size_t workers = NumWorkers(n, chunk, threads);
    EXPECT_EQ(workers, std::min(threads, NumChunks(n, chunk)));
    // One slot per worker, touched only by its thread: no locking needed.
    std::vector<std::thread::id> owner(workers);
    std::vector<size_t> items(workers, 0);
    std::atomic<int> foreign{0};
    std::vector<std::atomic<int>> hits(n);
    ASSERT_TRUE(
        ParallelForWithWorker(n, chunk, threads, [&](size_t b, size_t e, size_t k, size_t w) {
          if (w >= workers || k != b / chunk) return absl::InternalError("bad indices");
          if (owner[w] == std::thread::id()) owner[w] = std::this_thread::get_id();
          if (owner[w] != std::this_thread::get_id()) foreign++;
          items[w] += e - b;
          for (size_t i = b; i < e; ++i) hits[i]++;
          return absl::OkStatus();
        }).ok());
    EXPECT_EQ(foreign.load(), 0);
    EXPECT_EQ(std::accumulate(items.begin(), items.end(), size_t{0}), n);
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    // Worker 0 is the calling thread.
    if (items[0] > 0) {
      EXPECT_EQ(owner[0], std::this_thread::get_id());
    }
  }
  EXPECT_EQ(NumWorkers(0, 4, 8), 0u);
  EXPECT_EQ(NumWorkers(5, 1, 8), 5u);
  EXPECT_EQ(ParallelForWithWorker(10, 0, 1,
                                  [](size_t, size_t, size_t, size_t) { return absl::OkStatus(); })
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParallelFor, ResolveThreads) {
  EXPECT_EQ(ResolveThreads(3), 3u);
  EXPECT_GE(ResolveThreads(0), 1u);
}

TEST(Timing, StopwatchAndScopedTimer) {
  double total = 0;
  {
    ScopedTimer t(&total);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(total, 0.015);
  EXPECT_LT(total, 5.0);
  const double first = total;
  { ScopedTimer t(&total); }
  EXPECT_GE(total, first);
  Stopwatch w;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(w.ElapsedMillis(), 4.0);
  w.Reset();
  EXPECT_LT(w.ElapsedSeconds(), 1.0);
}

}  // namespace
}  // namespace fedrec
