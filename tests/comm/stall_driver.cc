// A job with a stalled rank, for tests/comm/stall_abort_test.sh: run under
// mpirun, every rank joins RunRanks("mpi") with the job's per-rank timeouts
// for 1 s (TimeoutForRank), meets once, then one rank stops itself with
// SIGSTOP, as a stalled process would, and the others wait in a barrier.
// The job must end (MPI_Abort from the rank that gave up, with one
// "fedrec: error:" line); this program returning at all is a failure.
//   stall_driver           the last rank stalls before the barrier (rank 0
//                          names it)
//   stall_driver inside    the last rank stalls inside an allreduce, after
//                          announcing it (rank 0 names it as the one that
//                          does not answer)
//   stall_driver rank0     rank 0 stalls (the workers say they waited)
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "comm/deadline.h"
#include "comm/launch.h"
#include "comm/mpi_collective.h"
#include "core/status.h"

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const bool rank0_stalls = mode == "rank0";
  const absl::Status status = fedrec::RunRanks(
      "mpi", 0, [](const fedrec::LaunchPlan&) { return absl::OkStatus(); },
      [&](fedrec::Collective& comm) -> absl::Status {
        comm.set_timeout(fedrec::TimeoutForRank(std::chrono::milliseconds(1000), comm.rank()));
        // Everything the allreduce needs is made before the barrier, so that
        // after it a rank enters the collective at once, however loaded the
        // machine (paging in 32 MB took longer than the stop's delay once).
        std::unique_ptr<fedrec::MpiCollective> chunked;
        std::vector<uint32_t> words;
        if (mode == "inside") {
          FEDREC_ASSIGN_OR_RETURN(chunked, fedrec::MpiCollective::Create(MPI_COMM_WORLD, 100));
          chunked->set_timeout(comm.timeout());
          words.assign(size_t{1} << 23, 1);
        }
        FEDREC_RETURN_IF_ERROR(comm.Barrier());
        const int stalled = rank0_stalls ? 0 : comm.size() - 1;
        if (mode == "inside") {
          // An allreduce of 2^23 words in 100-element chunks, one MPI call
          // each, takes far longer than 200 ms: the stop lands between two
          // chunks, after the rank announced the collective, and the next
          // chunk never comes. (200 ms, not less: on a loaded machine the
          // rank may not have entered the collective after 50 ms.)
          if (comm.rank() == stalled) {
            std::thread([] {  // no MPI on this thread
              std::this_thread::sleep_for(std::chrono::milliseconds(200));
              std::raise(SIGSTOP);
            })
                .detach();
          }
          return chunked->AllreduceSum(std::span<uint32_t>(words));
        }
        if (comm.rank() == stalled) std::raise(SIGSTOP);
        return comm.Barrier();
      });
  std::fprintf(stderr, "stall_driver: RunRanks returned: %s\n", status.ToString().c_str());
  return 3;
}
