#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

namespace fedrec {

size_t ResolveThreads(size_t threads) {
  if (threads != 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

size_t NumWorkers(size_t n, size_t chunk_size, size_t threads) {
  return std::min(ResolveThreads(threads), NumChunks(n, chunk_size));
}

absl::Status ParallelForWithWorker(size_t n, size_t chunk_size, size_t threads,
                                   const WorkerChunkFn& fn) {
  if (chunk_size == 0) return absl::InvalidArgumentError("ParallelFor: chunk_size must be > 0");
  const size_t chunks = NumChunks(n, chunk_size);
  if (chunks == 0) return absl::OkStatus();
  const size_t workers = NumWorkers(n, chunk_size, threads);

  std::vector<absl::Status> results(chunks);
  std::atomic<size_t> next{0};
  auto drain = [&](size_t worker) {
    for (size_t k = next.fetch_add(1); k < chunks; k = next.fetch_add(1)) {
      const size_t begin = k * chunk_size;
      const size_t end = std::min(n, begin + chunk_size);
      results[k] = fn(begin, end, k, worker);
    }
  };
  {
    std::vector<std::jthread> pool;
    pool.reserve(workers - 1);
    for (size_t t = 1; t < workers; ++t) {
      // A thread the system cannot start (EAGAIN under a process limit) is
      // not an error: the started ones drain every chunk, and the results do
      // not depend on how many ran.
      try {
        pool.emplace_back(drain, t);
      } catch (const std::system_error&) {
        break;
      }
    }
    drain(0);
  }  // jthreads join here
  for (absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ParallelFor(size_t n, size_t chunk_size, size_t threads, const ChunkFn& fn) {
  return ParallelForWithWorker(n, chunk_size, threads,
                               [&fn](size_t begin, size_t end, size_t chunk_index, size_t) {
                                 return fn(begin, end, chunk_index);
                               });
}

absl::Status ParallelFor(size_t n, size_t threads, const ChunkFn& fn) {
  return ParallelFor(n, DefaultChunkSize(n), threads, fn);
}

}  // namespace fedrec
