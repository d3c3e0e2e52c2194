// A tiny fork-join parallel loop on std::jthread.
//
// Determinism: ParallelFor splits [0, n) into chunks whose boundaries depend
// only on n and chunk_size, never on the number of threads. Chunk k is
// [k * chunk_size, min(n, (k + 1) * chunk_size)) and is processed exactly once,
// by some thread, with chunk_index = k. A caller that needs a result
// independent of the thread count gives each chunk its own output slot
// (indexed by chunk_index) and reduces the slots in chunk order afterwards;
// which thread ran which chunk does not matter then. That is how central
// mini-batch training reduces per-chunk gradient buffers (DESIGN.md).
//
// Per-thread state: ParallelForWithWorker also passes the index of the
// thread running the chunk, so that a caller can keep reusable scratch (a
// buffer, a model replica) per thread without locking. Which thread runs
// which chunk varies from run to run, so results must not depend on it.
//
// Errors: `fn` returns absl::Status; the first error in chunk order is
// returned (all chunks still run to completion or until they fail; no
// cancellation). Exceptions must not escape `fn`.
#pragma once

#include <cstddef>
#include <functional>

#include "core/status.h"

namespace fedrec {

// fn(begin, end, chunk_index) for each chunk.
using ChunkFn = std::function<absl::Status(size_t begin, size_t end, size_t chunk_index)>;

// The most threads any thread count (backend.threads, federation.workers,
// --threads) may ask for: far above any useful count on one machine, and
// low enough that a typo (100000) is refused with a message instead of
// failing in thread creation.
inline constexpr size_t kMaxThreads = 1024;

// Number of threads to use for a requested count: 0 means all hardware
// threads (std::thread::hardware_concurrency(), at least 1).
size_t ResolveThreads(size_t threads);

// Number of chunks ParallelFor uses for n items and a chunk size (> 0).
inline size_t NumChunks(size_t n, size_t chunk_size) {
  return chunk_size == 0 ? 0 : (n + chunk_size - 1) / chunk_size;
}

// fn(begin, end, chunk_index, worker) for each chunk; worker is in
// [0, NumWorkers(...)) and 0 is the calling thread.
using WorkerChunkFn =
    std::function<absl::Status(size_t begin, size_t end, size_t chunk_index, size_t worker)>;

// Number of threads ParallelFor runs on for n items, a chunk size (> 0) and a
// requested thread count: min(ResolveThreads(threads), NumChunks(n, chunk_size)).
size_t NumWorkers(size_t n, size_t chunk_size, size_t threads);

// Runs fn over [0, n) in chunks of `chunk_size` items (the last may be
// shorter), on min(ResolveThreads(threads), NumChunks) threads, the calling
// thread included. Chunks are handed out dynamically (an atomic counter), so
// uneven chunks balance; they are handed out in increasing index order, so a
// caller that maps indices to its own work items can put the largest first.
// Returns InvalidArgument for chunk_size == 0.
absl::Status ParallelFor(size_t n, size_t chunk_size, size_t threads, const ChunkFn& fn);
// As ParallelFor, also telling fn which thread runs the chunk. A thread that
// finds no chunk left never calls fn, so per-thread state is best set up on
// the thread's first call.
absl::Status ParallelForWithWorker(size_t n, size_t chunk_size, size_t threads,
                                   const WorkerChunkFn& fn);

// Default chunking: chunk_size = DefaultChunkSize(n) = ceil(n / kDefaultChunks)
// (at least 1), so at most kDefaultChunks chunks, and the boundaries again
// depend only on n, never on the thread count.
inline constexpr size_t kDefaultChunks = 256;
inline size_t DefaultChunkSize(size_t n) {
  const size_t c = (n + kDefaultChunks - 1) / kDefaultChunks;
  return c == 0 ? 1 : c;
}
absl::Status ParallelFor(size_t n, size_t threads, const ChunkFn& fn);

}  // namespace fedrec
