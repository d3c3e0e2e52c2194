// In-process backend: N ranks in one process, one thread per rank, sharing
// memory. Used for local simulation (DESIGN.md, use 2) and as the reference
// backend in tests.
//
// How a collective runs: every rank publishes a pointer to its buffer in its
// own slot, then all ranks meet at a std::barrier; after the barrier each rank
// reads the other ranks' slots. A final barrier keeps every published buffer
// alive and unmodified until all ranks are done with it, so a slot is only
// rewritten once every reader of the previous collective has left.
//
// AllreduceSum splits the index range into size() contiguous slices; rank r
// sums slice r over ranks 0, 1, ..., size()-1 in that fixed order into a
// private buffer, all ranks meet, then rank r writes slice r into every rank's
// span, and all ranks meet again. The result never depends on thread timing.
#pragma once

#include <barrier>
#include <cstddef>
#include <cstdint>
#include <memory>
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

// Shared by all ranks of a group. Slot r is written only by rank r, and only
// between the final barrier of one collective and the first of the next.
struct SharedState {
  explicit SharedState(int n) : barrier(n), slots(n) {}
  std::barrier<> barrier;
  std::vector<Slot> slots;
};

}  // namespace local_collective_internal

// One rank of a LocalCollectiveGroup. Thread safety: as Collective (one
// thread per rank at a time, same call order on all ranks). If a rank stops
// calling collectives (an error, an early return) the others block forever in
// the next barrier, as ranks of an MPI job would.
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
  // Publishes `slot` as this rank's argument and waits for all ranks.
  void Publish(const local_collective_internal::Slot& slot);
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
