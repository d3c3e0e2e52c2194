// Open MPI backend: one rank per process, launched by mpirun (DESIGN.md,
// use 1). Only comm/factory.cc and tests include this header.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comm/collective.h"

namespace fedrec {

// True when the process was started by mpirun/mpiexec or a PMI launcher
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK is set).
bool LaunchedUnderMpirun();

// The world size the launcher announced (OMPI_COMM_WORLD_SIZE or PMI_SIZE;
// under `srun --mpi=pmix`, SLURM_STEP_NUM_TASKS or SLURM_NTASKS), or 0 when it
// is not known without initialising MPI.
int MpirunWorldSize();

// This rank's index among the ranks on its node, from the launcher's
// environment (core/node_rank.h), or -1 when it does not say.
int MpirunLocalRank();

// Collective over a duplicate of an MPI communicator (MPI_COMM_WORLD by
// default), so fedrec's messages never mix with other users of the
// communicator. Errors on it are returned (MPI_ERRORS_RETURN) and converted to
// absl::InternalError carrying MPI_Error_string and file:line.
//
// AllreduceSum uses MPI_Iallreduce with MPI_UINT32_T/MPI_UINT64_T and
// MPI_SUM: unsigned addition wraps, so the sum is exact mod 2^b whatever
// reduction tree the MPI library picks. MPI counts are int, so spans go in
// chunks of at most max_chunk_elements (2^27 by default) elements; byte
// payloads likewise.
//
// Deadlines (collective.h): every collective is non-blocking (MPI_Iallreduce,
// MPI_Ibcast, MPI_Iallgather, MPI_Igatherv, MPI_Iallgatherv, MPI_Ibarrier)
// and waited for by polling MPI_Test: a short spin, then sleeps growing to
// 0.2 ms so that a waiting rank leaves the core to the ranks still computing,
// until it completes or the timeout passes. To name a rank that did not come,
// every rank > 0 announces each collective it enters to rank 0 with a small
// point-to-point message (its sequence number, on a tag of its own); rank 0
// reads those while it waits. On a timeout rank 0 says which ranks did not
// reach the collective; if all did, it pings every rank (ranks answer from
// their waits) and names those that do not answer within a second, as
// stopped inside the collective. Other ranks only know they waited. A timed-out request is
// abandoned (MPI cannot cancel a collective): fedrec's own buffers for it are kept, but the
// caller's (the span of AllreduceSum, the strings of Broadcast and Gather) may still be read or
// written by MPI, so the process is expected to end (comm/launch.cc calls MPI_Abort) rather than
// reuse them.
//
// Threading: MPI is initialised with MPI_THREAD_FUNNELED; all calls on an
// MpiCollective (including its destruction) must come from the thread that
// created it. Several may coexist (each on its own duplicate communicator);
// the one that initialised MPI must be destroyed last.
class MpiCollective final : public Collective {
 public:
  static constexpr size_t kDefaultMaxChunkElements = size_t{1} << 27;

  // Initialises MPI (MPI_Init_thread, FUNNELED) unless it already is, in
  // which case the provided thread level is checked and MPI is reused.
  // FailedPrecondition if MPI provides less than FUNNELED or was finalised.
  // InvalidArgument unless 1 <= max_chunk_elements <= 2^30.
  static absl::StatusOr<std::unique_ptr<MpiCollective>> Create(
      MPI_Comm comm = MPI_COMM_WORLD, size_t max_chunk_elements = kDefaultMaxChunkElements);

  // Frees the duplicated communicator; finalises MPI if Create initialised it.
  ~MpiCollective() override;
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::Status AllreduceSum(std::span<uint32_t> data) override;
  absl::Status AllreduceSum(std::span<uint64_t> data) override;
  absl::Status Broadcast(std::string* bytes, int root) override;
  absl::StatusOr<std::vector<std::string>> Gather(const std::string& bytes, int root) override;
  absl::StatusOr<std::vector<std::string>> Allgather(const std::string& bytes) override;
  absl::Status Barrier() override;
  std::string backend_name() const override { return "mpi"; }

  size_t max_chunk_elements() const { return max_chunk_; }

 private:
  // A rank's announcement to rank 0 that it entered collective `seq`; the
  // buffer must stay put until the send completes.
  struct ArrivalNote {
    uint64_t seq = 0;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  MpiCollective(MPI_Comm comm, int rank, int size, bool owns_mpi, size_t max_chunk);
  // Starts collective number ++seq_: the broken error, if any; else
  // announces it (ranks > 0) or reads the announcements so far (rank 0).
  absl::Status Begin();
  // Rank 0: records the arrival notes that have come, without blocking.
  absl::Status ReadArrivalNotes();
  // Ranks > 0: answers rank 0's "do you still run?" pings, without blocking.
  absl::Status AnswerPings();
  // Rank 0: pings every other rank and returns those that do not answer
  // within `wait` (ranks answer from their waits and collective starts).
  std::vector<int> RanksThatDoNotAnswer(std::chrono::milliseconds wait);
  struct CallBuffers;
  // Polls `request` until it completes or the timeout passes; then the
  // collective is broken, `io` is kept for the abandoned request, and the
  // DeadlineExceeded for `op` is returned.
  absl::Status Wait(MPI_Request* request, const char* op, std::shared_ptr<CallBuffers> io = {});
  // Completes the arrival notes in flight, for at most `bound`, before the
  // communicator is freed.
  void Quiesce(std::chrono::milliseconds bound);
  absl::Status AllreduceChunked(void* data, size_t count, size_t elem_size, MPI_Datatype type);
  absl::Status CheckRoot(int root, const char* op) const;
  // Gathers every rank's message length (on all ranks) into io's sizes and
  // displacements, sizes io->gathered for all messages, and checks that the
  // total fits MPI's int displacements, identically on every rank.
  absl::Status ExchangeSizes(const std::string& bytes, const char* op,
                             const std::shared_ptr<CallBuffers>& io);

  MPI_Comm comm_;
  int rank_;
  int size_;
  bool owns_mpi_;
  size_t max_chunk_;
  uint64_t seq_ = 0;                    // collectives started on comm_
  std::vector<uint64_t> reached_;       // rank 0: the last collective each rank announced
  std::list<ArrivalNote> notes_;        // ranks > 0: announcements in flight (stable addresses)
  std::vector<MPI_Request> abandoned_;  // requests a timeout left active
  std::vector<std::shared_ptr<CallBuffers>> kept_;  // ... and the buffers they use
  absl::Status broken_;                             // the first DeadlineExceeded; OK until then
};

}  // namespace fedrec
