// The advisory lock that makes one process the only writer of a run
// directory: flock(LOCK_EX | LOCK_NB) on RUN_DIR/.lock, whose content names
// the holder ("<pid> <host>") for the message a second writer gets.
//
// Guarantees: held from Acquire until the object is destroyed or the process
// ends in any way (the kernel drops the lock with the descriptor, also on
// SIGKILL), so a killed run never leaves a stale lock; the file itself stays
// (removing it would let two processes lock two different files). The
// descriptor is close-on-exec. Under mpirun only rank 0 takes it: worker
// ranks write nothing but their own shard files into checkpoints/.
// Not thread-safe: one owner; movable.
#pragma once

#include <string>

#include "core/status.h"

namespace fedrec {

class RunLock {
 public:
  // Locks `dir`/.lock (creating it). FailedPrecondition when another open
  // of the file holds it: "<shown_as>: in use by another fedrec process (pid
  // P on host H); wait for it to finish or stop it". `shown_as` is the path
  // the user named (the lock of a run being created lives in a temp dir).
  static absl::StatusOr<RunLock> Acquire(const std::string& dir, const std::string& shown_as);

  // The holder named in `dir`/.lock when someone holds it, else empty.
  static std::string Holder(const std::string& dir);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// "<pid> <host>" of this process.
std::string ThisProcessTag();

}  // namespace fedrec
