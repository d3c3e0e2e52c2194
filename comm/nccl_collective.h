// NCCL backend: the integer sums of a round go through NCCL on the ranks'
// GPUs; the byte collectives (control messages, gathers) stay on a control
// Collective (MPI under mpirun, the local threads backend in one process).
// Only comm/factory.cc, comm/launch.cc, tests and benchmarks include this
// header; it includes no CUDA or NCCL header. Built only when the CUDA
// toolkit and NCCL are found (FEDREC_HAVE_NCCL, cmake/FedrecDependencies.cmake).
//
// Exactness: AllreduceSum uses ncclUint32 / ncclUint64 with ncclSum. NCCL's
// unsigned sums wrap mod 2^b exactly like MPI's and the local backend's, so
// the result is bitwise identical to theirs for any rank count and any ring
// or tree NCCL picks (collective.h).
//
// One GPU per rank: rank r uses the CUDA device it is given (comm/launch.cc
// passes the node-local rank under mpirun and the rank itself in a local
// run). NCCL refuses two ranks of one communicator on one device, so a rank
// whose device index is not visible is refused before NCCL starts: every
// rank learns through the control collective which ranks lack a GPU and
// returns the same FailedPrecondition, so none is left waiting.
//
// Host spans are staged through one device buffer owned by the collective
// (grown to the largest span seen) on a stream of its own; the *OnDevice
// entry points reduce words already on the device, in place, with no copy.
//
// Deadlines (collective.h): the NCCL communicator is non-blocking
// (ncclConfig_t.blocking = 0), and every wait (communicator set-up, each
// reduction) polls ncclCommGetAsyncError and the stream: a short spin, then
// sleeps growing to 0.2 ms, until it completes or timeout() passes. A timeout
// aborts the communicator (ncclCommAbort) and breaks the collective: this and
// every later call return the same DeadlineExceeded, as under MPI, and the
// process is expected to end (comm/launch.cc does). NCCL cannot say which
// rank is missing; the control collective's own deadlines still name late
// ranks for the byte collectives.
//
// Thread safety: one NcclCollective per rank, used by one thread at a time
// (each call selects the collective's device on the calling thread first).
#pragma once

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

// The number of CUDA devices this process sees: 0 (not an error) when the
// machine has no GPU or no driver; InternalError for other CUDA failures.
absl::StatusOr<int> VisibleCudaDeviceCount();

class NcclCollective final : public Collective {
 public:
  // Every rank of `control`'s group calls this together (it runs collectives
  // on `control`). Rank r uses CUDA device `device`. `control` must outlive
  // the result; Create takes ownership of it when it is given as unique_ptr.
  //   FailedPrecondition: some rank has no visible device of its index (the
  //     message names every such rank and what its node sees);
  //   InternalError: a CUDA or NCCL failure (call, reason, file:line);
  //   DeadlineExceeded: the NCCL set-up did not finish within
  //     control.timeout() (zero waits forever).
  static absl::StatusOr<std::unique_ptr<NcclCollective>> Create(Collective& control, int device);
  static absl::StatusOr<std::unique_ptr<NcclCollective>> Create(std::unique_ptr<Collective> control,
                                                                int device);

  // Destroys the NCCL communicator (aborted if broken), the stream and the
  // staging buffer; then the owned control collective, if any.
  ~NcclCollective() override;
  NcclCollective(const NcclCollective&) = delete;
  NcclCollective& operator=(const NcclCollective&) = delete;

  int rank() const override { return control_->rank(); }
  int size() const override { return control_->size(); }
  // Host words: copied to the device, summed by NCCL, copied back.
  absl::Status AllreduceSum(std::span<uint32_t> data) override;
  absl::Status AllreduceSum(std::span<uint64_t> data) override;
  // Device words (cudaMalloc'd on this collective's device), summed in place
  // on this collective's stream. The caller's writes to them must be
  // complete (e.g. on the same device, synchronised); on return the sum is.
  absl::Status AllreduceSumOnDevice(uint32_t* device_words, size_t count);
  absl::Status AllreduceSumOnDevice(uint64_t* device_words, size_t count);

  absl::Status Broadcast(std::string* bytes, int root) override;
  absl::StatusOr<std::vector<std::string>> Gather(const std::string& bytes, int root) override;
  absl::StatusOr<std::vector<std::string>> Allgather(const std::string& bytes) override;
  absl::Status Barrier() override;
  std::string backend_name() const override { return "nccl"; }
  // Also sets the control collective's timeout.
  void set_timeout(std::chrono::milliseconds timeout) override;

  int device() const;
  // The linked NCCL library's version, "2.28.9".
  static std::string NcclVersion();

 private:
  struct State;  // CUDA / NCCL handles (nccl_collective.cc)
  NcclCollective(Collective* control, std::unique_ptr<Collective> owned,
                 std::unique_ptr<State> state);
  absl::Status Reduce(void* device_words, size_t count, bool wide, const char* op);

  Collective* control_;
  std::unique_ptr<Collective> owned_control_;
  std::unique_ptr<State> state_;
};

}  // namespace fedrec
