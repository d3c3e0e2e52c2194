// Collective: the one seam between fedrec's algorithms and its transports.
//
// A Collective is one rank's handle on a group of `size()` ranks. Algorithms
// (aggregation/, worker/, coordinator/) hold a `Collective&` and never include
// a backend header; only comm/factory.cc and tests name a backend.
//
// Semantics, identical for every backend:
//   - AllreduceSum sums unsigned integers in place modulo 2^32 or 2^64
//     (wrapping, exact). Integer addition mod 2^b is associative and
//     commutative, so the result is bitwise identical for any number of ranks,
//     any backend and any reduction order: this is what keeps DESIGN.md's
//     "exact integer aggregation" invariant. Float reductions are deliberately
//     absent.
//   - Broadcast, Gather and Allgather move variable-length byte strings
//     (possibly empty). Gather returns all ranks' messages in rank order on
//     `root` and an empty vector elsewhere.
//   - Every rank passes the same span length to AllreduceSum and the same
//     root to Broadcast/Gather; a mismatch is a programming error whose
//     outcome is backend-defined (an error status or a hang), never silent
//     wrong data on the local backend, which checks lengths.
//
// Deadlines: set_timeout(t) bounds every wait of this rank for the other
// ranks. A rank that waits longer than t in a collective gets
// absl::DeadlineExceededError naming the operation and, where the backend can
// tell, the ranks that did not arrive (comm/deadline.h words it). The deadline
// runs per wait, from when this rank starts waiting: a peer that is slow to
// reach its first collective (still loading data) costs nothing until
// someone waits for it. After a deadline the group is broken: every later
// call on this rank returns the same error, so every rank unwinds.
//
// Thread safety: one Collective per rank, used by one thread at a time. All
// ranks must call the collectives in the same order (as in MPI). Errors are
// returned as absl::Status; after an error the group is in an undefined state
// and should be torn down (errors are session-fatal, not per-call).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedrec {

class Collective {
 public:
  virtual ~Collective() = default;

  // This rank's index in [0, size()).
  virtual int rank() const = 0;
  // Number of ranks in the group (>= 1).
  virtual int size() const = 0;

  // In place: data[i] = sum over ranks of data[i], modulo 2^32.
  virtual absl::Status AllreduceSum(std::span<uint32_t> data) = 0;
  // In place: data[i] = sum over ranks of data[i], modulo 2^64.
  virtual absl::Status AllreduceSum(std::span<uint64_t> data) = 0;

  // On return every rank's *bytes equals root's *bytes (any length).
  virtual absl::Status Broadcast(std::string* bytes, int root) = 0;

  // Root receives size() messages in rank order; other ranks get {}.
  virtual absl::StatusOr<std::vector<std::string>> Gather(const std::string& bytes, int root) = 0;

  // Every rank receives size() messages in rank order.
  virtual absl::StatusOr<std::vector<std::string>> Allgather(const std::string& bytes) = 0;

  // Returns once every rank has entered Barrier().
  virtual absl::Status Barrier() = 0;

  // "local", "mpi", ... for logs and summaries.
  virtual std::string backend_name() const = 0;

  // The longest this rank waits for the other ranks in one collective; zero
  // (the default) waits forever. Wrappers forward it to what they wrap.
  virtual void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  std::chrono::milliseconds timeout_{0};
};

}  // namespace fedrec
