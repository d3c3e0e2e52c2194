// The one launch seam: how the ranks of a job come to exist.
//
// A job is `world_size` ranks calling the same function with their own
// Collective. How the ranks exist depends on the backend, and only this file
// (with factory.h) knows it:
//   local  every rank is a thread of this process (LocalCollectiveGroup);
//          RunRanks starts ranks 1..N-1 on threads, runs rank 0 on the
//          calling thread and joins them all.
//   mpi    every rank is a process started by mpirun; RunRanks runs this
//          process's one rank (world size and rank come from MPI).
//   nccl   the integer sums go through NCCL, one GPU per rank
//          (nccl_collective.h): under mpirun each process is one rank as
//          for mpi; otherwise every rank is a thread as for local, rank r
//          on CUDA device r. Refused (FailedPrecondition) before `prepare`
//          when the devices are too few; Unimplemented without NCCL.
// Algorithms above comm/ receive a `Collective&` and never include a backend
// header.
//
// Thread safety: RunRanks may be called from one thread at a time per
// process (MPI is initialised once per process).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comm/collective.h"

namespace fedrec {

struct LaunchPlan {
  std::string backend;     // "local" or "mpi": how ranks exist (resolved; never "auto")
  std::string collective;  // what AllreduceSum runs on: "local", "mpi" or "nccl"
  int world_size = 0;      // ranks in the job
  int process_rank = -1;   // mpi: the one rank this process runs; local: -1 (all)

  bool Hosts(int rank) const { return process_rank < 0 || process_rank == rank; }
};

// Starts the job backend.comm = `backend` asks for and runs it:
//   1. resolves the backend: "auto" is "mpi" when mpirun announced more than
//      one rank, else "local" with `local_world_size`
//      ranks; "mpi" joins the MPI world (its size is the world size);
//      "nccl" runs as described above; other names InvalidArgument;
//   2. calls `prepare(plan)` once in this process, before any rank starts
//      (shared, read-only state is built there; an error stops here);
//   3. runs `rank_main(comm)` on every rank this process hosts and returns
//      the first error: rank 0's if it failed, else the lowest failing rank's.
//      Under "mpi", a DeadlineExceeded from rank_main (a collective waited
//      past its timeout: collective.h) does not return: the rank prints
//      "fedrec: error: <message>" to stderr (unless the status is marked
//      ReportedByAnotherRank) and ends the whole job with MPI_Abort, since a
//      stalled rank would otherwise keep mpirun waiting forever. A worker
//      rank (rank > 0) whose error is ReportedByAnotherRank waits 2 s before
//      returning, so that rank 0 prints the reason first (mpirun ends the job
//      at the first non-zero exit: a worker exiting first could cut rank 0
//      off before its line).
// Under "local" a rank that returns early while others still wait in a
// collective would hang them (until their timeout, if set), as under MPI:
// rank_main must keep the collective sequence on every path (the round
// protocol does). rank_main sets each rank's timeout (comm.set_timeout,
// with TimeoutForRank from deadline.h).
absl::Status RunRanks(const std::string& backend, int local_world_size,
                      const std::function<absl::Status(const LaunchPlan& plan)>& prepare,
                      const std::function<absl::Status(Collective& comm)>& rank_main);

// True when mpirun (or a PMI launcher) started this process as one rank of a
// job of several, read from the launcher's environment without touching MPI.
bool LaunchedAsMpiJob();

// Ranks of this job on this machine (mpirun's local size; under srun the
// largest count of SLURM_STEP_TASKS_PER_NODE; 1 when unknown): threads per
// rank are the machine's cores divided by this.
int RanksOnThisNode();

// The largest count in Slurm's tasks-per-node list ("2(x3),1" -> 2); 0 when
// the list does not parse.
int MaxTasksPerNode(std::string_view tasks_per_node);

}  // namespace fedrec
