// In-process backend: N ranks in one process, one thread per rank, sharing
// memory. Used for local simulation (DESIGN.md, use 2) and as the reference
// backend in tests.
//
// How a collective runs: every rank publishes a pointer to its buffer in its
// own slot, then all ranks meet at a barrier (the entry); after the barrier
// each rank reads the other ranks' slots. A final barrier keeps every
// published buffer alive and unmodified until all ranks are done with it, so
// a slot is only rewritten once every reader of the previous collective has
// left.
//
// Deadlines (collective.h): only the entry barrier has one. Once every rank
// has entered, the rest of the collective is this process's own copying,
// bounded and certain to finish; and no rank may return while another could
// still read its buffer. A rank whose entry wait passes its timeout breaks
// the barrier: it, the ranks waiting with it and every later arrival get the
// same DeadlineExceeded, naming the ranks that had not entered.
//
// AllreduceSum splits the index range into size() contiguous slices; rank r
// sums slice r over ranks 0, 1, ..., size()-1 in that fixed order into a
// private buffer, all ranks meet, then rank r writes slice r into every rank's
// span, and all ranks meet again. The result never depends on thread timing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comm/collective.h"

namespace fedrec {

namespace local_collective_internal {

// One rank's published argument for the collective in flight.
struct Slot {
  void* data = nullptr;  // span data, std::string* or const std::string*
  size_t length = 0;     // span length (AllreduceSum)
  int root = -1;         // Broadcast / Gather
};

// A reusable barrier for `size` ranks whose wait may have a deadline.
// Arrivals are recorded per generation (one generation per meeting), so a
// wait that times out can name the ranks missing from its own generation.
// Thread-safe.
class DeadlineBarrier {
 public:
  explicit DeadlineBarrier(int size);

  // Arrives as `rank` and waits until every rank has arrived (OK). With
  // timeout > 0, a wait that lasts longer breaks the barrier: it returns
  // DeadlineExceeded naming `op` and the missing ranks, and so do the waits
  // in progress and every later call (the same error). Zero waits forever.
  absl::Status ArriveAndWait(int rank, std::chrono::milliseconds timeout, const char* op);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int size_;
  int arrived_ = 0;          // in the current generation
  uint64_t generation_ = 0;  // meetings completed
  // Per rank: 1 + the generation it last arrived in (0: never).
  std::vector<uint64_t> arrived_in_;
  absl::Status broken_;  // OK until a wait times out
};

// Shared by all ranks of a group. Slot r is written only by rank r, and only
// between the final barrier of one collective and the first of the next.
struct SharedState {
  explicit SharedState(int n) : barrier(n), slots(n) {}
  DeadlineBarrier barrier;
  std::vector<Slot> slots;
};

}  // namespace local_collective_internal

// One rank of a LocalCollectiveGroup. Thread safety: as Collective (one
// thread per rank at a time, same call order on all ranks). If a rank stops
// calling collectives (an error, an early return) the others wait in the
// next collective's entry for their timeout (collective.h) and then return
// DeadlineExceeded naming it; with no timeout (the default) they block
// forever, as ranks of an MPI job would.
class LocalCollective final : public Collective {
 public:
  LocalCollective(int rank, int size,
                  std::shared_ptr<local_collective_internal::SharedState> state);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::Status AllreduceSum(std::span<uint32_t> data) override;
  absl::Status AllreduceSum(std::span<uint64_t> data) override;
  absl::Status Broadcast(std::string* bytes, int root) override;
  absl::StatusOr<std::vector<std::string>> Gather(const std::string& bytes, int root) override;
  absl::StatusOr<std::vector<std::string>> Allgather(const std::string& bytes) override;
  absl::Status Barrier() override;
  std::string backend_name() const override { return "local"; }

 private:
  template <typename T>
  absl::Status AllreduceSumImpl(std::span<T> data);
  // Publishes `slot` as this rank's argument and waits for all ranks to
  // enter `op` (the deadline applies here).
  absl::Status Publish(const local_collective_internal::Slot& slot, const char* op);
  // A barrier inside a collective every rank has entered: no deadline.
  absl::Status Meet(const char* op);
  // InvalidArgument (on every rank alike) unless all ranks passed `root`.
  absl::Status CheckSameRoot(int root, const char* op) const;

  int rank_;
  int size_;
  std::shared_ptr<local_collective_internal::SharedState> state_;
};

// Creates and owns the N ranks of one in-process group. The group must
// outlive the threads that use its ranks. Not thread-safe itself; rank(r) may
// be handed to thread r.
class LocalCollectiveGroup {
 public:
  // InvalidArgument unless size >= 1.
  static absl::StatusOr<std::unique_ptr<LocalCollectiveGroup>> Create(int size);

  int size() const { return static_cast<int>(ranks_.size()); }
  // Rank r's Collective, 0 <= r < size().
  LocalCollective& rank(int r) { return *ranks_.at(static_cast<size_t>(r)); }

 private:
  explicit LocalCollectiveGroup(int size);
  std::vector<std::unique_ptr<LocalCollective>> ranks_;
};

}  // namespace fedrec
